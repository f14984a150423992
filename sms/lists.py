"""Lists of names that fit one SMS: as many as the segment holds, then "+N more".

WHO lists the members who have not answered, a passed-on text names the
facilitators, an ambiguous TO lists the people it may mean. The list is fitted to
the message as the person will get it: with the opt-out footer when it is their
first SMS, in their language, whatever the other values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from service.domain.segments import GSM7_SINGLE, measure
from service.models import Person
from service.models.enums import Encoding, Language
from sms.texts import SmsTexts

MORE = "who_more"  # "+{count} more", after the names that fit


def first_name(name: str) -> str:
    words = name.split()
    return words[0] if words else name


def fits(body: str) -> bool:
    size = measure(body)
    return size.encoding is Encoding.gsm7 and size.units <= GSM7_SINGLE


def fit_names(
    texts: SmsTexts,
    template: str,
    person: Person,
    params: Mapping[str, object],
    names: Sequence[str],
    *,
    timezone: str,
) -> str:
    """`names` joined, cut to what lets `template` (rendered for `person`) stay one
    segment; what is left out is counted at the end. Never fewer than one name when
    one fits, never an empty list when there are names: "+12 more" at worst."""
    footer = person.told_how_to_stop_at is None
    language: Language = person.language

    def listed(shown: int) -> str:
        text = ", ".join(names[:shown])
        if shown < len(names):
            more = texts.render(MORE, language, {"count": len(names) - shown}, timezone=timezone)
            text = f"{text} {more}" if text else more
        return text

    def body(shown: int) -> str:
        values = {**params, "names": listed(shown)}
        return texts.render(template, language, values, timezone=timezone, footer=footer)

    # Longest first would render a long list many times; the list grows one name at a time.
    shown = 0
    while shown < len(names) and fits(body(shown + 1)):
        shown += 1
    return listed(shown)
