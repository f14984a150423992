"""RSVP and presence: who may answer, when, and what is kept about it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.attendance import record_presence, record_rsvp
from service.domain.communities import remove_member
from service.domain.errors import (
    MeetingCancelled,
    MeetingClosed,
    MeetingNotStarted,
    NotAllowed,
    NotAMember,
    ValidationError,
)
from service.domain.meetings import cancel_meeting
from service.models import Attendance, AuditEntry
from service.models.enums import Channel, MembershipRole, Modality, Presence, Rsvp
from tests import factories as f


def _ids(w: f.World, who: int = 0) -> tuple[int, int]:
    person = w.members[who]
    assert w.meeting.id is not None and person.id is not None
    return w.meeting.id, person.id


async def test_a_member_says_yes_and_the_channel_actor_and_time_are_kept(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    meeting_id, person_id = _ids(w)
    row = await record_rsvp(
        w.pid,
        meeting_id,
        person_id,
        Rsvp.yes,
        session=session,
        actor=Actor.person(person_id, Channel.ussd),
    )
    await session.commit()
    assert row.rsvp is Rsvp.yes
    assert row.rsvp_channel is Channel.ussd
    assert row.rsvp_actor == f"person:{person_id}"
    assert row.rsvp_at is not None and row.rsvp_at.tzinfo is not None


async def test_a_cancelled_meeting_takes_no_rsvp(session: AsyncSession) -> None:
    w = await f.world(session)
    meeting_id, person_id = _ids(w)
    await cancel_meeting(w.programme, meeting_id, session=session, actor=f.OPERATOR)
    with pytest.raises(MeetingCancelled):
        await record_rsvp(
            w.pid,
            meeting_id,
            person_id,
            Rsvp.yes,
            session=session,
            actor=Actor.person(person_id, Channel.sms),
        )


async def test_a_person_outside_the_community_cannot_rsvp(session: AsyncSession) -> None:
    w = await f.world(session)
    assert w.meeting.id is not None and w.outsider.id is not None
    with pytest.raises(NotAMember):
        await record_rsvp(
            w.pid,
            w.meeting.id,
            w.outsider.id,
            Rsvp.yes,
            session=session,
            actor=Actor.person(w.outsider.id, Channel.sms),
        )


async def test_a_member_who_left_can_no_longer_rsvp(session: AsyncSession) -> None:
    w = await f.world(session)
    meeting_id, person_id = _ids(w)
    assert w.community.id is not None
    await remove_member(w.pid, w.community.id, person_id, session=session, actor=f.OPERATOR)
    with pytest.raises(NotAMember):
        await record_rsvp(
            w.pid,
            meeting_id,
            person_id,
            Rsvp.yes,
            session=session,
            actor=Actor.person(person_id, Channel.ussd),
        )


async def test_an_rsvp_after_the_meeting_is_over_is_refused(session: AsyncSession) -> None:
    w = await f.world(session)
    meeting_id, person_id = _ids(w)
    with pytest.raises(MeetingClosed):
        await record_rsvp(
            w.pid,
            meeting_id,
            person_id,
            Rsvp.yes,
            session=session,
            actor=Actor.person(person_id, Channel.ussd),
            now=w.meeting.ends_at + timedelta(minutes=1),
        )


async def test_saying_yes_twice_changes_nothing_and_audits_once(session: AsyncSession) -> None:
    w = await f.world(session)
    meeting_id, person_id = _ids(w)
    actor = Actor.person(person_id, Channel.sms)
    first = await record_rsvp(w.pid, meeting_id, person_id, Rsvp.yes, session=session, actor=actor)
    first_at = first.rsvp_at
    await record_rsvp(w.pid, meeting_id, person_id, Rsvp.yes, session=session, actor=actor)
    await session.commit()
    rows = (await session.exec(select(Attendance))).all()
    assert len(rows) == 1 and rows[0].rsvp_at == first_at
    audits = (
        await session.exec(select(AuditEntry).where(AuditEntry.action == "attendance.rsvp"))
    ).all()
    assert len(audits) == 1


async def test_a_reason_is_kept_with_no_and_dropped_with_yes(session: AsyncSession) -> None:
    w = await f.world(session)
    meeting_id, person_id = _ids(w)
    actor = Actor.person(person_id, Channel.ussd)
    row = await record_rsvp(
        w.pid, meeting_id, person_id, Rsvp.no, "Sick", session=session, actor=actor
    )
    assert (row.rsvp, row.rsvp_reason) == (Rsvp.no, "Sick")
    row = await record_rsvp(
        w.pid, meeting_id, person_id, Rsvp.yes, "Sick", session=session, actor=actor
    )
    assert (row.rsvp, row.rsvp_reason) == (Rsvp.yes, None)


async def test_check_in_opens_an_hour_before_the_start(session: AsyncSession) -> None:
    w = await f.world(session)
    meeting_id, person_id = _ids(w)
    actor = Actor.person(person_id, Channel.ussd)
    with pytest.raises(MeetingNotStarted):
        await record_presence(
            w.pid,
            meeting_id,
            person_id,
            Presence.present,
            session=session,
            actor=actor,
            now=w.meeting.starts_at - timedelta(minutes=61),
        )
    row = await record_presence(
        w.pid,
        meeting_id,
        person_id,
        Presence.present,
        session=session,
        actor=actor,
        now=w.meeting.starts_at - timedelta(minutes=59),
    )
    assert row.presence is Presence.present


async def test_remote_presence_needs_a_meeting_with_a_remote_part(session: AsyncSession) -> None:
    w = await f.world(session)
    meeting_id, person_id = _ids(w)
    actor = Actor.person(person_id, Channel.ussd)
    at = w.meeting.starts_at
    with pytest.raises(ValidationError):
        await record_presence(
            w.pid, meeting_id, person_id, Presence.remote, session=session, actor=actor, now=at
        )
    hybrid = await f.meeting(
        session, w.programme, w.community, starts_in=timedelta(days=5), modality=Modality.hybrid
    )
    assert hybrid.id is not None
    row = await record_presence(
        w.pid,
        hybrid.id,
        person_id,
        Presence.remote,
        session=session,
        actor=actor,
        now=hybrid.starts_at,
    )
    assert row.presence is Presence.remote


async def test_a_facilitator_marks_a_member_who_has_no_phone(session: AsyncSession) -> None:
    w = await f.world(session)
    no_phone = await f.person(session, w.programme, name="Mwalimu Bila Simu", phone=None)
    assert w.community.id is not None and no_phone.id is not None and w.meeting.id is not None
    assert w.facilitator.id is not None
    from service.domain.communities import add_member

    await add_member(w.pid, w.community.id, no_phone.id, session=session, actor=f.OPERATOR)
    row = await record_presence(
        w.pid,
        w.meeting.id,
        no_phone.id,
        Presence.present,
        session=session,
        actor=Actor.person(w.facilitator.id, Channel.ussd),
        now=w.meeting.starts_at,
    )
    assert row.presence is Presence.present
    assert row.presence_actor == f"person:{w.facilitator.id}"


async def test_a_member_cannot_mark_someone_else(session: AsyncSession) -> None:
    w = await f.world(session)
    meeting_id, person_id = _ids(w, 0)
    _, other_id = _ids(w, 1)
    with pytest.raises(NotAllowed):
        await record_presence(
            w.pid,
            meeting_id,
            other_id,
            Presence.present,
            session=session,
            actor=Actor.person(person_id, Channel.ussd),
            now=w.meeting.starts_at,
        )


async def test_rsvp_and_presence_share_one_row_per_person_and_meeting(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    meeting_id, person_id = _ids(w)
    actor = Actor.person(person_id, Channel.ussd)
    await record_rsvp(w.pid, meeting_id, person_id, Rsvp.yes, session=session, actor=actor)
    await record_presence(
        w.pid,
        meeting_id,
        person_id,
        Presence.present,
        session=session,
        actor=actor,
        now=w.meeting.starts_at,
    )
    await session.commit()
    rows = (await session.exec(select(Attendance))).all()
    assert [(r.rsvp, r.presence) for r in rows] == [(Rsvp.yes, Presence.present)]


async def test_a_facilitator_role_is_needed_not_just_any_membership(session: AsyncSession) -> None:
    w = await f.world(session)
    assert w.facilitator.id is not None and w.community.id is not None
    from service.domain.communities import add_member

    # Demote the facilitator to a plain member: they may no longer mark others.
    await add_member(
        w.pid,
        w.community.id,
        w.facilitator.id,
        role=MembershipRole.member,
        session=session,
        actor=f.OPERATOR,
    )
    meeting_id, person_id = _ids(w)
    with pytest.raises(NotAllowed):
        await record_presence(
            w.pid,
            meeting_id,
            person_id,
            Presence.present,
            session=session,
            actor=Actor.person(w.facilitator.id, Channel.ussd),
            now=w.meeting.starts_at,
        )
