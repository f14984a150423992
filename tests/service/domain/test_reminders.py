"""Reminders and notices land in the outbox: due rounds, quiet hours, moves, cancels, STOP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import SessionFactory
from service.domain import meetings as m
from service.domain import outbox, reminders
from service.domain.actor import Actor
from service.domain.communities import remove_member
from service.domain.errors import MeetingClosed, NotAllowed, RemindedRecently
from service.domain.people import opt_out
from service.models import Meeting, Message
from service.models.enums import Channel, MessageStatus
from tests import factories as f

NAIROBI = ZoneInfo("Africa/Nairobi")
OP = f.OPERATOR


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2031, 3, day, hour, minute, tzinfo=NAIROBI)


async def meeting_at(session: AsyncSession, w: f.World, starts: datetime) -> Meeting:
    scheduled_on = starts - timedelta(days=10)
    meeting = await f.meeting(
        session, w.programme, w.community, at=scheduled_on, starts_in=starts - scheduled_on
    )
    await session.commit()
    return meeting


async def messages(session: AsyncSession, meeting: Meeting, **where: object) -> list[Message]:
    query = select(Message).where(col(Message.meeting_id) == meeting.id)
    for field, value in where.items():
        query = query.where(getattr(Message, field) == value)
    return list((await session.exec(query.order_by(col(Message.id)))).all())


def quiet(timezone: str, start: int, end: int) -> Callable[[datetime], datetime]:
    return lambda at: outbox.next_allowed(at, timezone=timezone, start=time(start), end=time(end))


def member_ids(w: f.World) -> set[int | None]:
    return {w.facilitator.id, *(p.id for p in w.members)}


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(4, 12), local(4, 12)),  # daytime: now
        (local(4, 20), local(5, 7)),  # evening: next morning
        (local(5, 6, 30), local(5, 7)),  # before dawn: this morning
        (local(4, 19), local(5, 7)),  # quiet hours start on the minute
        (local(5, 7), local(5, 7)),  # and end on it
    ],
)
def test_quiet_hours_defer_to_the_next_allowed_time_in_programme_time(
    at: datetime, expected: datetime
) -> None:
    programme = quiet("Africa/Nairobi", 19, 7)
    assert programme(at.astimezone(UTC)) == expected


def test_a_daytime_quiet_window_and_no_quiet_window_are_honoured() -> None:
    lunch = quiet("Africa/Kigali", 12, 14)
    kigali = ZoneInfo("Africa/Kigali")
    assert lunch(datetime(2031, 3, 4, 13, tzinfo=kigali)) == datetime(2031, 3, 4, 14, tzinfo=kigali)
    never = quiet("Africa/Kigali", 0, 0)
    assert never(datetime(2031, 3, 4, 23, tzinfo=kigali)).hour == 23


async def test_each_round_queues_one_reminder_per_member_with_a_phone_once(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14))

    assert await reminders.queue_due_reminders(session, local(8, 13, 59)) == 0
    assert await reminders.queue_due_reminders(session, local(8, 14)) == 3
    await session.commit()
    assert await reminders.queue_due_reminders(session, local(8, 14, 1)) == 0  # no doubles

    rows = await messages(session, meeting)
    assert {r.person_id for r in rows} == member_ids(w)  # not the outsider
    assert {r.template for r in rows} == {"reminder"}
    assert {r.status for r in rows} == {MessageStatus.queued}
    assert rows[0].params == {
        "community": w.community.name,
        "starts_at": local(10, 14).astimezone(UTC).isoformat(),
        "venue": "Staff room",
        "modality": "in_person",
        "code": meeting.code,
    }
    assert rows[0].send_after == local(8, 14)

    assert await reminders.queue_due_reminders(session, local(10, 12)) == 3  # the 2 h round
    await session.commit()
    assert len(await messages(session, meeting)) == 6


async def test_a_meeting_scheduled_at_short_notice_gets_only_the_nearest_round(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14))
    assert await reminders.queue_due_reminders(session, local(10, 12, 30)) == 3
    await session.commit()
    assert {
        r.dedupe_key.split(":")[3] for r in await messages(session, meeting) if r.dedupe_key
    } == {"2h@20310310T1100"}


async def all_reminders(sessions: SessionFactory) -> int:
    """Reminder rows another connection sees: what is committed."""
    async with sessions() as other:
        stmt = select(sa.func.count()).where(col(Message.kind) == outbox.REMINDER)
        return (await other.exec(stmt)).one()


async def five_meetings(session: AsyncSession, w: f.World) -> list[Meeting]:
    """Five meetings on the 10th, two hours apart from 08:00 to 16:00: at 16:00 on the 8th
    each is due its 48-hour round."""
    return [await meeting_at(session, w, local(10, 8 + 2 * n)) for n in range(5)]


async def test_a_large_round_is_committed_slice_by_slice_so_sending_starts_early(
    session: AsyncSession, sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reminders, "SLICE", 2)
    w = await f.world(session)
    await five_meetings(session, w)
    seen: list[int] = []

    async def commit() -> None:
        await session.commit()
        seen.append(await all_reminders(sessions))

    assert await reminders.queue_due_reminders(session, local(8, 16), each_slice=commit) == 15
    assert seen == [6, 12, 15]  # three members a meeting, two meetings a slice
    assert await reminders.queue_due_reminders(session, local(8, 16, 1), each_slice=commit) == 0


async def test_a_round_cut_short_keeps_its_slices_and_the_next_run_queues_the_rest_once(
    session: AsyncSession, sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reminders, "SLICE", 2)
    w = await f.world(session)
    meetings = await five_meetings(session, w)

    async def commit_then_fail() -> None:
        await session.commit()
        if await all_reminders(sessions) == 12:
            raise ConnectionError("the database went away")

    with pytest.raises(ConnectionError):
        await reminders.queue_due_reminders(session, local(8, 16), each_slice=commit_then_fail)
    await session.rollback()
    assert await all_reminders(sessions) == 12
    assert await reminders.queue_due_reminders(session, local(8, 16, 1)) == 3
    await session.commit()
    for meeting in meetings:
        assert {r.person_id for r in await messages(session, meeting)} == member_ids(w)
    assert await all_reminders(sessions) == 15


async def test_a_community_overrides_the_programme_policy(session: AsyncSession) -> None:
    w = await f.world(session)
    w.community.reminder_offsets_h = [24]
    meeting = await meeting_at(session, w, local(10, 14))
    assert await reminders.queue_due_reminders(session, local(8, 14)) == 0  # no 48 h round here
    assert await reminders.queue_due_reminders(session, local(9, 14)) == 3
    await session.commit()
    assert len(await messages(session, meeting)) == 3


async def test_a_round_due_in_quiet_hours_waits_for_morning(session: AsyncSession) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 8))  # the 2 h round falls at 06:00
    await reminders.queue_due_reminders(session, local(10, 6))
    await session.commit()
    rows = await messages(session, meeting)
    assert {r.send_after for r in rows} == {local(10, 7)}
    assert {r.status for r in rows} == {MessageStatus.queued}


async def test_a_round_that_could_only_go_after_the_start_is_dropped_with_its_reason(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 6, 30))
    assert await reminders.queue_due_reminders(session, local(10, 4, 30)) == 0
    await session.commit()
    rows = await messages(session, meeting)
    assert len(rows) == 3
    assert {r.status for r in rows} == {MessageStatus.dropped}
    assert {r.last_error for r in rows} == {"quiet hours last until the meeting starts"}


async def test_opted_out_and_departed_members_get_nothing(session: AsyncSession) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14))
    stopped, leaving = w.members
    assert w.community.id is not None and leaving.id is not None
    await opt_out(stopped, channel=Channel.sms, session=session, actor=OP)
    await remove_member(w.pid, w.community.id, leaving.id, session=session, actor=OP)
    await reminders.queue_due_reminders(session, local(8, 14))
    await session.commit()
    assert {r.person_id for r in await messages(session, meeting)} == {w.facilitator.id}


async def test_leaving_drops_what_was_queued_for_that_community(session: AsyncSession) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14))
    await reminders.queue_due_reminders(session, local(8, 14))
    leaving = w.members[0]
    assert w.community.id is not None and leaving.id is not None
    await remove_member(w.pid, w.community.id, leaving.id, session=session, actor=OP)
    await session.commit()
    (row,) = await messages(session, meeting, person_id=leaving.id)
    assert (row.status, row.last_error) == (MessageStatus.dropped, "left the community")


async def test_cancelling_drops_pending_reminders_and_tells_members_once(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14))
    await reminders.queue_due_reminders(session, local(8, 14))
    assert w.facilitator.id is not None and meeting.id is not None
    facilitator = Actor.person(w.facilitator.id, Channel.ussd)
    await m.cancel_meeting(
        w.programme, meeting.id, "rain", session=session, actor=facilitator, now=local(8, 15)
    )
    await session.commit()

    reminders_ = await messages(session, meeting, kind=outbox.REMINDER)
    assert {(r.status, r.last_error) for r in reminders_} == {
        (MessageStatus.dropped, "meeting cancelled")
    }
    notices = await messages(session, meeting, kind=outbox.NOTICE)
    # the facilitator who cancelled knows already
    assert {r.person_id for r in notices} == {p.id for p in w.members}
    assert {r.template for r in notices} == {"cancelled"}
    assert notices[0].params is not None and notices[0].params["reason"] == "rain"
    assert await reminders.queue_due_reminders(session, local(10, 12)) == 0


async def test_moving_replaces_pending_reminders_with_one_notice_and_new_rounds(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14))
    await reminders.queue_due_reminders(session, local(8, 14))
    assert meeting.id is not None
    await m.reschedule_meeting(
        w.programme, meeting.id, local(12, 9), session=session, actor=OP, now=local(8, 16)
    )
    await session.commit()

    notices = await messages(session, meeting, kind=outbox.NOTICE)
    assert len(notices) == 3
    assert {r.template for r in notices} == {"moved"}
    assert notices[0].params is not None
    assert notices[0].params["old_starts_at"] == local(10, 14).astimezone(UTC).isoformat()
    assert notices[0].params["starts_at"] == local(12, 9).astimezone(UTC).isoformat()
    old = await messages(session, meeting, kind=outbox.REMINDER)
    assert {r.status for r in old} == {MessageStatus.dropped}

    # the new time has its own rounds
    assert await reminders.queue_due_reminders(session, local(10, 9)) == 3


async def test_a_cancellation_supersedes_a_move_notice_still_held_for_the_morning(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14))
    assert meeting.id is not None
    # 20:00: moved; 21:00: cancelled. Both notices wait for 07:00 (quiet hours).
    await m.reschedule_meeting(
        w.programme, meeting.id, local(12, 9), session=session, actor=OP, now=local(8, 20)
    )
    await m.cancel_meeting(w.programme, meeting.id, session=session, actor=OP, now=local(8, 21))
    await session.commit()

    notices = await messages(session, meeting, kind=outbox.NOTICE)
    pending = [r for r in notices if r.status is MessageStatus.queued]
    assert {r.template for r in pending} == {"cancelled"}
    assert len(pending) == len(member_ids(w))
    assert {(r.status, r.last_error) for r in notices if r.template == "moved"} == {
        (MessageStatus.dropped, "superseded: meeting cancelled")
    }


async def test_a_second_move_supersedes_the_first_moves_pending_notice(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14))
    assert meeting.id is not None
    for new_start, at in ((local(12, 9), local(8, 20)), (local(13, 9), local(8, 21))):
        await m.reschedule_meeting(
            w.programme, meeting.id, new_start, session=session, actor=OP, now=at
        )
    await session.commit()

    pending = [
        r
        for r in await messages(session, meeting, kind=outbox.NOTICE)
        if r.status is MessageStatus.queued
    ]
    assert len(pending) == len(member_ids(w))
    assert {r.params["starts_at"] for r in pending if r.params} == {
        local(13, 9).astimezone(UTC).isoformat()
    }


async def test_remind_now_reaches_every_member_but_the_facilitator_once_an_hour(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14))
    assert w.facilitator.id is not None and meeting.id is not None
    facilitator = Actor.person(w.facilitator.id, Channel.ussd)

    queued = await reminders.remind_now(
        w.programme, meeting.id, session=session, actor=facilitator, now=local(9, 10)
    )
    await session.commit()
    assert (queued.queued, queued.send_after) == (2, local(9, 10))
    assert {r.person_id for r in await messages(session, meeting)} == {p.id for p in w.members}

    with pytest.raises(RemindedRecently):
        await reminders.remind_now(
            w.programme, meeting.id, session=session, actor=facilitator, now=local(9, 10, 59)
        )
    later = await reminders.remind_now(
        w.programme, meeting.id, session=session, actor=facilitator, now=local(9, 11, 1)
    )
    assert later.queued == 2


async def test_remind_now_in_the_evening_goes_next_morning(session: AsyncSession) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14))
    assert meeting.id is not None
    queued = await reminders.remind_now(
        w.programme, meeting.id, session=session, actor=OP, now=local(9, 21)
    )
    assert (queued.queued, queued.send_after) == (3, local(10, 7))


async def test_only_a_facilitator_reminds_and_only_before_the_meeting(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14))
    assert w.members[0].id is not None and meeting.id is not None
    member = Actor.person(w.members[0].id, Channel.ussd)
    with pytest.raises(NotAllowed):
        await reminders.remind_now(
            w.programme, meeting.id, session=session, actor=member, now=local(9, 10)
        )
    with pytest.raises(MeetingClosed):
        await reminders.remind_now(
            w.programme, meeting.id, session=session, actor=OP, now=local(10, 14, 5)
        )


async def test_a_reminder_sent_now_stands_for_the_round_due_now(session: AsyncSession) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14))
    assert meeting.id is not None
    await reminders.remind_now(w.programme, meeting.id, session=session, actor=OP, now=local(9, 10))
    await session.commit()

    # The 48-hour round is due, but the members were just reminded: nothing more goes.
    assert await reminders.queue_due_reminders(session, local(9, 10, 5)) == 0
    # The 2-hour round still does.
    assert await reminders.queue_due_reminders(session, local(10, 12, 30)) == 3


async def test_remind_now_waits_an_hour_after_the_policys_round(session: AsyncSession) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14))
    assert meeting.id is not None
    assert await reminders.queue_due_reminders(session, local(9, 10)) == 3
    await session.commit()
    with pytest.raises(RemindedRecently):
        await reminders.remind_now(
            w.programme, meeting.id, session=session, actor=OP, now=local(9, 10, 30)
        )
    later = await reminders.remind_now(
        w.programme, meeting.id, session=session, actor=OP, now=local(9, 11, 1)
    )
    assert later.queued == 3


async def test_remind_now_a_day_ahead_carries_the_activity_and_hours_ahead_does_not(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    meeting = await meeting_at(session, w, local(10, 14))
    assert meeting.id is not None
    meeting.activity, meeting.activity_page = "Fractions with bottle tops", 12
    await session.commit()
    await reminders.remind_now(w.programme, meeting.id, session=session, actor=OP, now=local(9, 10))
    await reminders.remind_now(w.programme, meeting.id, session=session, actor=OP, now=local(10, 9))
    await session.commit()
    sent = await messages(session, meeting, kind=outbox.REMIND_NOW)
    assert [m.template for m in sent[:3]] == ["reminder_activity"] * 3
    assert sent[0].params is not None and sent[0].params["activity_page"] == 12
    assert {m.template for m in sent[3:]} == {"reminder"}
