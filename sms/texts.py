"""The SMS copline sends, in the person's language, from the TOML files in `templates/`.

Translators edit `templates/{en,sw,rw,fr,ny}.toml`, one file per `Language`.
`SmsTexts.load()` refuses to start when a language misses a text or has one too
many, a text's {placeholders} are not exactly the ones listed in `PLACEHOLDERS`,
or any fixed text (words, day and month names) is not GSM-7: one character
outside GSM-7 turns an SMS into UCS-2 and roughly doubles its cost.

Values come from the outbox as JSON:

- `*_at`: an ISO-8601 instant (UTC); shown in the programme's time zone, in the
  language's short form from `[date]` ("Tue 24 Nov 14:00", "mar 24 nov 14h00").
- `*_time`: an ISO-8601 instant (UTC) shown as the time of day only, in the
  programme's time zone, in the language's `[date] time` form ("07:00", "07h00").
- `modality`: a `Modality` value, shown in the language's words from `[modality]`.
- `codes`: a list of meeting codes; the first `MAX_CODES` are shown.
- `venue`, `reason`: may be empty (or null); the text then comes from the variant
  `<template>_no_<value>` (a reminder with no venue says the modality instead).
- everything else as text. Values are made GSM-7 (`service.gsm7.to_gsm7`: "ê"
  becomes "e", "Ç" stays), their whitespace collapsed to single spaces, and the
  free texts below cut to a maximum (septets), so every message fits one SMS:

| value       | max | why                                                    |
|-------------|-----|--------------------------------------------------------|
| `community` | 30  | enough to tell a person's communities apart            |
| `venue`     | 30  | a school or centre name; the person knows the place    |
| `programme` | 30  | shown in stop/start/help replies                       |
| `reason`    | 40  | why a meeting is cancelled, a short phrase             |
| `survey`    | 40  | the survey's title                                     |
| `name`      | 30  | a person's name, as a facilitator or teacher knows it  |
| `first_name`| 15  | the name to write after TO                             |
| `who`       | 30  | the name or number a facilitator wrote after TO        |

`names` is a list of names its caller fits to one segment (`sms.lists`), and
`text` is a person's own words (a teacher's question, a facilitator's answer): never
cut, so those messages may take more than one segment; their frame, with the longest
names, leaves `TEXT_ROOM` septets for the words in one segment.

Codes are never cut (4 or 5 digits, `service.domain.meetings`); counts are numbers.

The meeting's toolkit activity (`activity`, with the optional `activity_page` and
`activity_link`) takes the room the rest of the message leaves: its title is cut
to what fits in one segment (with the footer when there is one), never below
`ACTIVITY_MIN` septets; the page ("p.12", the `[activity] page` text) always stays,
a link only when it fits whole beside that shortest title (a cut link leads nowhere).
When not even that fits (the longest community, venue and the footer), a template in
`FALLBACKS` is sent instead (the reminder without its activity): one segment always.
Its texts live in the `[activity]` table of each language file.
With these maxima, the longest date and a 5-digit code, every text fits one
segment in every language, with the opt-out footer too except the templates in
`FOOTER_MAY_NEED_TWO_SEGMENTS` (tests/sms/test_texts.py checks both).

`render(..., footer=True)` appends the `footer` text (how to opt out), which a
person's first message carries.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service.gsm7 import is_gsm7, septets, to_gsm7, truncate
from service.models.enums import Language, Modality
from sms import digest

FOLDER = Path(__file__).parent / "templates"

LIMITS: Mapping[str, int] = {
    "community": 30,
    "venue": 30,
    "programme": 30,
    "reason": 40,
    "survey": 40,
    "name": 30,
    "first_name": 15,
    "who": 30,
}
TEXT_ROOM = 40  # septets a template framing a person's `text` leaves them in one segment
MAX_CODES = 5  # `which_meeting` lists at most this many codes
SEGMENT = 160  # GSM-7 septets in one SMS
ACTIVITY_MIN = 12  # the activity title is never cut shorter than this (septets)

_MEETING = frozenset({"community", "starts_at", "code"})

# A join request, its answer and a facilitator's invitation (the [membership] table):
# `name` is a person's, `ussd` the programme's service code to dial.
_MEMBERSHIP_TEXTS: Mapping[str, tuple[str, ...]] = {
    "join_request": ("name", "community", "ussd"),
    "join_approved": ("community", "programme"),
    "join_declined": ("community",),
    "invited": ("name", "community", "ussd"),
}

# Every text in a language file and exactly the placeholders it must use.
PLACEHOLDERS: Mapping[str, frozenset[str]] = {
    "reminder": _MEETING | {"venue"},
    "reminder_no_venue": _MEETING | {"modality"},
    "moved": _MEETING | {"old_starts_at", "venue"},
    "moved_no_venue": _MEETING | {"old_starts_at", "modality"},
    "cancelled": _MEETING | {"reason"},
    "cancelled_no_reason": _MEETING,
    "rsvp_yes": _MEETING,
    "rsvp_no": _MEETING,
    "checked_in": frozenset({"community"}),
    "checked_in_remote": frozenset({"community"}),
    "stopped": frozenset({"programme"}),
    "started": frozenset({"programme"}),
    "sign_in_code": frozenset({"programme", "code"}),
    "help": frozenset({"programme"}),
    "unknown": frozenset(),
    "unknown_code": frozenset({"code"}),
    "which_meeting": frozenset({"codes"}),
    "no_meeting": frozenset(),
    "meeting_closed": frozenset({"code"}),
    "checkin_not_open": frozenset({"code", "starts_at"}),
    "not_facilitator": frozenset({"code"}),
    # What became of the members' SMS after a facilitator's REMIND or CANCEL: out
    # now (sent, done), held by quiet hours until a time, dropped, or nobody to text.
    "remind_sent": frozenset({"code", "count"}),
    "remind_held": frozenset({"code", "count", "send_time"}),
    "remind_dropped": frozenset({"code"}),
    "remind_nobody": frozenset({"code"}),
    "reminded_recently": frozenset({"code"}),
    "cancel_done": frozenset({"code", "count"}),
    "cancel_held": frozenset({"code", "count", "send_time"}),
    "cancel_dropped": frozenset({"code"}),
    "cancel_nobody": frozenset({"code"}),
    "survey_invite": frozenset({"survey", "questions"}),
    # One question per SMS: the question comes from the survey, these frame it.
    "survey_hint_choice": frozenset(),
    "survey_hint_yes_no": frozenset(),
    "survey_hint_rating": frozenset(),
    "survey_hint_number": frozenset(),
    "survey_hint_text": frozenset(),
    "survey_reask": frozenset(),
    "survey_done": frozenset(),
    "footer": frozenset(),
    # [activity]: the meeting's toolkit activity in the 48-hour reminder, and the
    # facilitators' "prepare" SMS; `page` frames the toolkit page number ("p.12").
    "reminder_activity": _MEETING | {"venue", "activity"},
    "reminder_activity_no_venue": _MEETING | {"modality", "activity"},
    "prepare": _MEETING | {"activity"},
    "page": frozenset({"page"}),
    # [membership]: join requests, their answers and invitations by number.
    **{key: frozenset(names) for key, names in _MEMBERSHIP_TEXTS.items()},
}
# A template to fall back on when its activity has no room (a 30-character community
# and venue and the opt-out footer leave too little): the opt-out line must go out.
FALLBACKS: Mapping[str, str] = {"reminder_activity": "reminder"}
# Texts only `render` uses, to build another (not templates a caller names).
_PARTS = frozenset({"footer", "page"})
# The value that takes whatever room the rest of the message leaves.
FLEXIBLE = "activity"

# Tables appended after [text] by later work, each with its texts' placeholders. A
# template's name is unique across tables: callers render it by name alone.
APPENDED: Mapping[str, Mapping[str, frozenset[str]]] = {
    # A facilitator's MSG, WHO and TO, and teachers' texts passed on (sms.commands,
    # sms.forwarding). {text} is a person's own words, sent whole.
    "conversation": {
        "msg_sent": frozenset({"code", "count"}),
        "msg_held": frozenset({"code", "count", "send_time"}),
        "msg_nobody": frozenset({"code"}),
        "msg_usage": frozenset(),
        "who": frozenset({"code", "yes", "no", "waiting", "present", "names"}),
        "who_all": frozenset({"code", "yes", "no", "present"}),
        "who_more": frozenset({"count"}),
        "who_usage": frozenset(),
        "forwarded": frozenset({"name", "community", "text", "first_name"}),
        "forward_passed": frozenset({"names"}),
        "forward_already": frozenset({"names"}),
        "forward_nobody": frozenset(),
        "forward_later": frozenset(),
        "to_message": frozenset({"name", "text"}),
        "to_sent": frozenset({"name"}),
        "to_ambiguous": frozenset({"names"}),
        "to_unknown": frozenset({"who"}),
        "to_cannot": frozenset({"name"}),
        "to_usage": frozenset(),
    },
    # The quick-reply buttons of a WhatsApp reminder (sms.whatsapp_sender) and of a
    # yes-or-no survey question (sms.surveys).
    "whatsapp": {
        "button_yes": frozenset(),
        "button_no": frozenset(),
        "option_yes": frozenset(),
        "option_no": frozenset(),
        "whatsapp_stopped": frozenset({"programme"}),
    },
    # Replies to WHATSAPP (or WA) and SMS, the channel a person chose (sms.reach_replies).
    "reach": {
        "reach_whatsapp": frozenset(),
        "reach_sms": frozenset(),
    },
}
_ALL: Mapping[str, frozenset[str]] = {
    **PLACEHOLDERS,
    **{key: names for table in APPENDED.values() for key, names in table.items()},
}

# Templates whose wording changes when an optional value is empty: (value, variant).
VARIANTS: Mapping[str, tuple[str, str]] = {
    "reminder": ("venue", "reminder_no_venue"),
    "moved": ("venue", "moved_no_venue"),
    "cancelled": ("reason", "cancelled_no_reason"),
    "reminder_activity": ("venue", "reminder_activity_no_venue"),
}
_OPTIONAL = frozenset(value for value, _ in VARIANTS.values())

# What a caller can render, and the values each needs (both variants' values).
TEMPLATES: Mapping[str, frozenset[str]] = {
    key: _ALL[key] | (_ALL[VARIANTS[key][1]] if key in VARIANTS else frozenset())
    for key in _ALL
    if key not in _PARTS and key not in {variant for _, variant in VARIANTS.values()}
}

# Two dates, a venue and two codes leave no room for the opt-out line. A person's
# first message is a reminder or a reply to them, so a move is very rarely the one
# that carries it; with the footer it may take two segments.
FOOTER_MAY_NEED_TWO_SEGMENTS: Mapping[str, str] = {
    "moved": "two dates, a venue and two codes: no room left for the opt-out line",
    "forwarded": "a teacher's own words, two names and a community fill the segment",
}

DATE_FIELDS = frozenset({"weekday", "day", "month", "hour", "minute"})
TIME_FIELDS = frozenset({"hour", "minute"})
# Tables of templates: one per piece of work, so translators see what belongs together.
TEXT_SECTIONS = ("text", "activity", "membership", *APPENDED)
# The digest is built from pieces (`sms.digest`), not one template: a table of its own.
_SECTIONS_IN_ORDER = ("date", "modality", *TEXT_SECTIONS, "digest")
_SECTIONS = frozenset(_SECTIONS_IN_ORDER)


class CatalogueError(Exception):
    """A language file is missing, malformed or does not match the others."""


class RenderError(ValueError):
    """A message cannot be rendered from the values given."""


@dataclass(frozen=True)
class _Language:
    texts: Mapping[str, str]
    weekdays: tuple[str, ...]
    months: tuple[str, ...]
    date_format: str
    time_format: str
    modalities: Mapping[Modality, str]
    digest: Mapping[str, str]


def _placeholders(text: str) -> set[str]:
    """The {names} in a text; raises ValueError on a stray '{' or '}' or a {name:format}."""
    names = set()
    for _, field, spec, conversion in string.Formatter().parse(text):
        if field is None:
            continue
        if spec or conversion:
            raise ValueError(f"write {{{field}}} without a format or conversion")
        names.add(field)
    return names


def _fill(text: str, values: Mapping[str, str]) -> str:
    """`text` with its placeholders replaced; "Nyamirambo Ma." + "." keeps one full stop."""
    out: list[str] = []
    for literal, field, _, _ in string.Formatter().parse(text):
        if out and out[-1].endswith(".") and literal.startswith("."):
            literal = literal[1:]
        out.append(literal)
        if field is not None:
            out.append(values[field])
    return "".join(out)


def _check_text(where: str, text: object, expected: frozenset[str] | None) -> list[str]:
    if not isinstance(text, str):
        return [f"{where} is not text"]
    problems = []
    if not is_gsm7(text):
        bad = "".join(sorted({ch for ch in text if not is_gsm7(ch)}))
        problems.append(f"{where} has characters outside GSM-7: {bad!r}")
    if expected is None:
        return problems
    try:
        found = _placeholders(text)
    except ValueError as error:
        return [*problems, f"{where} is not a valid template: {error}"]
    for name in sorted(found - expected):
        problems.append(f"{where} has an unknown placeholder {{{name}}}")
    for name in sorted(expected - found):
        problems.append(f"{where} misses the placeholder {{{name}}}")
    return problems


def _check_names(where: str, names: object, count: int) -> list[str]:
    if not isinstance(names, list) or len(names) != count:
        return [f"{where} must be a list of {count} names"]
    return [problem for name in names for problem in _check_text(where, name, None)]


def _problems(lang: Language, tree: Mapping[str, Any]) -> list[str]:
    found = [f"{lang}: unknown section [{name}]" for name in sorted(tree.keys() - _SECTIONS)]
    sections: list[dict[str, Any]] = []
    for name in _SECTIONS_IN_ORDER:
        section = tree.get(name, {})
        if not isinstance(section, dict):
            found.append(f"{lang}: [{name}] must be a table")
            section = {}
        sections.append(section)
    date, modality, *tables, digest_texts = sections
    texts: dict[str, Any] = {}
    where: dict[str, str] = {}
    for section, table in zip(TEXT_SECTIONS, tables, strict=True):
        for key, value in table.items():
            if key in texts:
                found.append(f"{lang}: {section}.{key} is also in [{where[key]}]")
            texts[key], where[key] = value, section
    found += _check_names(f"{lang}: date.weekdays", date.get("weekdays"), 7)
    found += _check_names(f"{lang}: date.months", date.get("months"), 12)
    found += _check_text(f"{lang}: date.format", date.get("format"), DATE_FIELDS)
    found += _check_text(f"{lang}: date.time", date.get("time"), TIME_FIELDS)
    for key in sorted({m.value for m in Modality} - modality.keys()):
        found.append(f"{lang}: missing modality.{key}")
    for key in sorted(modality.keys() - {m.value for m in Modality}):
        found.append(f"{lang}: modality.{key} is not a modality")
    for key, value in modality.items():
        found += _check_text(f"{lang}: modality.{key}", value, None)
    for key in sorted(_ALL.keys() - texts.keys()):
        found.append(f"{lang}: missing {_home(key)}.{key}")
    for key in sorted(texts.keys() - _ALL.keys()):
        found.append(f"{lang}: {where[key]}.{key} is not a known template")
    for key, value in texts.items():
        if key in _ALL:
            found += _check_text(f"{lang}: {where[key]}.{key}", value, _ALL[key])
    for key in sorted(digest.PLACEHOLDERS.keys() - digest_texts.keys()):
        found.append(f"{lang}: missing digest.{key}")
    for key in sorted(digest_texts.keys() - digest.PLACEHOLDERS.keys()):
        found.append(f"{lang}: digest.{key} is not a known text")
    for key, value in digest_texts.items():
        if key in digest.PLACEHOLDERS:
            found += _check_text(f"{lang}: digest.{key}", value, digest.PLACEHOLDERS[key])
    return found


def _home(key: str) -> str:
    """The table a text belongs in."""
    if key in _ACTIVITY_TEXTS:
        return "activity"
    if key in _MEMBERSHIP_TEXTS:
        return "membership"
    return next((name for name, table in APPENDED.items() if key in table), "text")


_ACTIVITY_TEXTS = frozenset({"reminder_activity", "reminder_activity_no_venue", "prepare", "page"})


def _read(folder: Path, lang: Language) -> dict[str, Any]:
    path = folder / f"{lang.value}.toml"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise CatalogueError(f"cannot read the SMS texts {path}: {error}") from error


class SmsTexts:
    def __init__(self, languages: Mapping[Language, _Language]) -> None:
        self._languages = languages

    @classmethod
    def load(cls, folder: Path | None = None) -> SmsTexts:
        """The catalogue in `folder`; copline's own (the default) is read once per process,
        as its files change only with a release."""
        return _shipped() if folder is None else cls._read_all(folder)

    @classmethod
    def _read_all(cls, folder: Path) -> SmsTexts:
        trees = {lang: _read(folder, lang) for lang in Language}
        problems = [problem for lang, tree in trees.items() for problem in _problems(lang, tree)]
        if problems:
            raise CatalogueError(
                f"the SMS texts in {folder} are incomplete:\n  " + "\n  ".join(problems)
            )
        return cls(
            {
                lang: _Language(
                    texts={k: v for name in TEXT_SECTIONS for k, v in tree[name].items()},
                    weekdays=tuple(tree["date"]["weekdays"]),
                    months=tuple(tree["date"]["months"]),
                    date_format=tree["date"]["format"],
                    time_format=tree["date"]["time"],
                    modalities={Modality(k): v for k, v in tree["modality"].items()},
                    digest=dict(tree["digest"]),
                )
                for lang, tree in trees.items()
            }
        )

    def footer(self, language: Language) -> str:
        """The opt-out line, for texts written by people (broadcasts) rather than templates."""
        return self._languages[language].texts["footer"]

    def keys(self) -> frozenset[str]:
        """The templates `render` takes (variants and the footer are chosen by it)."""
        return frozenset(TEMPLATES) | {digest.TEMPLATE}

    def render(
        self,
        template: str,
        language: Language,
        params: Mapping[str, object],
        *,
        timezone: str,
        footer: bool = False,
        room: int = SEGMENT,
    ) -> str:
        """The template in `language`; a flexible value (the activity) takes what `room`
        (septets) the rest leaves: one SMS segment, or more where a message may be
        longer (WhatsApp)."""
        if template == digest.TEMPLATE:
            return self._digest(language, params, timezone=timezone, footer=footer)
        if template not in TEMPLATES:
            raise RenderError(f"no SMS template {template!r}")
        missing = sorted(TEMPLATES[template] - params.keys())
        if missing:
            raise RenderError(f"{template} needs the values: {', '.join(missing)}")
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise RenderError(f"unknown time zone {timezone!r}") from error
        texts = self._languages[language]
        values = {
            name: self._value(name, params[name], texts, zone)
            for name in TEMPLATES[template]
            if name != FLEXIBLE
        }
        key = template
        if template in VARIANTS:
            optional, variant = VARIANTS[template]
            if not values[optional]:
                key = variant
        tail = f" {texts.texts['footer']}" if footer else ""
        if FLEXIBLE in TEMPLATES[template]:
            rest = septets(_fill(texts.texts[key], values | {FLEXIBLE: ""}) + tail)
            activity = _activity(params, texts, room - rest)
            if activity is None and template in FALLBACKS:
                return self.render(
                    FALLBACKS[template], language, params, timezone=timezone, footer=footer
                )
            if activity is None:  # cannot happen with the texts' maxima (tests/sms check it)
                activity = _activity(params, texts, room - rest, squeeze=False) or ""
            values[FLEXIBLE] = activity
        return _fill(texts.texts[key], values) + tail

    def _digest(
        self, language: Language, params: Mapping[str, object], *, timezone: str, footer: bool
    ) -> str:
        """A school leader's weekly digest (`sms.digest`): meetings shown by weekday and time."""
        missing = sorted(digest.VALUES - params.keys())
        if missing:
            raise RenderError(f"digest needs the values: {', '.join(missing)}")
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise RenderError(f"unknown time zone {timezone!r}") from error
        texts = self._languages[language]

        def weekday_time(raw: object) -> str:
            moment = datetime.fromisoformat(str(raw)).astimezone(zone)
            day = texts.weekdays[moment.weekday()]
            return f"{day} {_when('starts_at', raw, texts, zone, texts.time_format)}"

        try:
            return digest.render(
                texts.digest,
                params,
                weekday_time,
                texts.texts["footer"] if footer else None,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise RenderError(f"digest values do not fit: {error}") from error

    @staticmethod
    def _value(name: str, raw: object, texts: _Language, zone: ZoneInfo) -> str:
        if raw is None:
            if name in _OPTIONAL:
                return ""
            raise RenderError(f"{name} needs a value, got null")
        if name.endswith("_at"):
            return _when(name, raw, texts, zone)
        if name.endswith("_time"):
            return _when(name, raw, texts, zone, texts.time_format)
        if name == "modality":
            try:
                return texts.modalities[Modality(str(raw))]
            except ValueError as error:
                raise RenderError(f"{raw!r} is not a modality") from error
        if name == "codes":
            if not isinstance(raw, list | tuple):
                raise RenderError(f"codes must be a list, got {raw!r}")
            return ", ".join(_clean(str(code)) for code in raw[:MAX_CODES])
        text = _clean(str(raw))
        return truncate(text, LIMITS[name]) if name in LIMITS else text


def _activity(
    params: Mapping[str, object], texts: _Language, room: int, *, squeeze: bool = True
) -> str | None:
    """The activity's title and where to find it, in `room` septets: the title cut (never
    below ACTIVITY_MIN), the page always shown, a link only whole. None when even the
    shortest title and its page do not fit (`squeeze=False`: give them anyway)."""
    raw = params[FLEXIBLE]
    if raw is None:
        raise RenderError(f"{FLEXIBLE} needs a value, got null")
    title = _clean(str(raw))
    page, link = params.get("activity_page"), params.get("activity_link")
    where = ""
    if page:
        try:
            where = _fill(texts.texts["page"], {"page": str(int(str(page)))})
        except ValueError as error:
            raise RenderError(f"activity_page must be a number, got {page!r}") from error
    elif link:
        where = _clean(str(link))
        if septets(where) + 1 + min(septets(title), ACTIVITY_MIN) > room:
            where = ""  # a link cut short leads nowhere
    left = room - (septets(where) + 1 if where else 0)
    if squeeze and left < min(septets(title), ACTIVITY_MIN):
        return None
    title = truncate(title, max(left, ACTIVITY_MIN))
    return f"{title} {where}" if where else title


def _clean(text: str) -> str:
    # A newline or tab in a venue would break the message's layout on a phone.
    return " ".join(to_gsm7(text).split())


def _when(name: str, raw: object, texts: _Language, zone: ZoneInfo, form: str | None = None) -> str:
    try:
        moment = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    except ValueError as error:
        raise RenderError(f"{name} is not an ISO-8601 time: {raw!r}") from error
    if moment.tzinfo is None:
        # Guessing UTC or local time would put people at a meeting at the wrong hour.
        raise RenderError(f"{name} has no UTC offset: {raw!r}")
    local = moment.astimezone(zone)
    return (form or texts.date_format).format(
        weekday=texts.weekdays[local.weekday()],
        day=local.day,
        month=texts.months[local.month - 1],
        hour=f"{local.hour:02d}",
        minute=f"{local.minute:02d}",
    )


@cache
def _shipped() -> SmsTexts:
    return SmsTexts._read_all(FOLDER)
