"""Scheduling rules: no past meetings, codes teachers can type, term series, moves, cancels."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import meetings as m
from service.domain.errors import (
    MeetingCancelled,
    MeetingClash,
    MeetingClosed,
    MeetingInPast,
    MeetingNotStarted,
    NotEnoughDates,
    NotFound,
)
from service.domain.terms import TermInput, create_term
from service.models import AuditEntry, Meeting
from service.models.enums import MeetingStatus
from tests import factories as f

OP = f.OPERATOR


async def test_a_meeting_in_the_past_is_refused(session: AsyncSession) -> None:
    w = await f.world(session)
    assert w.community.id is not None
    with pytest.raises(MeetingInPast):
        await m.schedule_meeting(
            w.programme,
            m.MeetingInput(community_id=w.community.id, starts_at=f.now() - timedelta(minutes=1)),
            session=session,
            actor=OP,
        )


async def test_a_meeting_gets_a_short_numeric_code_unique_among_open_meetings(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    for day in range(3, 40):
        await f.meeting(session, w.programme, w.community, starts_in=timedelta(days=day))
    codes = (await session.exec(select(Meeting.code))).all()
    assert len(codes) == 38
    assert len(set(codes)) == len(codes)
    assert all(code.isdigit() and len(code) == 4 for code in codes)


async def test_meeting_times_are_kept_in_utc_and_end_after_the_default_duration(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    assert w.community.id is not None
    nairobi_2pm = datetime(2031, 3, 4, 14, 0, tzinfo=ZoneInfo("Africa/Nairobi"))
    meeting = await m.schedule_meeting(
        w.programme,
        m.MeetingInput(community_id=w.community.id, starts_at=nairobi_2pm),
        session=session,
        actor=OP,
    )
    await session.commit()
    session.expunge_all()
    stored = await session.get(Meeting, meeting.id)
    assert stored is not None
    assert stored.starts_at == datetime(2031, 3, 4, 11, 0, tzinfo=UTC)
    assert stored.starts_at.tzinfo is not None
    assert stored.ends_at - stored.starts_at == timedelta(minutes=90)


async def test_a_community_cannot_have_two_meetings_at_once(session: AsyncSession) -> None:
    w = await f.world(session)
    assert w.community.id is not None
    with pytest.raises(MeetingClash):
        await m.schedule_meeting(
            w.programme,
            m.MeetingInput(
                community_id=w.community.id, starts_at=w.meeting.starts_at + timedelta(minutes=30)
            ),
            session=session,
            actor=OP,
        )


async def test_another_programmes_community_is_not_found(session: AsyncSession) -> None:
    w = await f.world(session)
    other = await f.programme(session, slug="rw-sbi")
    assert w.community.id is not None
    with pytest.raises(NotFound):
        await m.schedule_meeting(
            other,
            m.MeetingInput(community_id=w.community.id, starts_at=f.now() + timedelta(days=1)),
            session=session,
            actor=OP,
        )


async def _term(session: AsyncSession, w: f.World, starts: date, weeks: int = 12) -> int:
    term = await create_term(
        w.programme,
        TermInput(
            name="Term 1",
            starts_on=starts,
            ends_on=starts + timedelta(weeks=weeks) - timedelta(days=3),
        ),
        session=session,
        actor=OP,
    )
    assert term.id is not None
    return term.id


async def test_a_term_series_spreads_three_tuesday_meetings_across_the_term(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    assert w.community.id is not None
    term_start = date(2031, 1, 6)  # a Monday; its twelve Tuesdays run 7 Jan to 25 Mar
    term_id = await _term(session, w, term_start)
    meetings = await m.schedule_term_meetings(
        w.programme,
        m.SeriesInput(
            community_id=w.community.id, term_id=term_id, weekday=1, local_time=time(14, 0), count=3
        ),
        session=session,
        actor=OP,
        now=datetime(2030, 12, 1, tzinfo=UTC),
    )
    zone = ZoneInfo("Africa/Nairobi")
    local = [mt.starts_at.astimezone(zone) for mt in meetings]
    assert [d.date() for d in local] == [date(2031, 1, 21), date(2031, 2, 18), date(2031, 3, 18)]
    assert all(d.weekday() == 1 and d.time() == time(14, 0) for d in local)
    assert all(mt.term_id == term_id for mt in meetings)
    assert len({mt.code for mt in meetings}) == 3


async def test_a_series_scheduled_mid_term_uses_only_the_days_left(session: AsyncSession) -> None:
    w = await f.world(session)
    assert w.community.id is not None
    term_id = await _term(session, w, date(2031, 1, 6))
    meetings = await m.schedule_term_meetings(
        w.programme,
        m.SeriesInput(
            community_id=w.community.id, term_id=term_id, weekday=1, local_time=time(14, 0), count=2
        ),
        session=session,
        actor=OP,
        now=datetime(2031, 2, 20, tzinfo=UTC),
    )
    assert all(mt.starts_at > datetime(2031, 2, 20, tzinfo=UTC) for mt in meetings)


async def test_a_series_that_does_not_fit_the_term_is_refused_and_schedules_nothing(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    assert w.community.id is not None
    term_id = await _term(session, w, date(2031, 1, 6), weeks=2)
    with pytest.raises(NotEnoughDates):
        await m.schedule_term_meetings(
            w.programme,
            m.SeriesInput(
                community_id=w.community.id,
                term_id=term_id,
                weekday=1,
                local_time=time(14, 0),
                count=3,
            ),
            session=session,
            actor=OP,
            now=datetime(2030, 12, 1, tzinfo=UTC),
        )
    assert len((await session.exec(select(Meeting))).all()) == 1  # only the world's meeting


async def test_moving_a_meeting_keeps_its_code_and_length(session: AsyncSession) -> None:
    w = await f.world(session)
    assert w.meeting.id is not None
    code, length = w.meeting.code, w.meeting.ends_at - w.meeting.starts_at
    new_start = w.meeting.starts_at + timedelta(days=7)
    change = await m.reschedule_meeting(
        w.programme, w.meeting.id, new_start, session=session, actor=OP
    )
    moved = change.meeting
    assert moved.starts_at == new_start
    assert moved.ends_at - moved.starts_at == length
    assert moved.code == code
    entries = (
        await session.exec(select(AuditEntry).where(AuditEntry.action == "meeting.reschedule"))
    ).all()
    assert len(entries) == 1 and "starts_at" in entries[0].changes


async def test_a_meeting_cannot_be_moved_into_the_past(session: AsyncSession) -> None:
    w = await f.world(session)
    assert w.meeting.id is not None
    with pytest.raises(MeetingInPast):
        await m.reschedule_meeting(
            w.programme, w.meeting.id, f.now() - timedelta(hours=1), session=session, actor=OP
        )


async def test_a_cancelled_meeting_cannot_be_moved_or_cancelled_again(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    assert w.meeting.id is not None
    cancelled = (
        await m.cancel_meeting(w.programme, w.meeting.id, "Sports day", session=session, actor=OP)
    ).meeting
    assert cancelled.status is MeetingStatus.cancelled and cancelled.cancel_reason == "Sports day"
    with pytest.raises(MeetingCancelled):
        await m.reschedule_meeting(
            w.programme, w.meeting.id, f.now() + timedelta(days=9), session=session, actor=OP
        )
    with pytest.raises(MeetingCancelled):
        await m.cancel_meeting(w.programme, w.meeting.id, session=session, actor=OP)


async def test_a_cancelled_meetings_code_is_free_for_a_new_meeting(session: AsyncSession) -> None:
    w = await f.world(session)
    assert w.meeting.id is not None
    await m.cancel_meeting(w.programme, w.meeting.id, session=session, actor=OP)
    assert await m.find_open_meeting_by_code(session, w.pid, w.meeting.code) is None


async def test_a_meeting_is_held_only_once_it_has_started(session: AsyncSession) -> None:
    w = await f.world(session)
    assert w.meeting.id is not None
    with pytest.raises(MeetingNotStarted):
        await m.mark_meeting_held(w.programme, w.meeting.id, session=session, actor=OP)
    held = await m.mark_meeting_held(
        w.programme,
        w.meeting.id,
        session=session,
        actor=OP,
        now=w.meeting.starts_at + timedelta(minutes=5),
    )
    assert held.status is MeetingStatus.held
    with pytest.raises(MeetingClosed):
        await m.cancel_meeting(w.programme, w.meeting.id, session=session, actor=OP)


def test_spread_dates_picks_the_middle_of_each_share() -> None:
    days = [date(2031, 1, 1) + timedelta(weeks=i) for i in range(12)]
    assert m.spread_dates(days, 3) == [days[2], days[6], days[10]]
    assert m.spread_dates(days, 1) == [days[6]]
    assert m.spread_dates(days, 12) == days


async def test_a_finished_meeting_with_attendance_is_closed_as_held(session: AsyncSession) -> None:
    from service.domain.attendance import record_presence
    from service.models.enums import Presence

    w = await f.world(session)
    other = await f.meeting(session, w.programme, w.community, starts_in=timedelta(days=3))
    member = w.members[0]
    assert w.meeting.id is not None and member.id is not None
    await record_presence(
        w.pid,
        w.meeting.id,
        member.id,
        Presence.present,
        session=session,
        actor=OP,
        now=w.meeting.starts_at,
    )
    await session.commit()
    just_over = w.meeting.ends_at + timedelta(minutes=30)
    assert await m.close_finished_meetings(session, now=just_over) == 0  # facilitators get time
    later = other.ends_at + m.CLOSE_AFTER
    assert await m.close_finished_meetings(session, now=later) == 1
    await session.commit()
    assert w.meeting.status is MeetingStatus.held
    assert other.status is MeetingStatus.scheduled  # nobody marked: unknown whether it happened


async def test_only_a_facilitator_of_the_community_may_move_or_cancel_it(
    session: AsyncSession,
) -> None:
    from service.domain.actor import Actor
    from service.domain.errors import NotAllowed
    from service.models.enums import Channel

    w = await f.world(session)
    assert w.meeting.id is not None and w.members[0].id is not None and w.facilitator.id is not None
    member = Actor.person(w.members[0].id, Channel.ussd)
    with pytest.raises(NotAllowed):
        await m.cancel_meeting(w.programme, w.meeting.id, session=session, actor=member)
    with pytest.raises(NotAllowed):
        await m.reschedule_meeting(
            w.programme,
            w.meeting.id,
            w.meeting.starts_at + timedelta(days=1),
            session=session,
            actor=member,
        )
    facilitator = Actor.person(w.facilitator.id, Channel.ussd)
    cancelled = (
        await m.cancel_meeting(w.programme, w.meeting.id, session=session, actor=facilitator)
    ).meeting
    assert cancelled.status is MeetingStatus.cancelled


async def test_a_term_series_skips_the_closed_days(session: AsyncSession) -> None:
    w = await f.world(session)
    assert w.community.id is not None
    term_id = await _term(session, w, date(2031, 1, 6))  # twelve Tuesdays, 7 Jan to 25 Mar
    holidays = [date(2031, 1, 21), date(2031, 2, 18)]  # where the series would have fallen
    meetings = await m.schedule_term_meetings(
        w.programme,
        m.SeriesInput(
            community_id=w.community.id,
            term_id=term_id,
            weekday=1,
            local_time=time(14, 0),
            count=3,
            closed_days=holidays,
        ),
        session=session,
        actor=OP,
        now=datetime(2030, 12, 1, tzinfo=UTC),
    )
    zone = ZoneInfo("Africa/Nairobi")
    days = [mt.starts_at.astimezone(zone).date() for mt in meetings]
    # Spread over the ten open Tuesdays: the 2nd, 6th and 9th of them.
    assert days == [date(2031, 1, 14), date(2031, 2, 25), date(2031, 3, 18)]
    assert not set(days) & set(holidays)


async def test_closed_days_can_leave_too_few_days_for_the_series(session: AsyncSession) -> None:
    w = await f.world(session)
    assert w.community.id is not None
    term_id = await _term(session, w, date(2031, 1, 6), weeks=3)  # Tuesdays 7, 14, 21 Jan
    with pytest.raises(NotEnoughDates) as refused:
        await m.schedule_term_meetings(
            w.programme,
            m.SeriesInput(
                community_id=w.community.id,
                term_id=term_id,
                weekday=1,
                local_time=time(14, 0),
                count=2,
                closed_days=[date(2031, 1, 7), date(2031, 1, 14)],
            ),
            session=session,
            actor=OP,
            now=datetime(2030, 12, 1, tzinfo=UTC),
        )
    assert refused.value.params == {"available": 1, "requested": 2}
    assert len((await session.exec(select(Meeting))).all()) == 1  # only the world's meeting


async def test_the_agenda_venue_and_modality_change_without_telling_anyone(
    session: AsyncSession,
) -> None:
    from service.models import Message
    from service.models.enums import Modality

    w = await f.world(session)
    assert w.meeting.id is not None
    edited = await m.update_meeting(
        w.programme,
        w.meeting.id,
        m.MeetingEdit(agenda="  Toolkit 3: group work  ", modality=Modality.hybrid),
        session=session,
        actor=OP,
    )
    assert edited.agenda == "Toolkit 3: group work" and edited.modality is Modality.hybrid
    assert edited.venue == "Staff room"  # not given: unchanged
    cleared = await m.update_meeting(
        w.programme, w.meeting.id, m.MeetingEdit(venue=""), session=session, actor=OP
    )
    assert cleared.venue is None and cleared.agenda == "Toolkit 3: group work"
    entries = await session.exec(select(AuditEntry).where(AuditEntry.action == "meeting.update"))
    assert len(entries.all()) == 2
    assert not (await session.exec(select(Message))).all()
    await m.cancel_meeting(w.programme, w.meeting.id, session=session, actor=OP)
    with pytest.raises(MeetingCancelled):
        await m.update_meeting(
            w.programme, w.meeting.id, m.MeetingEdit(agenda="x"), session=session, actor=OP
        )


async def test_a_console_actor_may_change_a_meeting_it_does_not_facilitate(
    session: AsyncSession,
) -> None:
    """The console checks the role's coverage before it calls the domain."""
    from service.domain.actor import Actor
    from service.domain.errors import NotAllowed
    from service.models.enums import Channel

    w = await f.world(session)
    assert w.meeting.id is not None and w.outsider.id is not None
    with pytest.raises(NotAllowed):
        await m.update_meeting(
            w.programme,
            w.meeting.id,
            m.MeetingEdit(agenda="x"),
            session=session,
            actor=Actor.person(w.outsider.id, Channel.sms),
        )
    staff = Actor.person(w.outsider.id, Channel.console)
    moved = await m.reschedule_meeting(
        w.programme,
        w.meeting.id,
        w.meeting.starts_at + timedelta(days=1),
        session=session,
        actor=staff,
    )
    # Everyone in the community is told, the facilitator too: someone else moved it.
    assert moved.told is not None and moved.told.queued == 3
