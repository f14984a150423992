"""The school leaders' weekly digest as one SMS, worded from the `[digest]` table.

The domain gives the figures (`service.domain.digests.digest_params`); this words
them and fits what it can in at most `MAX_SEGMENTS` GSM-7 segments, one where the
figures allow:

1. the head, then the week's meetings (as many as fit, "+N more"), then last week's
   attendance, then the members at risk;
2. the at-risk names fill the segments the rest takes; when not even one name fits
   there, one more segment is taken (up to the maximum) rather than list none. The
   names that do not fit are counted: "+N more".

Names are cut (community 20, school 30, a person 24 septets) so a long name cannot
crowd out the figures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from service.domain.segments import measure
from service.gsm7 import to_gsm7, truncate

TEMPLATE = "digest"
MAX_SEGMENTS = 3
COMMUNITY, SCHOOL, NAME = 20, 30, 24

# Every text of a language's [digest] table and exactly the placeholders it must use.
PLACEHOLDERS: Mapping[str, frozenset[str]] = {
    "head": frozenset({"school"}),
    "meeting": frozenset({"community", "starts_at", "yes", "no"}),
    "no_meetings": frozenset(),
    "more_meetings": frozenset({"count"}),
    "attendance": frozenset({"attended", "expected", "rate"}),
    "no_attendance": frozenset(),
    "at_risk": frozenset({"count", "names"}),
    "no_at_risk": frozenset(),
    "more": frozenset({"count"}),
}
VALUES = frozenset({"school", "meetings", "held", "attended", "expected", "at_risk"})


def _clean(text: object, limit: int) -> str:
    return truncate(" ".join(to_gsm7(str(text)).split()), limit)


def _number(params: Mapping[str, Any], name: str) -> int:
    value = params.get(name) or 0
    if not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return value


def render(
    texts: Mapping[str, str],
    params: Mapping[str, Any],
    when: Callable[[object], str],
    footer: str | None = None,
) -> str:
    """The digest in one language; `when` words a meeting's UTC start (weekday and time)."""
    meetings: Sequence[Mapping[str, Any]] = params["meetings"] or []
    names: Sequence[str] = [_clean(n, NAME) for n in params["at_risk"] or []]
    more_meetings = _number(params, "more_meetings")
    at_risk = max(_number(params, "at_risk_total"), len(names))
    head = texts["head"].format(school=_clean(params["school"], SCHOOL))
    lines = [
        texts["meeting"].format(
            community=_clean(m["community"], COMMUNITY),
            starts_at=when(m["starts_at"]),
            yes=int(m["yes"]),
            no=int(m["no"]),
        )
        for m in meetings
    ]
    expected, attended = _number(params, "expected"), _number(params, "attended")
    if _number(params, "held") and expected:
        rate = round(100 * attended / expected)
        last_week = texts["attendance"].format(attended=attended, expected=expected, rate=rate)
    else:
        last_week = texts["no_attendance"]

    def body(shown_meetings: int, shown_names: int) -> str:
        parts = [head, *lines[:shown_meetings]]
        rest = len(lines) - shown_meetings + more_meetings
        if not lines and not more_meetings:
            parts.append(texts["no_meetings"])
        elif rest:
            parts.append(texts["more_meetings"].format(count=rest))
        parts.append(last_week)
        if at_risk:
            listed = list(names[:shown_names])
            if at_risk > len(listed):
                listed.append(texts["more"].format(count=at_risk - len(listed)))
            parts.append(texts["at_risk"].format(count=at_risk, names=", ".join(listed)))
        else:
            parts.append(texts["no_at_risk"])
        if footer:
            parts.append(footer)
        return " ".join(parts)

    def segments(text: str) -> int:
        return measure(text).segments

    # Meetings give way until the digest fits with at least one at-risk name: the names
    # are what a head teacher acts on, the meetings left out are counted.
    first = min(1, len(names))
    shown = len(lines)
    while shown and segments(body(shown, first)) > MAX_SEGMENTS:
        shown -= 1
    budget = segments(body(shown, 0))
    best = body(shown, 0)
    while budget <= MAX_SEGMENTS:
        count = 0
        while count < len(names) and segments(body(shown, count + 1)) <= budget:
            count += 1
        if count or not names:
            return body(shown, count)
        budget += 1
    return best
