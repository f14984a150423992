"""A meeting's register: who belonged, how each was marked, and filling it in at once.

A facilitator often keeps a paper register and types it in later. The register of a
meeting lists the members of its community when it began (members with no phone
included: they can only be marked by someone else) and anyone already marked there.
It can be filled from when check-in opens until `REGISTER_DAYS` after the meeting
began; older registers are read-only, so months-old figures do not move under a
report already sent. The changed marks go through `record_presences`, with its
rules, channel and an audit entry each; a meeting that is over with someone present is then
marked held, as the worker would do a little later (`close_finished_meetings`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.attendance import CHECK_IN_OPENS, record_presences
from service.domain.communities import is_facilitator
from service.domain.errors import (
    MeetingCancelled,
    MeetingClosed,
    MeetingNotStarted,
    NotAllowed,
    NotAMember,
    ValidationError,
)
from service.domain.lookup import get_owned
from service.domain.meetings import mark_meeting_held
from service.domain.reports import ATTENDED, belonged_at
from service.models import Attendance, Community, Meeting, Membership, Person, Programme
from service.models.enums import MeetingStatus, MembershipRole, MembershipStatus, Presence
from service.models.types import utcnow

REGISTER_DAYS = 30
MAX_MARKS = 1000  # a community's register; more is not a register but a mistake
MARKED = (Presence.present, Presence.remote, Presence.absent)


class RegisterState(StrEnum):
    """Whether a register can be filled now, and if not, why."""

    open = "open"
    cancelled = "cancelled"
    not_started = "not_started"  # check-in has not opened yet
    too_old = "too_old"  # began more than REGISTER_DAYS ago


def register_state(meeting: Meeting, now: datetime) -> RegisterState:
    if meeting.status is MeetingStatus.cancelled:
        return RegisterState.cancelled
    if now < meeting.starts_at - CHECK_IN_OPENS:
        return RegisterState.not_started
    if meeting.starts_at < now - timedelta(days=REGISTER_DAYS):
        return RegisterState.too_old
    return RegisterState.open


def check_register_open(meeting: Meeting, now: datetime) -> None:
    """The refusal for a register that cannot be filled now (as `register_state` says)."""
    state = register_state(meeting, now)
    if state is RegisterState.cancelled:
        raise MeetingCancelled("the meeting was cancelled", meeting_id=meeting.id)
    if state is RegisterState.not_started:
        raise MeetingNotStarted(
            "the register opens an hour before the meeting starts",
            meeting_id=meeting.id,
            starts_at=meeting.starts_at,
        )
    if state is RegisterState.too_old:
        raise MeetingClosed(
            f"the register of a meeting more than {REGISTER_DAYS} days old can no longer "
            "be changed",
            meeting_id=meeting.id,
        )


async def may_fill(session: AsyncSession, meeting: Meeting, actor: Actor) -> bool:
    """Whether `actor` may mark others at this meeting: a person must facilitate its
    community (as `record_presences` requires); an API key or the CLI may."""
    if actor.kind != "person":
        return True
    assert actor.id is not None
    return await is_facilitator(session, meeting.community_id, actor.id)


@dataclass(frozen=True)
class RegisterRow:
    person_id: int
    name: str
    phone: str | None
    role: MembershipRole
    active: bool  # an active member now: only they can be marked
    presence: Presence


async def register_rows(session: AsyncSession, meeting: Meeting) -> list[RegisterRow]:
    """The register's rows: facilitators first, then members by name."""
    stmt = (
        sa.select(
            col(Person.id),
            col(Person.name),
            col(Person.phone),
            col(Membership.role),
            col(Membership.status),
            col(Attendance.presence),
        )
        .select_from(Membership)
        .join(Person, col(Person.id) == col(Membership.person_id))
        .outerjoin(
            Attendance,
            (col(Attendance.meeting_id) == meeting.id)
            & (col(Attendance.person_id) == col(Membership.person_id)),
        )
        .where(
            col(Membership.community_id) == meeting.community_id,
            col(Attendance.id).is_not(None) | belonged_at(meeting.starts_at),
        )
        .order_by(
            sa.case((col(Membership.role) == MembershipRole.facilitator, 0), else_=1),
            col(Person.name),
            col(Person.id),
        )
    )
    return [
        RegisterRow(
            person_id=int(pid),
            name=str(name),
            phone=phone,
            role=role,
            active=status is MembershipStatus.active,
            presence=presence or Presence.unknown,
        )
        for pid, name, phone, role, status, presence in (await session.execute(stmt)).all()
    ]


async def joined_since(session: AsyncSession, meeting: Meeting) -> int:
    """Active members who joined after the meeting began: not in its register."""
    stmt = sa.select(func.count()).where(
        col(Membership.community_id) == meeting.community_id,
        col(Membership.status) == MembershipStatus.active,
        col(Membership.joined_at) > meeting.starts_at,
    )
    return int((await session.execute(stmt)).scalar_one())


