"""A meeting's register: who is in it, when it can be filled, all or nothing, held after."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.communities import add_member
from service.domain.errors import (
    MeetingCancelled,
    MeetingClosed,
    MeetingNotStarted,
    NotAllowed,
    NotAMember,
)
from service.domain.meetings import cancel_meeting
from service.domain.register import (
    RegisterState,
    recent_registers,
    record_register,
    register_rows,
    register_state,
)
from service.models import Attendance, Meeting, Membership, Person
from service.models.enums import Channel, MeetingStatus, MembershipRole, Presence
from tests import factories as f


async def _past(session: AsyncSession, w: f.World, days: float) -> Meeting:
    """A meeting of the world's community that began `days` ago (90 minutes long)."""
    return await f.meeting(
        session,
        w.programme,
        w.community,
        at=f.now() - timedelta(days=days + 1),
        starts_in=timedelta(days=1),
    )


async def _world(session: AsyncSession) -> tuple[f.World, Person]:
    w = await f.world(session)
    assert w.community.id is not None
    no_phone = await f.person(session, w.programme, name="Amani", phone=None)
    assert no_phone.id is not None
    await add_member(w.pid, w.community.id, no_phone.id, session=session, actor=f.OPERATOR)
    await session.execute(sa.update(Membership).values(joined_at=f.now() - timedelta(days=60)))
    return w, no_phone


def _coach(w: f.World) -> Actor:
    assert w.facilitator.id is not None
    return Actor.person(w.facilitator.id, Channel.console)


async def test_the_register_lists_members_then_and_facilitators_first(
    session: AsyncSession,
) -> None:
    w, no_phone = await _world(session)
    meeting = await _past(session, w, 3)
    late = await f.person(session, w.programme, name="Zawadi Late")
    assert late.id is not None and w.community.id is not None
    await add_member(w.pid, w.community.id, late.id, session=session, actor=f.OPERATOR)
    rows = await register_rows(session, meeting)
    assert rows[0].person_id == w.facilitator.id
    assert rows[0].role is MembershipRole.facilitator
    assert {r.person_id for r in rows} == {
        w.facilitator.id,
        no_phone.id,
        *(m.id for m in w.members),
    }
    assert next(r for r in rows if r.person_id == no_phone.id).phone is None
    assert all(r.presence is Presence.unknown and r.active for r in rows)


async def test_when_a_register_can_be_filled(session: AsyncSession) -> None:
    w, _ = await _world(session)
    now = f.now()
    recent, old = await _past(session, w, 29.9), await _past(session, w, 30.1)
    assert register_state(recent, now) is RegisterState.open
    assert register_state(old, now) is RegisterState.too_old
    assert register_state(w.meeting, now) is RegisterState.not_started  # in two days
    soon = await f.meeting(session, w.programme, w.community, starts_in=timedelta(minutes=50))
    assert register_state(soon, now) is RegisterState.open  # check-in opens an hour before
    assert soon.id is not None
    await cancel_meeting(w.programme, soon.id, session=session, actor=f.OPERATOR)
    assert register_state(soon, now) is RegisterState.cancelled

    marks = {w.members[0].id or 0: Presence.present}
    for meeting, refusal in (
        (old, MeetingClosed),
        (w.meeting, MeetingNotStarted),
        (soon, MeetingCancelled),
    ):
        assert meeting.id is not None
        with pytest.raises(refusal):
            await record_register(w.programme, meeting.id, marks, session=session, actor=_coach(w))
    assert (await session.exec(select(Attendance))).all() == []


async def test_a_filled_register_is_all_or_nothing_and_holds_the_meeting(
    session: AsyncSession,
) -> None:
    w, no_phone = await _world(session)
    meeting = await _past(session, w, 2)
    assert meeting.id is not None
    m0, m1 = w.members
    assert m0.id is not None and m1.id is not None and no_phone.id is not None
    assert w.outsider.id is not None
    with pytest.raises(NotAMember):
        await record_register(
            w.programme,
            meeting.id,
            {m0.id: Presence.present, w.outsider.id: Presence.present},
            session=session,
            actor=_coach(w),
        )
    assert (await session.exec(select(Attendance))).all() == []
    with pytest.raises(NotAllowed):  # a member is not a facilitator
        await record_register(
            w.programme,
            meeting.id,
            {m0.id: Presence.present},
            session=session,
            actor=Actor.person(m1.id, Channel.console),
        )

    marks = {m0.id: Presence.present, m1.id: Presence.absent, no_phone.id: Presence.present}
    saved = await record_register(w.programme, meeting.id, marks, session=session, actor=_coach(w))
    assert (saved.changed, saved.held) == (3, True)
    assert meeting.status is MeetingStatus.held
    again = await record_register(
        w.programme, meeting.id, marks | {m1.id: Presence.present}, session=session, actor=_coach(w)
    )
    assert (again.changed, again.held) == (1, False)
    stored = {a.person_id: a.presence for a in (await session.exec(select(Attendance))).all()}
    assert stored == {
        m0.id: Presence.present,
        m1.id: Presence.present,
        no_phone.id: Presence.present,
    }


async def test_an_absent_only_register_leaves_the_meeting_scheduled(
    session: AsyncSession,
) -> None:
    w, _ = await _world(session)
    meeting = await _past(session, w, 2)
    assert meeting.id is not None and w.members[0].id is not None
    marks = {w.members[0].id: Presence.absent}
    saved = await record_register(
        w.programme, meeting.id, marks, session=session, actor=Actor.api_key(1)
    )
    assert (saved.changed, saved.held) == (1, False)
    assert meeting.status is MeetingStatus.scheduled


async def test_recent_registers_count_marks_and_members_per_meeting(
    session: AsyncSession,
) -> None:
    w, _ = await _world(session)
    first, second = await _past(session, w, 2), await _past(session, w, 9)
    await _past(session, w, 31)
    other = await f.community(session, w.programme, code="CLUSTER-2")
    assert first.id is not None and w.members[0].id is not None and other.id is not None
    await record_register(
        w.programme,
        first.id,
        {w.members[0].id: Presence.present},
        session=session,
        actor=_coach(w),
    )
    now = f.now()
    found, total = await recent_registers(session, w.pid, None, now=now)
    assert total == 2
    assert [(r.meeting_id, r.marked, r.members) for r in found] == [
        (first.id, 1, 4),
        (second.id, 0, 4),
    ]
    assert found[0].status is MeetingStatus.held and found[0].community_code == "CLUSTER-1"
    page, total = await recent_registers(session, w.pid, None, now=now, offset=1, limit=1)
    assert total == 2 and [r.meeting_id for r in page] == [second.id]
    assert await recent_registers(session, w.pid, {other.id}, now=now) == ([], 0)
