"""A facilitator schedules one meeting from a basic phone, in every language."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Meeting
from service.models.enums import Language, MeetingStatus, Modality
from tests import factories as f
from tests.ussd_menus.test_facilitator import CATALOG, LANGUAGES, fresh, phone, walk, world

SCHEDULE = "7"  # the facilitator menu's "Schedule a meeting"


def ahead(w: f.World, days: int) -> datetime:
    """A day `days` ahead, 14:30 programme time."""
    zone = ZoneInfo(w.programme.timezone)
    day = (f.now() + timedelta(days=days)).astimezone(zone).date()
    return datetime.combine(day, time(14, 30), tzinfo=zone)


async def scheduled(session: AsyncSession, w: f.World) -> list[Meeting]:
    """The community's meetings but the world's and the one under way."""
    meetings = await fresh(session, Meeting, community_id=w.community.id)
    return sorted(meetings, key=lambda m: m.id or 0)[2:]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("how", "where", "modality", "venue"),
    [
        ("1", "1", Modality.in_person, "Staff room"),  # the community's recent venue
        ("4", "Kisumu Teachers' Centre hall", Modality.hybrid, "Kisumu Teachers' Centre hall"),
        ("2", None, Modality.remote_whatsapp, None),  # no venue asked
    ],
)
async def test_scheduling_a_meeting_gives_its_code(
    client: httpx.AsyncClient,
    session: AsyncSession,
    language: Language,
    how: str,
    where: str | None,
    modality: Modality,
    venue: str | None,
) -> None:
    w, _, _ = await world(session, language)
    starts = ahead(w, 9)
    p = phone(client, w)
    await walk(p, "6", SCHEDULE, f"{starts:%d%m}", "1430", how)
    confirm = await p.press(where) if where is not None else p.screen
    assert CATALOG.text(language, "plan.yes") in confirm
    done = await p.press("1")
    assert p.ended
    [meeting] = await scheduled(session, w)
    assert (meeting.starts_at, meeting.modality, meeting.venue) == (starts, modality, venue)
    assert meeting.status is MeetingStatus.scheduled
    assert done == CATALOG.text(language, "plan.scheduled", code=meeting.code)
    assert await p.retry() == done  # the network repeats the hop: the same code, one meeting
    assert len(await scheduled(session, w)) == 1


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("date", "at", "refusal"),
    [
        ("3102", None, "facilitator.bad_date"),  # 31 February
        ("today", "0001", "facilitator.bad_time"),  # today, but already past
        ("ahead", "2460", "facilitator.bad_time"),
    ],
)
async def test_a_date_or_time_not_ahead_is_refused_and_nothing_is_scheduled(
    client: httpx.AsyncClient,
    session: AsyncSession,
    language: Language,
    date: str,
    at: str | None,
    refusal: str,
) -> None:
    w, _, _ = await world(session, language)
    zone = ZoneInfo(w.programme.timezone)
    typed = {"today": f"{f.now().astimezone(zone):%d%m}", "ahead": f"{ahead(w, 9):%d%m}"}
    p = phone(client, w)
    screen = await walk(p, "6", SCHEDULE, typed.get(date, date), *([at] if at else []))
    assert screen.startswith(CATALOG.text(language, refusal)) and not p.ended
    assert await scheduled(session, w) == []


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_clash_with_the_communitys_meeting_is_told_in_the_callers_language(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w, _, _ = await world(session, language)
    zone = ZoneInfo(w.programme.timezone)
    during = (w.meeting.starts_at + timedelta(minutes=30)).astimezone(zone)
    p = phone(client, w)
    await walk(p, "6", SCHEDULE, f"{during:%d%m}", f"{during:%H%M}", "1", "1")
    refused = await p.press("1")
    assert p.ended and refused == CATALOG.text(language, "plan.clash")
    assert await scheduled(session, w) == []