@dataclass(frozen=True)
class RegisterSaved:
    changed: int  # marks that changed
    held: bool  # the meeting was marked held by this save


async def record_register(
    programme: Programme,
    meeting_id: int,
    marks: Mapping[int, Presence],
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> RegisterSaved:
    """Record a filled register: {person id: presence}. All or nothing: one person who
    is not in the register (not an active member of the community, or another
    programme's) refuses the whole register before anything is written."""
    assert programme.id is not None
    now = now or utcnow()
    meeting = await get_owned(session, Meeting, meeting_id, programme.id)
    assert meeting.id is not None
    check_register_open(meeting, now)
    if not await may_fill(session, meeting, actor):
        raise NotAllowed("only a facilitator of this community can fill in its register")
    if len(marks) > MAX_MARKS:
        raise ValidationError(f"at most {MAX_MARKS} marks at once", field="marks")
    rows = {row.person_id: row for row in await register_rows(session, meeting)}
    strangers = sorted(p for p in marks if p not in rows or not rows[p].active)
    if strangers:
        raise NotAMember(
            "not everyone in this register is an active member of the meeting's community",
            meeting_id=meeting.id,
            person_ids=strangers[:20],
        )
    changes = {p: marks[p] for p in sorted(marks) if rows[p].presence is not marks[p]}
    if changes:
        await record_presences(
            programme.id, meeting.id, changes, session=session, actor=actor, now=now
        )
    final = {p: marks.get(p, row.presence) for p, row in rows.items()}
    held = False
    if (
        meeting.status is MeetingStatus.scheduled
        and meeting.ends_at <= now
        and any(presence in ATTENDED for presence in final.values())
    ):
        await mark_meeting_held(programme, meeting.id, session=session, actor=actor, now=now)
        held = True
    return RegisterSaved(changed=len(changes), held=held)


@dataclass(frozen=True)
class RegisterSummary:
    meeting_id: int
    starts_at: datetime
    status: MeetingStatus
    community_id: int
    community_code: str
    community_name: str
    marked: int
    members: int


async def recent_registers(
    session: AsyncSession,
    programme_id: int,
    community_ids: Collection[int] | None,
    *,
    now: datetime,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[RegisterSummary], int]:
    """Registers that can be filled now in these communities (None: all of the
    programme's), newest first, with how many of each are marked; and how many there
    are in all. Three statements whatever the page size."""
    where: list[Any] = [
        col(Meeting.programme_id) == programme_id,
        col(Meeting.status) != MeetingStatus.cancelled,
        col(Meeting.starts_at) >= now - timedelta(days=REGISTER_DAYS),
        col(Meeting.starts_at) <= now + CHECK_IN_OPENS,
    ]
    if community_ids is not None:
        where.append(col(Meeting.community_id).in_(sorted(community_ids)))
    total = int(
        (
            await session.execute(sa.select(func.count()).select_from(Meeting).where(*where))
        ).scalar_one()
    )
    page = (
        sa.select(
            col(Meeting.id),
            col(Meeting.starts_at),
            col(Meeting.status),
            col(Community.id),
            col(Community.code),
            col(Community.name),
        )
        .join(Community, col(Community.id) == col(Meeting.community_id))
        .where(*where)
        .order_by(col(Meeting.starts_at).desc(), col(Meeting.id).desc())
        .offset(offset)
        .limit(limit)
    )
    meetings = (await session.execute(page)).all()
    marked: Any = func.sum(sa.case((col(Attendance.presence).in_(MARKED), 1), else_=0))
    counts = (
        sa.select(col(Meeting.id), marked, func.count(col(Membership.id)))
        .join(Membership, col(Membership.community_id) == col(Meeting.community_id))
        .outerjoin(
            Attendance,
            (col(Attendance.meeting_id) == col(Meeting.id))
            & (col(Attendance.person_id) == col(Membership.person_id)),
        )
        .where(
            col(Meeting.id).in_([row[0] for row in meetings]),
            col(Attendance.id).is_not(None) | belonged_at(col(Meeting.starts_at)),
        )
        .group_by(col(Meeting.id))
    )
    tally = (
        {
            int(mid): (int(done or 0), int(seats))
            for mid, done, seats in (await session.execute(counts)).all()
        }
        if meetings
        else {}
    )
    found = [
        RegisterSummary(
            meeting_id=int(row[0]),
            starts_at=row[1],
            status=row[2],
            community_id=int(row[3]),
            community_code=str(row[4]),
            community_name=str(row[5]),
            marked=tally.get(int(row[0]), (0, 0))[0],
            members=tally.get(int(row[0]), (0, 0))[1],
        )
        for row in meetings
    ]
    return found, total
