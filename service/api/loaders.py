"""Request-scoped DataLoaders: every relationship field resolves through one.

Each batch is one `IN` query whose results come back in key order, so a list of
50 communities with their members costs the same number of statements as 5.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from strawberry.dataloader import DataLoader

from service.models import (
    Attendance,
    Community,
    CommunitySchool,
    ConsentRecord,
    Meeting,
    Membership,
    Message,
    Person,
    Question,
    School,
    Term,
)
from service.models.enums import (
    Direction,
    MeetingStatus,
    MembershipStatus,
    MessageStatus,
    Presence,
    Rsvp,
)

if TYPE_CHECKING:
    from service.api.context import Context

M = TypeVar("M", bound=SQLModel)


DeliveryRow = tuple[MessageStatus, str | None, int, int, Decimal | None]


def delivery_query(programme_id: int | None) -> Any:
    """Outgoing messages of the programme by status and currency (callers add filters)."""
    return (
        sa.select(
            col(Message.status),
            col(Message.currency),
            func.count(),
            func.coalesce(func.sum(col(Message.segments)), 0),
            func.sum(col(Message.cost)),
        )
        .where(
            col(Message.programme_id) == programme_id,
            col(Message.direction) == Direction.outbound,
        )
        .group_by(col(Message.status), col(Message.currency))
    )


@dataclass
class AttendanceCounts:
    members: int = 0
    rsvp_yes: int = 0
    rsvp_no: int = 0
    present: int = 0
    remote: int = 0
    absent: int = 0


class Loaders:
    def __init__(self, context: Context) -> None:
        self.context = context
        by_id = self._by_id
        self.school = by_id(School)
        self.person = by_id(Person)
        self.community = by_id(Community)
        self.meeting = by_id(Meeting)
        self.term = by_id(Term)
        self.schools_of_community: DataLoader[int, list[School]] = DataLoader(self._schools_of)
        self.memberships_of_community = self._grouped(
            Membership, Membership.community_id, col(Membership.id)
        )
        self.memberships_of_person = self._grouped(
            Membership, Membership.person_id, col(Membership.id)
        )
        self.consent_of_person = self._grouped(
            ConsentRecord, ConsentRecord.person_id, col(ConsentRecord.at)
        )
        self.meetings_of_community = self._grouped(
            Meeting, Meeting.community_id, col(Meeting.starts_at)
        )
        self.attendance_of_meeting = self._grouped(
            Attendance, Attendance.meeting_id, col(Attendance.id)
        )
        self.questions_of_survey = self._grouped(
            Question, Question.survey_id, col(Question.position)
        )
        self.next_meeting: DataLoader[int, Meeting | None] = DataLoader(self._next_meetings)
        self.upcoming_of_person: DataLoader[int, list[Meeting]] = DataLoader(self._upcoming)
        self.counts_of_meeting: DataLoader[int, AttendanceCounts] = DataLoader(self._counts)
        self.delivery_of_meeting = self._delivery(col(Message.meeting_id))
        self.delivery_of_community = self._delivery(col(Message.community_id))

    def _delivery(self, key: Any) -> DataLoader[int, list[DeliveryRow]]:
        """Outgoing SMS counted by status and currency, one GROUP BY for all keys."""

        async def load(keys: list[int]) -> list[list[DeliveryRow]]:
            async def work(session: AsyncSession) -> Sequence[Any]:
                stmt = delivery_query(self.context.programme_id).where(key.in_(keys))
                return (await session.execute(stmt.add_columns(key).group_by(key))).all()

            groups: dict[int, list[DeliveryRow]] = defaultdict(list)
            for status, currency, count, segments, cost, owner in await self._run(work):
                groups[owner].append((status, currency, count, segments, cost))
            return [groups.get(k, []) for k in keys]

        return DataLoader(load)

    async def _run(self, work: Callable[[AsyncSession], Any]) -> Any:
        return await self.context.run(work)

    def _by_id(self, model: type[M]) -> DataLoader[int, M | None]:
        async def load(ids: list[int]) -> list[M | None]:
            pk = col(model.id)  # type: ignore[attr-defined]

            async def work(session: AsyncSession) -> Sequence[M]:
                return (await session.exec(select(model).where(pk.in_(ids)))).all()

            found = {row.id: row for row in await self._run(work)}
            return [found.get(i) for i in ids]

        return DataLoader(load)

    def _grouped(self, model: type[M], key: Any, order: Any) -> DataLoader[int, list[M]]:
        async def load(ids: list[int]) -> list[list[M]]:
            async def work(session: AsyncSession) -> Sequence[M]:
                stmt = select(model).where(col(key).in_(ids)).order_by(order)
                return (await session.exec(stmt)).all()

            groups: dict[int, list[M]] = defaultdict(list)
            for row in await self._run(work):
                groups[getattr(row, key.key)].append(row)
            return [groups.get(i, []) for i in ids]

        return DataLoader(load)

    async def _schools_of(self, ids: list[int]) -> list[list[School]]:
        async def work(session: AsyncSession) -> Sequence[Any]:
            stmt = (
                select(CommunitySchool.community_id, School)
                .join(School, col(School.id) == CommunitySchool.school_id)
                .where(col(CommunitySchool.community_id).in_(ids))
                .order_by(col(School.name))
            )
            return (await session.exec(stmt)).all()

        groups: dict[int, list[School]] = defaultdict(list)
        for community_id, school in await self._run(work):
            groups[community_id].append(school)
        return [groups.get(i, []) for i in ids]

    async def _next_meetings(self, ids: list[int]) -> list[Meeting | None]:
        now = self.context.now
        soonest = (
            select(Meeting.community_id, func.min(Meeting.starts_at).label("starts_at"))
            .where(
                col(Meeting.community_id).in_(ids),
                Meeting.status == MeetingStatus.scheduled,
                col(Meeting.starts_at) > now,
            )
            .group_by(col(Meeting.community_id))
            .subquery()
        )

        async def work(session: AsyncSession) -> Sequence[Meeting]:
            # A community never has two meetings starting together (the clash rule).
            stmt = (
                select(Meeting)
                .join(
                    soonest,
                    (col(Meeting.community_id) == soonest.c.community_id)
                    & (col(Meeting.starts_at) == soonest.c.starts_at),
                )
                .where(Meeting.status == MeetingStatus.scheduled)
            )
            return (await session.exec(stmt)).all()

        found = {m.community_id: m for m in await self._run(work)}
        return [found.get(i) for i in ids]

    async def _upcoming(self, person_ids: list[int]) -> list[list[Meeting]]:
        now = self.context.now

        async def work(session: AsyncSession) -> Sequence[Any]:
            stmt = (
                select(Membership.person_id, Meeting)
                .join(Meeting, col(Meeting.community_id) == Membership.community_id)
                .where(
                    col(Membership.person_id).in_(person_ids),
                    Membership.status == MembershipStatus.active,
                    Meeting.status == MeetingStatus.scheduled,
                    col(Meeting.starts_at) > now,
                )
                .order_by(col(Meeting.starts_at))
            )
            return (await session.exec(stmt)).all()

        groups: dict[int, list[Meeting]] = defaultdict(list)
        for person_id, meeting in await self._run(work):
            groups[person_id].append(meeting)
        return [groups.get(i, []) for i in person_ids]

    async def _counts(self, meeting_ids: list[int]) -> list[AttendanceCounts]:
        async def work(session: AsyncSession) -> tuple[Sequence[Any], Sequence[Any]]:
            marks = (
                select(Attendance.meeting_id, Attendance.rsvp, Attendance.presence, func.count())
                .where(col(Attendance.meeting_id).in_(meeting_ids))
                .group_by(
                    col(Attendance.meeting_id), col(Attendance.rsvp), col(Attendance.presence)
                )
            )
            members = (
                select(Meeting.id, func.count(col(Membership.id)))
                .join(Membership, col(Membership.community_id) == Meeting.community_id)
                .where(
                    col(Meeting.id).in_(meeting_ids), Membership.status == MembershipStatus.active
                )
                .group_by(col(Meeting.id))
            )
            return (await session.exec(marks)).all(), (await session.exec(members)).all()

        mark_rows, member_rows = await self._run(work)
        counts = {i: AttendanceCounts() for i in meeting_ids}
        for meeting_id, members in member_rows:
            counts[meeting_id].members = members
        for meeting_id, rsvp, presence, n in mark_rows:
            c = counts[meeting_id]
            c.rsvp_yes += n if rsvp == Rsvp.yes else 0
            c.rsvp_no += n if rsvp == Rsvp.no else 0
            c.present += n if presence == Presence.present else 0
            c.remote += n if presence == Presence.remote else 0
            c.absent += n if presence == Presence.absent else 0
        return [counts[i] for i in meeting_ids]
