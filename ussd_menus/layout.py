"""Fitting screens into 160 GSM-7 characters: trimming, paging, dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.gsm7 import septets, to_gsm7, truncate

SCREEN = 160


@dataclass(frozen=True)
class Line:
    text: str
    flexible: bool = False  # may be shortened to make the screen fit
    min_len: int = 8


def fit(lines: list[Line], limit: int = SCREEN) -> str:
    """Join lines; shorten the longest flexible ones until the whole fits `limit`."""
    texts = [to_gsm7(line.text) for line in lines]
    while septets("\n".join(texts)) > limit:
        candidates = [
            i for i, line in enumerate(lines) if line.flexible and septets(texts[i]) > line.min_len
        ]
        if not candidates:
            break
        longest = max(candidates, key=lambda i: septets(texts[i]))
        over = septets("\n".join(texts)) - limit
        target = max(lines[longest].min_len, septets(texts[longest]) - max(over, 1))
        texts[longest] = truncate(texts[longest], target)
    return "\n".join(texts)


def pages(header: list[str], items: list[str], footer: list[str], more: str) -> list[list[int]]:
    """Split item indices into pages that fit with the header, '98 More' and the footer."""
    result: list[list[int]] = []
    page: list[int] = []
    for index in range(len(items)):
        trial = [*page, index]
        lines = header + [f"{n + 1} {items[i]}" for n, i in enumerate(trial)] + [more] + footer
        if page and septets("\n".join(to_gsm7(x) for x in lines)) > SCREEN:
            result.append(page)
            page = [index]
        else:
            page = trial
    if page or not result:
        result.append(page)
    return result


def when(moment: datetime, weekdays: list[str], months: list[str]) -> str:
    """`Tue 24 Nov 14:00` in the caller's language; `moment` already in programme time."""
    return f"{weekdays[moment.weekday()]} {moment.day} {months[moment.month - 1]} {moment:%H:%M}"


def short_date(moment: datetime, weekdays: list[str], months: list[str]) -> str:
    return f"{weekdays[moment.weekday()]} {moment.day} {months[moment.month - 1]}"
