"""Scheduling a term's series, moving, cancelling and editing meetings from the console:
members are told as by USSD and SMS, the page says what became of their SMS, and a
meeting or term outside the role's coverage is not found, with nothing changed."""

from __future__ import annotations

import html
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import col, select

from service.db import SessionFactory
from service.domain.meetings import spread_dates
from service.domain.terms import TermInput, create_term
from service.models import AuditEntry, Meeting, Message, Term
from service.models.enums import MeetingStatus
from tests import factories as f
from tests.console.community_scene import (
    Scene,
    all_day_quiet,
    build,
    enter,
    meeting_now,
    no_quiet_hours,
)
from tests.console.support import csrf_of

NAIROBI = ZoneInfo("Africa/Nairobi")


@pytest.fixture
async def scene(sessions: SessionFactory) -> Scene:
    return await build(sessions)


async def post(
    client: httpx.AsyncClient, url: str, form_page: str, data: dict[str, str]
) -> httpx.Response:
    page = await client.get(form_page)
    assert page.status_code == 200, page.text
    return await client.post(url, data={**data, "csrf": csrf_of(page.text)})


async def a_term(sessions: SessionFactory, scene: Scene, weeks: int = 12) -> Term:
    """A term starting next Monday (Nairobi)."""
    today = datetime.now(NAIROBI).date()
    monday = today + timedelta(days=7 - today.weekday())
    async with sessions() as session:
        term = await create_term(
            scene.world.programme,
            TermInput(name="Term 2", starts_on=monday, ends_on=monday + timedelta(weeks=weeks)),
            session=session,
            actor=f.OPERATOR,
        )
        await session.commit()
    return term


