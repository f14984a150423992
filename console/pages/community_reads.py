"""What the communities and meeting pages show, read in a few grouped statements.

Every read here is bounded by the role's coverage first (`covered_community`,
`covered_meeting`): an id outside it is not found, exactly like a missing one.
Lists are read a page at a time and their figures aggregated in SQL, so a page costs
the same few statements for a community of 10 members as for a programme of 5,000.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func
from sqlmodel.ext.asyncio.session import AsyncSession

from console.auth import Page
from service.domain.console_access import Coverage
from service.domain.errors import NotFound
from service.domain.lookup import get_owned
from service.models import (
    Attendance,
    Community,
    CommunitySchool,
    Meeting,
    Membership,
    Person,
    School,
)
from service.models.enums import (
    MeetingStatus,
    MembershipRole,
    MembershipStatus,
    Presence,
    Rsvp,
)

PAGE_SIZE = 50
MEETINGS_SHOWN = 10  # upcoming, and as many recent ones, on a community's page
FOUND_SHOWN = 20  # people found when adding a member


async def covered_community(current: Page, community_id: int) -> Community:
    """The community if the viewer's role covers it, else NotFound (as for a missing id)."""
    coverage = current.viewer.coverage
    if not coverage.covers(community_id):
        raise NotFound(f"community {community_id} not found")
    return await get_owned(current.session, Community, community_id, coverage.programme_id)


async def covered_meeting(current: Page, meeting_id: int) -> Meeting:
    coverage = current.viewer.coverage
    meeting = await get_owned(current.session, Meeting, meeting_id, coverage.programme_id)
    if not coverage.covers(meeting.community_id):
        raise NotFound(f"meeting {meeting_id} not found")
    return meeting


def like(text: str) -> str:
    """A LIKE pattern that finds `text` anywhere, its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _in_coverage(coverage: Coverage) -> Any:
    mine = col(Community.programme_id) == coverage.programme_id
    if coverage.community_ids is None:
        return mine
    return mine & col(Community.id).in_(sorted(coverage.community_ids))


@dataclass
class CommunityRow:
    community: Community
    members: int
    pending: int
    next_meeting: datetime | None
    schools: list[str] = field(default_factory=list)
    facilitators: list[str] = field(default_factory=list)


def _member_count(status: MembershipStatus) -> Any:
    return (
        sa.select(func.count())
        .select_from(Membership)
        .where(col(Membership.community_id) == col(Community.id), col(Membership.status) == status)
        .scalar_subquery()
    )


async def community_page(
    session: AsyncSession, coverage: Coverage, query: str, page: int, now: datetime
) -> tuple[list[CommunityRow], int]:
    """One page of the communities the role covers that match `query`, and how many match."""
    where = _in_coverage(coverage)
    if query:
        pattern = like(query)
        where = where & (
            col(Community.name).ilike(pattern, escape="\\")
            | col(Community.code).ilike(pattern, escape="\\")
        )
    total = (await session.execute(sa.select(func.count(col(Community.id))).where(where))).scalar()
    next_meeting = (
        sa.select(func.min(col(Meeting.starts_at)))
        .where(
            col(Meeting.community_id) == col(Community.id),
            col(Meeting.status) == MeetingStatus.scheduled,
            col(Meeting.starts_at) > now,
        )
        .scalar_subquery()
    )
    stmt = (
        sa.select(
            Community,
            _member_count(MembershipStatus.active),
            _member_count(MembershipStatus.pending),
            next_meeting,
        )
        .where(where)
        .order_by(col(Community.name), col(Community.id))
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    rows = [
        CommunityRow(community, members, pending, next_at)
        for community, members, pending, next_at in (await session.execute(stmt)).all()
    ]
    ids = [row.community.id for row in rows]
    schools = await schools_of(session, [i for i in ids if i is not None])
    facilitators = await facilitators_of(session, [i for i in ids if i is not None])
    for row in rows:
        assert row.community.id is not None
        row.schools = schools.get(row.community.id, [])
        row.facilitators = facilitators.get(row.community.id, [])
    return rows, int(total or 0)


async def schools_of(session: AsyncSession, community_ids: list[int]) -> dict[int, list[str]]:
    if not community_ids:
        return {}
    stmt = (
        sa.select(col(CommunitySchool.community_id), col(School.name))
        .join(School, col(School.id) == col(CommunitySchool.school_id))
        .where(col(CommunitySchool.community_id).in_(community_ids))
        .order_by(col(School.name))
    )
    found: dict[int, list[str]] = defaultdict(list)
    for community_id, name in (await session.execute(stmt)).all():
        found[community_id].append(name)
    return found


async def facilitators_of(session: AsyncSession, community_ids: list[int]) -> dict[int, list[str]]:
    if not community_ids:
        return {}
    stmt = (
        sa.select(col(Membership.community_id), col(Person.name))
        .join(Person, col(Person.id) == col(Membership.person_id))
        .where(
            col(Membership.community_id).in_(community_ids),
            col(Membership.role) == MembershipRole.facilitator,
            col(Membership.status) == MembershipStatus.active,
        )
        .order_by(col(Person.name))
    )
    found: dict[int, list[str]] = defaultdict(list)
    for community_id, name in (await session.execute(stmt)).all():
        found[community_id].append(name)
    return found


@dataclass(frozen=True)
class MemberRow:
    membership_id: int
    person_id: int
    name: str
    phone: str | None
    school: str | None
    role: MembershipRole
    status: MembershipStatus
    requested_at: datetime


async def members_of(session: AsyncSession, community_id: int) -> list[MemberRow]:
    """Active members and pending requests: facilitators first, then by name."""
    stmt = (
        sa.select(
            col(Membership.id),
            col(Person.id),
            col(Person.name),
            col(Person.phone),
            col(School.name),
            col(Membership.role),
            col(Membership.status),
            col(Membership.requested_at),
        )
        .join(Person, col(Person.id) == col(Membership.person_id))
        .outerjoin(School, col(School.id) == col(Person.school_id))
        .where(
            col(Membership.community_id) == community_id,
            col(Membership.status) != MembershipStatus.left,
        )
        .order_by(
            sa.case((col(Membership.role) == MembershipRole.facilitator, 0), else_=1),
            col(Person.name),
            col(Person.id),
        )
    )
    return [MemberRow(*row) for row in (await session.execute(stmt)).all()]


@dataclass
class MeetingFigures:
    members: int = 0
    yes: int = 0
    no: int = 0
    attended: int = 0
    absent: int = 0

    @property
    def no_answer(self) -> int:
        return max(self.members - self.yes - self.no, 0)


async def figures_of(
    session: AsyncSession, community_id: int, meeting_ids: list[int]
) -> dict[int, MeetingFigures]:
    """RSVPs and presence per meeting, as the API's attendanceSummary counts them."""
    members = (
        await session.execute(
            sa.select(func.count(col(Membership.id))).where(
                col(Membership.community_id) == community_id,
                col(Membership.status) == MembershipStatus.active,
            )
        )
    ).scalar()
    figures = {i: MeetingFigures(members=int(members or 0)) for i in meeting_ids}
    if not meeting_ids:
        return figures
    stmt = (
        sa.select(
            col(Attendance.meeting_id), col(Attendance.rsvp), col(Attendance.presence), func.count()
        )
        .where(col(Attendance.meeting_id).in_(meeting_ids))
        .group_by(col(Attendance.meeting_id), col(Attendance.rsvp), col(Attendance.presence))
    )
    for meeting_id, rsvp, presence, n in (await session.execute(stmt)).all():
        f = figures[meeting_id]
        f.yes += n if rsvp == Rsvp.yes else 0
        f.no += n if rsvp == Rsvp.no else 0
        f.attended += n if presence in (Presence.present, Presence.remote) else 0
        f.absent += n if presence == Presence.absent else 0
    return figures


