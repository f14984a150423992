"""What the communities and meetings forms share: reading dates and times as people type
them, trying a change so a refusal can be shown beside the form, and telling what
became of the members' SMS after a move or a cancellation."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pydantic
from babel.dates import format_skeleton
from sqlmodel.ext.asyncio.session import AsyncSession

from console.auth import Page
from service.domain.errors import DomainError, NotFound, ValidationError, field_messages
from service.domain.outbox import Fate, Queued
from service.models.enums import Scope

_DAY_FIRST = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$")
_SEPARATORS = re.compile(r"[\s,;]+")
MAX_CLOSED_DAYS = 200


def parse_day(text: str) -> date | None:
    """`2026-04-07`, as a date field sends it, or `7/4/2026` (day first, as written in
    East Africa and France)."""
    text = text.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    found = _DAY_FIRST.match(text)
    if found is None:
        return None
    day, month, year = (int(part) for part in found.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_time(text: str) -> time | None:
    """`14:30` (a time field), `14.30` or `1430`."""
    text = text.strip().replace(".", ":").replace("h", ":")
    if text.isdigit() and len(text) in (3, 4):
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        value = time.fromisoformat(text)
    except ValueError:
        return None
    return value.replace(second=0, microsecond=0, tzinfo=None)


def parse_closed_days(text: str) -> tuple[list[date], list[str]]:
    """The dates in a list typed one a line or comma separated, and the words that are not."""
    days: list[date] = []
    wrong: list[str] = []
    for word in _SEPARATORS.split(text.strip()):
        if not word:
            continue
        day = parse_day(word)
        if day is None:
            wrong.append(word[:20])
        elif day not in days:
            days.append(day)
    return sorted(days), wrong


async def attempt(session: AsyncSession, work: Callable[[], Awaitable[None]]) -> DomainError | None:
    """Run a change in a savepoint: on a refusal nothing of it stays and the refusal is
    returned, for the form to show it beside what was typed. An id that is not found
    still ends the request (a 404), as everywhere else."""
    try:
        async with session.begin_nested():
            await work()
    except NotFound:
        raise
    except DomainError as exc:
        return exc
    except pydantic.ValidationError as exc:
        where, message = field_messages(exc)[0]
        return ValidationError(message, field=where)
    return None


def told_text(current: Page, told: Queued | None) -> str:
    """What became of the members' SMS, as the USSD and SMS replies say it."""
    if told is None:
        return ""
    fate = told.fate(current.now)
    if fate is Fate.sent:
        return current._("SMS going out now to %(count)s members.", count=told.queued)
    if fate is Fate.held:
        assert told.send_after is not None
        until = when_text(
            told.send_after, current.viewer.programme.timezone, current.viewer.language.value
        )
        return current._(
            "Quiet hours: SMS to %(count)s members held until %(time)s.",
            count=told.queued,
            time=until,
        )
    if fate is Fate.dropped:
        return current._("No SMS sent: it could only go out after the meeting starts.")
    return current._("No SMS sent: no member can receive SMS.")


def when_text(moment: datetime, timezone: str, language: str) -> str:
    """`Sat, Dec 5, 2026 08:00`, `Jumamosi, 5 Des 2026 08:00`: the day and a 24-hour
    time, as meetings are planned (no seconds), in the programme's time zone."""
    zone = ZoneInfo(timezone)
    day = format_skeleton("yMMMEd", moment, tzinfo=zone, locale=language, fuzzy=True)
    return f"{day} {format_skeleton('Hm', moment, tzinfo=zone, locale=language, fuzzy=True)}"


def local(moment: datetime, timezone: str) -> datetime:
    return moment.astimezone(ZoneInfo(timezone))


def shown(current: Page) -> dict[str, Any]:
    """What every communities and meeting template uses: the programme's time zone, each
    moment's machine-readable form there (`<time datetime>`), and the right to change."""
    timezone = current.viewer.programme.timezone
    language = current.viewer.language.value

    def iso(moment: datetime) -> str:
        return local(moment, timezone).isoformat(timespec="minutes")

    def when(moment: datetime) -> str:
        return when_text(moment, timezone, language)

    return {
        "timezone": timezone,
        "iso": iso,
        "when": when,
        "can_write": current.viewer.has(Scope.write),
    }
