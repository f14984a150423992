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
from ussd_menus.screens.facilitator_plan import read_activity

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
    ("how", "where", "modality", "venue", "typed", "activity", "page"),
    [
        # the community's recent venue; no activity
        ("1", "1", Modality.in_person, "Staff room", "1", None, None),
        # a typed venue; the activity with its toolkit page first
        ("4", "Kisumu Teachers' Centre hall", Modality.hybrid, "Kisumu Teachers' Centre hall",
         "p12 Fractions with bottle tops", "Fractions with bottle tops", 12),
        # no venue asked; an activity without a page
        ("2", None, Modality.remote_whatsapp, None, "Reading aloud", "Reading aloud", None),
    ],
)  # fmt: skip
async def test_scheduling_a_meeting_gives_its_code(
    client: httpx.AsyncClient,
    session: AsyncSession,
    language: Language,
    how: str,
    where: str | None,
    modality: Modality,
    venue: str | None,
    typed: str,
    activity: str | None,
    page: int | None,
) -> None:
    w, _, _ = await world(session, language)
    starts = ahead(w, 9)
    p = phone(client, w)
    await walk(p, "6", SCHEDULE, f"{starts:%d%m}", "1430", how)
    asked = await p.press(where) if where is not None else p.screen
    assert asked.startswith(CATALOG.text(language, "plan.activity"))
    confirm = await p.press(typed)
    assert CATALOG.text(language, "plan.yes") in confirm
    done = await p.press("1")
    assert p.ended
    [meeting] = await scheduled(session, w)
    assert (meeting.starts_at, meeting.modality, meeting.venue) == (starts, modality, venue)
    assert (meeting.activity, meeting.activity_page) == (activity, page)
    assert meeting.status is MeetingStatus.scheduled
    assert done == CATALOG.text(language, "plan.scheduled", code=meeting.code)
    assert await p.retry() == done  # the network repeats the hop: the same code, one meeting
    assert len(await scheduled(session, w)) == 1


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("date", "at", "refusal"),
    [
        ("3102", None, "facilitator.bad_date"),  # 31 February
        ("today", "a minute ago", "facilitator.bad_time"),  # today, but already past
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
    local = f.now().astimezone(zone)
    if at == "a minute ago" and local.hour == 0 and local.minute < 2:
        pytest.skip("in a day's first minute no time of that day has passed")
    typed = {
        "today": f"{local:%d%m}",
        "ahead": f"{ahead(w, 9):%d%m}",
        "a minute ago": f"{local - timedelta(minutes=1):%H%M}",
    }
    p = phone(client, w)
    screen = await walk(
        p, "6", SCHEDULE, typed.get(date, date), *([typed.get(at, at)] if at else [])
    )
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
    await walk(p, "6", SCHEDULE, f"{during:%d%m}", f"{during:%H%M}", "1", "1", "1")
    refused = await p.press("1")
    assert p.ended and refused == CATALOG.text(language, "plan.clash")
    assert await scheduled(session, w) == []


@pytest.mark.parametrize(
    ("typed", "title", "page"),
    [
        ("p12 Fractions", "Fractions", 12),
        ("P.7: Reading aloud", "Reading aloud", 7),
        ("uk12 Sehemu", "Sehemu", 12),
        ("tsa 3 Tizigawo", "Tizigawo", 3),
        ("Unit 3 review", "Unit 3 review", None),
        ("pupils' games", "pupils' games", None),
    ],
)
def test_the_page_may_come_first_in_any_languages_abbreviation(
    typed: str, title: str, page: int | None
) -> None:
    assert read_activity(typed) == (title, page)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("typed", ["12", "p12", "p0 Fractions", "  "])
async def test_an_activity_with_no_title_is_asked_again_and_nothing_is_scheduled(
    client: httpx.AsyncClient, session: AsyncSession, language: Language, typed: str
) -> None:
    w, _, _ = await world(session, language)
    starts = ahead(w, 9)
    p = phone(client, w)
    screen = await walk(p, "6", SCHEDULE, f"{starts:%d%m}", "1430", "2", typed)
    assert screen.startswith(CATALOG.text(language, "plan.bad_activity")) and not p.ended
    assert await scheduled(session, w) == []