def tuesdays(term: Term) -> list[date]:
    first = term.starts_on + timedelta(days=(1 - term.starts_on.weekday()) % 7)
    return [first + timedelta(weeks=n) for n in range((term.ends_on - first).days // 7 + 1)]


def series(term_id: int | str, closed: str = "", count: int = 3) -> dict[str, str]:
    return {
        "term": str(term_id),
        "weekday": "1",
        "time": "15:30",
        "duration": "90",
        "count": str(count),
        "modality": "in_person",
        "venue": "Library",
        "agenda": "Toolkit 1",
        "closed_days": closed,
    }


async def series_meetings(sessions: SessionFactory, term_id: int | None) -> list[Meeting]:
    async with sessions() as session:
        stmt = select(Meeting).where(Meeting.term_id == term_id).order_by(col(Meeting.starts_at))
        return list((await session.exec(stmt)).all())


async def test_a_terms_series_skips_the_closed_days(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    term = await a_term(sessions, scene)
    assert term.id is not None
    days = tuesdays(term)
    planned = spread_dates(days, 3)
    closed = [planned[0], planned[1]]  # public holidays where two meetings would fall
    await enter(client, sessions, scene.world.facilitator)
    form = f"/communities/{scene.community_id}/schedule"
    typed = f"{closed[0].isoformat()}, {closed[1].day}/{closed[1].month}/{closed[1].year}"
    answer = await post(client, form, form, series(term.id, typed))
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/communities/{scene.community_id}"
    stored = await series_meetings(sessions, term.id)
    local = [m.starts_at.astimezone(NAIROBI) for m in stored]
    assert [d.date() for d in local] == spread_dates([d for d in days if d not in closed], 3)
    assert not {d.date() for d in local} & set(closed)
    assert all(d.hour == 15 and d.minute == 30 for d in local)
    assert all(m.venue == "Library" and m.agenda == "Toolkit 1" for m in stored)
    page = html.unescape((await client.get(answer.headers["location"])).text)
    assert "3 meetings scheduled" in page
    for moment in local:
        assert f'datetime="{moment.isoformat(timespec="minutes")}"' in page
    async with sessions() as session:
        actors = (
            await session.exec(
                select(AuditEntry.actor).where(AuditEntry.action == "meeting.schedule")
            )
        ).all()
    assert actors.count(f"person:{scene.world.facilitator.id}") == 3


async def test_too_few_open_days_are_explained_and_what_was_typed_is_kept(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    term = await a_term(sessions, scene, weeks=3)  # four Tuesdays at most
    assert term.id is not None
    closed = "\n".join(d.isoformat() for d in tuesdays(term)[:2])
    await enter(client, sessions, scene.world.facilitator)
    form = f"/communities/{scene.community_id}/schedule"
    answer = await post(client, form, form, series(term.id, closed, count=3))
    assert answer.status_code == 422
    text = html.unescape(answer.text)
    left = len(tuesdays(term)) - 2
    assert f"Only {left} suitable days are left in this term for 3 meetings" in text
    assert f">{closed}</textarea>" in text  # the closed days as typed
    assert 'value="Library"' in text and 'value="15:30"' in text
    assert await series_meetings(sessions, term.id) == []
    client.cookies.set("copline_lang", "sw")  # hers is Kiswahili: the same, in her words
    again = await post(client, form, form, series(term.id, closed, count=3))
    assert f"Zimebaki siku {left} tu" in html.unescape(again.text)


async def test_a_closed_day_that_is_not_a_date_is_pointed_out(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    term = await a_term(sessions, scene)
    await enter(client, sessions, scene.world.facilitator)
    form = f"/communities/{scene.community_id}/schedule"
    answer = await post(client, form, form, series(term.id or 0, "2026-13-01, Easter"))
    assert answer.status_code == 422
    assert "These closed days are not dates: 2026-13-01, Easter." in html.unescape(answer.text)
    assert await series_meetings(sessions, term.id) == []


async def test_staff_create_the_term_with_the_series_a_facilitator_cannot(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    today = datetime.now(NAIROBI).date()
    new_term = {
        "term_name": "Term 3",
        "term_starts": (today + timedelta(days=14)).isoformat(),
        "term_ends": (today + timedelta(days=100)).isoformat(),
    }
    form = f"/communities/{scene.community_id}/schedule"
    await enter(client, sessions, scene.world.facilitator)
    refused = await post(client, form, form, series("new") | new_term)
    assert refused.status_code == 422 and "Choose a term." in refused.text
    await enter(client, sessions, scene.staff)
    made = await post(client, form, form, series("new") | new_term)
    assert made.status_code == 303, made.text
    async with sessions() as session:
        term = (await session.exec(select(Term).where(Term.name == "Term 3"))).one()
    assert len(await series_meetings(sessions, term.id)) == 3


async def test_a_term_of_another_programme_is_not_found(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    async with sessions() as session:
        theirs = await create_term(
            scene.theirs.programme,
            TermInput(name="Igihembwe", starts_on=date(2031, 1, 6), ends_on=date(2031, 3, 28)),
            session=session,
            actor=f.OPERATOR,
        )
        await session.commit()
    await enter(client, sessions, scene.world.facilitator)
    form = f"/communities/{scene.community_id}/schedule"
    answer = await post(client, form, form, series(theirs.id or 0))
    assert answer.status_code == 404
    assert await series_meetings(sessions, theirs.id) == []


async def test_the_series_of_another_community_is_refused(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    term = await a_term(sessions, scene)
    await enter(client, sessions, scene.leader)  # leads school A; CLUSTER-2 is school B's
    mine = f"/communities/{scene.community_id}/schedule"
    answer = await post(
        client, f"/communities/{scene.other.id}/schedule", mine, series(term.id or 0)
    )
    assert answer.status_code == 404
    assert await series_meetings(sessions, term.id) == []


async def notices(sessions: SessionFactory, meeting_id: int) -> list[Message]:
    async with sessions() as session:
        stmt = select(Message).where(Message.meeting_id == meeting_id, Message.kind == "notice")
        return list((await session.exec(stmt)).all())


async def test_moving_a_meeting_tells_the_members_and_says_so(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    await no_quiet_hours(sessions, scene.world.programme.id)
    await enter(client, sessions, scene.world.facilitator)
    page = f"/meetings/{scene.meeting_id}"
    new_start = (scene.world.meeting.starts_at + timedelta(days=1)).astimezone(NAIROBI)
    answer = await post(
        client,
        f"{page}/move",
        page,
        {"day": new_start.date().isoformat(), "time": new_start.strftime("%H:%M"), "venue": "Hall"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == page
    shown = html.unescape((await client.get(page)).text)
    assert "The meeting was moved. SMS going out now to 2 members." in shown
    moved = await meeting_now(sessions, scene.meeting_id)
    assert moved.starts_at == new_start.replace(second=0, microsecond=0)
    assert moved.venue == "Hall" and moved.code == scene.world.meeting.code
    told = await notices(sessions, scene.meeting_id)
    assert {m.person_id for m in told} == {p.id for p in scene.world.members}
    assert len(told) == 2
    assert {m.template for m in told} == {"moved"}


async def test_a_move_in_quiet_hours_says_until_when_the_sms_wait(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    await all_day_quiet(sessions, scene.world.programme.id)
    await enter(client, sessions, scene.world.facilitator)
    page = f"/meetings/{scene.meeting_id}"
    new_start = (scene.world.meeting.starts_at + timedelta(days=1)).astimezone(NAIROBI)
    await post(
        client,
        f"{page}/move",
        page,
        {
            "day": new_start.date().isoformat(),
            "time": new_start.strftime("%H:%M"),
            "venue": "Staff room",
        },
    )
    shown = html.unescape((await client.get(page)).text)
    assert "Quiet hours: SMS to 2 members held until" in shown
    assert all(m.send_after is not None for m in await notices(sessions, scene.meeting_id))


async def test_a_move_into_the_past_is_refused_beside_the_form(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    await enter(client, sessions, scene.world.facilitator)
    page = f"/meetings/{scene.meeting_id}"
    answer = await post(
        client, f"{page}/move", page, {"day": "2020-01-07", "time": "14:00", "venue": "Hall"}
    )
    assert answer.status_code == 422
    text = html.unescape(answer.text)
    assert "A meeting cannot be scheduled in the past" in text
    assert 'value="2020-01-07"' in text and 'value="Hall"' in text
    kept = await meeting_now(sessions, scene.meeting_id)
    assert kept.starts_at == scene.world.meeting.starts_at and kept.venue == "Staff room"
    assert await notices(sessions, scene.meeting_id) == []


async def test_cancelling_a_meeting_tells_the_members_with_the_reason(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    await no_quiet_hours(sessions, scene.world.programme.id)
    await enter(client, sessions, scene.leader)  # a school leader of its school may too
    page = f"/meetings/{scene.meeting_id}"
    answer = await post(client, f"{page}/cancel", page, {"reason": "Sports day"})
    assert answer.status_code == 303
    shown = html.unescape((await client.get(page)).text)
    assert "The meeting was cancelled. SMS going out now to 3 members." in shown
    assert "This meeting can no longer be changed." in shown
    cancelled = await meeting_now(sessions, scene.meeting_id)
    assert cancelled.status is MeetingStatus.cancelled
    assert cancelled.cancel_reason == "Sports day"
    told = await notices(sessions, scene.meeting_id)
    assert len(told) == 3  # the facilitator is told too: someone else cancelled it
    assert {(m.params or {}).get("reason") for m in told} == {"Sports day"}


async def test_the_agenda_is_edited_without_messaging_anyone(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    await enter(client, sessions, scene.staff)
    page = f"/meetings/{scene.meeting_id}"
    answer = await post(
        client, f"{page}/edit", page, {"agenda": "Toolkit 4: questioning", "modality": "hybrid"}
    )
    assert answer.status_code == 303
    assert "The meeting was updated." in (await client.get(page)).text
    edited = await meeting_now(sessions, scene.meeting_id)
    assert edited.agenda == "Toolkit 4: questioning" and edited.modality.value == "hybrid"
    assert await notices(sessions, scene.meeting_id) == []


@pytest.mark.parametrize("who", ["facilitator", "leader"])
async def test_a_meeting_outside_the_coverage_is_not_found_and_stays(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene, who: str
) -> None:
    await enter(client, sessions, scene.world.facilitator if who == "facilitator" else scene.leader)
    mine = f"/meetings/{scene.meeting_id}"
    for meeting in (scene.other_meeting, scene.theirs.meeting):
        url = f"/meetings/{meeting.id}"
        assert (await client.get(url)).status_code == 404
        moved = meeting.starts_at + timedelta(days=1)
        for action, data in (
            ("move", {"day": moved.date().isoformat(), "time": "10:00", "venue": "x"}),
            ("cancel", {"reason": "x"}),
            ("edit", {"agenda": "x"}),
        ):
            answer = await post(client, f"{url}/{action}", mine, data)
            assert answer.status_code == 404, (url, action)
        assert meeting.id is not None
        kept = await meeting_now(sessions, meeting.id)
        assert kept.status is MeetingStatus.scheduled and kept.agenda is None
        assert kept.starts_at == meeting.starts_at
        assert await notices(sessions, meeting.id) == []
