"""Fitting screens into 160 GSM-7 characters: trimming, paging, dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.gsm7 import BASIC, EXTENSION, septets, to_gsm7

SCREEN = 160
# Most of a screen is plain ASCII from GSM-7's basic set: such text is its own GSM-7
# form, one septet a character, which C checks far faster than a loop per character.
_PLAIN = frozenset(chr(code) for code in range(128) if chr(code) in BASIC)


def _gsm7(text: str) -> tuple[str, int]:
    """`to_gsm7(text)` and its length in septets."""
    if text.isascii() and _PLAIN.issuperset(text):
        return text, len(text)
    text = to_gsm7(text)
    return text, septets(text)


@dataclass(frozen=True)
class Line:
    text: str
    flexible: bool = False  # may be shortened to make the screen fit
    min_len: int = 8


def _cut(text: str, limit: int) -> str:
    """`service.gsm7.truncate` for text already in GSM-7, in one pass instead of n^2."""
    if septets(text) <= limit:
        return text
    used = end = 0
    for end, ch in enumerate(text):  # noqa: B007 - `end` is the cut after the loop
        used += 2 if ch in EXTENSION else 1
        if used > limit - 1:
            break
    return text[:end].rstrip() + "."


def fit(lines: list[Line], limit: int = SCREEN) -> str:
    """Join lines; shorten the longest flexible ones until the whole fits `limit`."""
    measured = [_gsm7(line.text) for line in lines]
    texts = [text for text, _ in measured]
    sizes = [size for _, size in measured]
    # Each line's size is counted once and kept up to date: the whole is their sum plus
    # one septet per newline, as septets("\n".join(texts)) would count it.
    while sum(sizes) + len(texts) - 1 > limit:
        candidates = [
            i for i, line in enumerate(lines) if line.flexible and sizes[i] > line.min_len
        ]
        if not candidates:
            break
        longest = max(candidates, key=lambda i: sizes[i])
        over = sum(sizes) + len(texts) - 1 - limit
        target = max(lines[longest].min_len, sizes[longest] - max(over, 1))
        texts[longest], sizes[longest] = _gsm7(_cut(texts[longest], target))
    return "\n".join(texts)


def pages(header: list[str], items: list[str], footer: list[str], more: str) -> list[list[int]]:
    """Split item indices into pages that fit with the header, '98 More' and the footer.

    Each line is measured once (the whole is the sum of its lines plus one septet per
    newline), not the whole page again for every item tried.
    """
    fixed = [_gsm7(x)[1] for x in (*header, more, *footer)]
    base = sum(fixed) + len(fixed) - 1
    sizes = [_gsm7(item)[1] for item in items]

    def line(n: int, i: int) -> int:  # "{n} {item}" and the newline before it
        return len(str(n)) + 1 + sizes[i] + 1

    result: list[list[int]] = []
    page: list[int] = []
    used = base
    for index in range(len(items)):
        size = line(len(page) + 1, index)
        if page and used + size > SCREEN:
            result.append(page)
            page, used = [index], base + line(1, index)
        else:
            page.append(index)
            used += size
    if page or not result:
        result.append(page)
    return result


def when(moment: datetime, weekdays: list[str], months: list[str]) -> str:
    """`Tue 24 Nov 14:00` in the caller's language; `moment` already in programme time."""
    return f"{weekdays[moment.weekday()]} {moment.day} {months[moment.month - 1]} {moment:%H:%M}"


def short_date(moment: datetime, weekdays: list[str], months: list[str]) -> str:
    return f"{weekdays[moment.weekday()]} {moment.day} {months[moment.month - 1]}"