async def meetings_of(
    session: AsyncSession, community_id: int, now: datetime
) -> tuple[list[Meeting], list[Meeting]]:
    """The next meetings (cancelled ones too, so a cancellation shows) and the last ones."""
    mine = col(Meeting.community_id) == community_id
    upcoming = sa.select(Meeting).where(mine, col(Meeting.starts_at) >= now)
    upcoming = upcoming.order_by(col(Meeting.starts_at)).limit(MEETINGS_SHOWN)
    recent = sa.select(Meeting).where(mine, col(Meeting.starts_at) < now)
    recent = recent.order_by(col(Meeting.starts_at).desc()).limit(MEETINGS_SHOWN)
    return (
        list((await session.execute(upcoming)).scalars()),
        list((await session.execute(recent)).scalars()),
    )


@dataclass(frozen=True)
class FoundPerson:
    person_id: int
    name: str
    phone: str | None
    school: str | None
    status: MembershipStatus | None  # in this community, if at all


async def find_people(
    session: AsyncSession, programme_id: int, community_id: int, query: str, phone: str | None
) -> list[FoundPerson]:
    """People of the programme whose name holds `query`, or whose phone is `phone`."""
    matches: Any = col(Person.name).ilike(like(query), escape="\\")
    if phone is not None:
        matches = matches | (col(Person.phone) == phone)
    stmt = (
        sa.select(
            col(Person.id),
            col(Person.name),
            col(Person.phone),
            col(School.name),
            col(Membership.status),
        )
        .outerjoin(School, col(School.id) == col(Person.school_id))
        .outerjoin(
            Membership,
            (col(Membership.person_id) == col(Person.id))
            & (col(Membership.community_id) == community_id),
        )
        .where(col(Person.programme_id) == programme_id, matches)
        .order_by(col(Person.name), col(Person.id))
        .limit(FOUND_SHOWN)
    )
    return [FoundPerson(*row) for row in (await session.execute(stmt)).all()]
