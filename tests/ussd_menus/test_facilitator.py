"""A facilitator's phone: mark attendance, cancel, move, approve, counts; in every language."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.attendance import record_rsvp
from service.domain.communities import add_member, request_to_join
from service.domain.programmes import ProgrammeSettings, update_programme
from service.models import Attendance, Meeting, Membership, Message
from service.models.enums import (
    Channel,
    Language,
    MeetingStatus,
    MembershipStatus,
    MessageStatus,
    Presence,
    Rsvp,
)
from tests import factories as f
from ussd_menus.catalog import Catalog
from ussd_menus.layout import when
from ussd_menus.phone import Phone

TOKEN = "dev-callback-token"
LANGUAGES = list(Language)
CATALOG = Catalog.load()


async def world(session: AsyncSession, language: Language) -> tuple[f.World, int, Meeting]:
    """The world, its facilitator speaking `language`, a member with no phone, a meeting under way."""
    w = await f.world(session)
    await update_programme(
        w.pid, ProgrammeSettings(languages=list(Language)), session=session, actor=f.OPERATOR
    )
    w.facilitator.language = language
    no_phone = await f.person(session, w.programme, name="Aaron Bila Simu", phone=None)
    assert no_phone.id is not None and w.community.id is not None
    await add_member(w.pid, w.community.id, no_phone.id, session=session, actor=f.OPERATOR)
    running = await f.meeting(
        session,
        w.programme,
        w.community,
        starts_in=timedelta(minutes=50),
        at=f.now() - timedelta(hours=1),
    )
    await session.commit()
    return w, no_phone.id, running


async def quiet(session: AsyncSession, w: f.World, *, until_in: timedelta | None) -> str:
    """Quiet hours from an hour ago until `until_in` from now (None: no quiet hours at
    all), set before the first hop; their end as the facilitator reads it, HH:MM."""
    if until_in is None:
        w.programme.quiet_hours_start = w.programme.quiet_hours_end = time(0, 0)
    else:
        local = f.now().astimezone(ZoneInfo(w.programme.timezone))
        w.programme.quiet_hours_start = (local - timedelta(hours=1)).time().replace(microsecond=0)
        w.programme.quiet_hours_end = (local + until_in).time().replace(second=0, microsecond=0)
    await session.commit()
    return f"{w.programme.quiet_hours_end:%H:%M}"


def phone(client: httpx.AsyncClient, w: f.World) -> Phone:
    assert w.facilitator.phone is not None
    return Phone(
        client, number=w.facilitator.phone, service_code=w.programme.service_code, token=TOKEN
    )


async def walk(p: Phone, *keys: str) -> str:
    screen = await p.dial()
    for key in keys:
        screen = await p.press(key)
    return screen


async def fresh(session: AsyncSession, model: type, **where: object) -> list:  # type: ignore[type-arg]
    await session.rollback()
    session.expunge_all()
    stmt: Any = select(model).where(*(getattr(model, k) == v for k, v in where.items()))
    return list((await session.exec(stmt)).all())


@pytest.mark.parametrize("language", LANGUAGES)
async def test_marking_a_member_with_no_phone_present_then_absent(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w, no_phone_id, running = await world(session, language)
    p = phone(client, w)
    roster = await walk(
        p, "6", "2", "1"
    )  # facilitator menu, mark attendance, the meeting under way
    line = next(line for line in roster.split("\n") if "Aaron" in line)
    number = line.split(" ")[0]
    assert line.startswith(f"{number} - ")
    toggled = await p.press(number)
    assert f"{number} P Aaron" in toggled and not p.ended
    [row] = await fresh(session, Attendance, person_id=no_phone_id)
    assert (row.meeting_id, row.presence, row.presence_actor) == (
        running.id,
        Presence.present,
        f"person:{w.facilitator.id}",
    )
    again = await p.retry()  # the network repeats the hop: no second toggle
    assert f"{number} P Aaron" in again
    await p.press(number)
    [row] = await fresh(session, Attendance, person_id=no_phone_id)
    assert row.presence is Presence.absent


@pytest.mark.parametrize("language", LANGUAGES)
async def test_cancelling_a_meeting(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w, _, _ = await world(session, language)
    p = phone(client, w)
    question = await walk(p, "6", "3", "1")
    assert w.community.name[:10] in question
    await p.press("1")
    assert p.ended
    [meeting] = await fresh(session, Meeting, id=w.meeting.id)
    assert meeting.status is MeetingStatus.cancelled
    notices = await fresh(session, Message, meeting_id=w.meeting.id, template="cancelled")
    assert {m.person_id for m in notices} == {m.id for m in w.members}  # those with a phone


@pytest.mark.parametrize("language", LANGUAGES)
async def test_moving_a_meeting_to_a_typed_date_and_time(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w, _, _ = await world(session, language)
    zone = ZoneInfo(w.programme.timezone)
    day = (f.now() + timedelta(days=10)).astimezone(zone).date()
    p = phone(client, w)
    await walk(p, "6", "4", "1", f"{day:%d%m}", "1530")
    await p.press("1")
    assert p.ended
    [meeting] = await fresh(session, Meeting, id=w.meeting.id)
    local = meeting.starts_at.astimezone(zone)
    assert (local.date(), local.hour, local.minute) == (day, 15, 30)
    assert meeting.code == w.meeting.code
    notices = await fresh(session, Message, meeting_id=w.meeting.id, template="moved")
    assert len(notices) == 2


@pytest.mark.parametrize("language", LANGUAGES)
async def test_reminding_members_now_queues_one_sms_each_once(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w, _, _ = await world(session, language)
    p = phone(client, w)
    await quiet(session, w, until_in=None)
    question = await walk(p, "6", "6", "1")  # facilitator menu, remind, the next meeting
    assert w.community.name[:10] in question
    done = await p.press("1")
    assert p.ended and done == "\n".join(
        [
            CATALOG.text(language, "facilitator.reminded"),
            CATALOG.text(language, "told.sent", count=2),
        ]
    )
    await p.retry()  # the network repeats the hop: still one reminder each
    queued = await fresh(session, Message, meeting_id=w.meeting.id, kind="remind_now")
    assert sorted(m.person_id or 0 for m in queued) == sorted(m.id or 0 for m in w.members)
    assert {m.language for m in queued} == {m.language for m in w.members}

    again = phone(client, w)
    await walk(again, "6", "6", "1")
    refused = await again.press("1")
    assert refused == CATALOG.text(language, "refusal.reminded_recently")
    assert len(await fresh(session, Message, kind="remind_now")) == 2


@pytest.mark.parametrize("language", LANGUAGES)
async def test_approving_a_join_request(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w, _, _ = await world(session, language)
    assert w.outsider.id is not None
    await request_to_join(
        w.pid, w.community.join_code, w.outsider.id, session=session, actor=f.OPERATOR
    )
    await session.commit()
    p = phone(client, w)
    requests = await walk(p, "6", "5")
    assert w.outsider.name in requests
    await p.press("1")  # the request
    await p.press("1")  # approve
    assert p.ended
    [membership] = await fresh(session, Membership, person_id=w.outsider.id)
    assert membership.status is MembershipStatus.active


@pytest.mark.parametrize("language", LANGUAGES)
async def test_counts_for_the_week(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w, _, _ = await world(session, language)
    member = w.members[0]
    assert member.id is not None and w.meeting.id is not None
    await record_rsvp(
        w.pid,
        w.meeting.id,
        member.id,
        Rsvp.yes,
        session=session,
        actor=Actor.person(member.id, Channel.sms),
    )
    await session.commit()
    counts = await walk(phone(client, w), "6", "1")
    assert " 1," in counts and "0/4" in counts


async def test_a_plain_member_has_no_facilitator_menu(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w, _, _ = await world(session, Language.en)
    member = w.members[0]
    assert member.phone is not None
    p = Phone(client, number=member.phone, service_code=w.programme.service_code, token=TOKEN)
    assert "6" not in await p.dial()
    assert (await p.press("6")).startswith("Chaguo si sahihi.")


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_reminder_in_quiet_hours_says_until_when_it_waits(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w, _, _ = await world(session, language)
    until = await quiet(session, w, until_in=timedelta(hours=3))
    p = phone(client, w)
    await walk(p, "6", "6", "1")
    done = await p.press("1")
    assert CATALOG.text(language, "told.held", count=2, time=until) in done
    assert "\n" + CATALOG.text(language, "told.sent", count=2) not in done
    held = await fresh(session, Message, kind="remind_now")
    zone = ZoneInfo(w.programme.timezone)
    assert {(m.status, f"{m.send_after.astimezone(zone):%H:%M}") for m in held} == {
        (MessageStatus.queued, until)
    }


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_reminder_quiet_hours_would_hold_past_the_meeting_says_none_was_sent(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w, _, _ = await world(session, language)
    await quiet(session, w, until_in=timedelta(hours=3))
    soon = await f.meeting(session, w.programme, w.community, starts_in=timedelta(hours=2))
    await session.commit()
    p = phone(client, w)
    await walk(p, "6", "6", "1")  # the soonest meeting comes first
    done = await p.press("1")
    assert CATALOG.text(language, "told.dropped") in done
    dropped = await fresh(session, Message, kind="remind_now")
    assert {(m.meeting_id, m.status) for m in dropped} == {(soon.id, MessageStatus.dropped)}


async def test_a_reminder_with_no_member_to_send_to_says_so(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w, _, _ = await world(session, Language.en)
    for member in w.members:
        member.opted_out_at = f.now()
    await session.commit()
    p = phone(client, w)
    await walk(p, "6", "6", "1")
    done = await p.press("1")
    assert done == "Reminder requested.\nNo SMS sent: no member can receive SMS."


@pytest.mark.parametrize("language", LANGUAGES)
async def test_cancelling_and_moving_in_quiet_hours_say_until_when_members_wait(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w, _, _ = await world(session, language)
    until = await quiet(session, w, until_in=timedelta(hours=3))
    later = await f.meeting(session, w.programme, w.community, starts_in=timedelta(days=3))
    await session.commit()
    told = CATALOG.text(language, "told.held", count=2, time=until)

    cancel = phone(client, w)
    await walk(cancel, "6", "3", "1")
    cancelled = await cancel.press("1")
    assert cancelled == CATALOG.text(language, "facilitator.cancelled") + "\n" + told

    move = phone(client, w)
    day = (f.now() + timedelta(days=10)).astimezone(ZoneInfo(w.programme.timezone)).date()
    await walk(move, "6", "4", "1", f"{day:%d%m}", "1530")
    moved = await move.press("1")
    zone = ZoneInfo(w.programme.timezone)
    starts = datetime.combine(day, time(15, 30), tzinfo=zone)
    words = CATALOG.words(language, "date.weekdays"), CATALOG.words(language, "date.months")
    moved_to = CATALOG.text(language, "facilitator.moved", when=when(starts, *words))
    assert moved == moved_to + "\n" + told
    notices = await fresh(session, Message, meeting_id=later.id, template="moved")
    assert len(notices) == 2
