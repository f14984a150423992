"""The database itself protects the data, whatever code writes to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Attendance, Meeting, Message, Person
from service.models.enums import Direction, Language, MeetingStatus
from tests import factories as f


async def test_naive_datetimes_are_refused(session: AsyncSession) -> None:
    w = await f.world(session)
    w.meeting.starts_at = datetime(2031, 1, 1, 9, 0)
    with pytest.raises(StatementError, match="naive datetime"):
        await session.flush()


async def test_times_come_back_aware_and_in_utc(session: AsyncSession) -> None:
    w = await f.world(session)
    session.expunge_all()
    meeting = await session.get(Meeting, w.meeting.id)
    assert meeting is not None and meeting.starts_at.utcoffset() == timedelta(0)
    assert meeting.starts_at == w.meeting.starts_at


async def test_one_phone_per_programme(session: AsyncSession) -> None:
    w = await f.world(session)
    session.add(
        Person(programme_id=w.pid, name="Copy", phone=w.members[0].phone, language=Language.sw)
    )
    with pytest.raises(IntegrityError):
        await session.flush()


async def test_one_attendance_row_per_meeting_and_person(session: AsyncSession) -> None:
    w = await f.world(session)
    assert w.meeting.id is not None and w.members[0].id is not None
    for _ in range(2):
        session.add(Attendance(meeting_id=w.meeting.id, person_id=w.members[0].id))
    with pytest.raises(IntegrityError):
        await session.flush()


async def test_open_meetings_of_a_programme_never_share_a_code(session: AsyncSession) -> None:
    w = await f.world(session)
    start = datetime.now(UTC) + timedelta(days=20)
    twin = Meeting(
        programme_id=w.pid,
        community_id=w.meeting.community_id,
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        code=w.meeting.code,
    )
    session.add(twin)
    with pytest.raises(IntegrityError):
        await session.flush()


async def test_a_code_may_repeat_once_the_earlier_meeting_is_closed(session: AsyncSession) -> None:
    w = await f.world(session)
    w.meeting.status = MeetingStatus.cancelled
    await session.flush()
    start = datetime.now(UTC) + timedelta(days=20)
    session.add(
        Meeting(
            programme_id=w.pid,
            community_id=w.meeting.community_id,
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            code=w.meeting.code,
        )
    )
    await session.flush()


async def test_a_message_dedupe_key_is_used_once(session: AsyncSession) -> None:
    w = await f.world(session)
    for _ in range(2):
        session.add(
            Message(
                programme_id=w.pid,
                direction=Direction.outbound,
                kind="reminder",
                phone="+254712100001",
                body="Reminder",
                dedupe_key="m1:p1:48h",
            )
        )
    with pytest.raises(IntegrityError):
        await session.flush()
