"""Communities of Practice and memberships."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from service.api import ids
from service.api.types.common import (
    CommunityKind,
    Info_,
    MeetingStatus,
    MembershipRole,
    MembershipStatus,
    Node,
)
from service.api.types.messages import DeliverySummary
from service.api.types.people import PersonNode
from service.api.types.places import SchoolNode
from service.models import Community, Membership
from service.models import enums as e

if TYPE_CHECKING:
    from service.api.types.meetings import MeetingNode

Meeting_ = Annotated["MeetingNode", strawberry.lazy("service.api.types.meetings")]


@strawberry.type(name="Community")
class CommunityNode(Node):
    code: str
    name: str
    kind: CommunityKind
    subjects: list[str]
    join_code: str = strawberry.field(description="Teachers join by USSD with this code.")
    meetings_per_term: int
    reminder_offsets_hours: list[int] | None = strawberry.field(
        description="Overrides the programme's reminder policy when set."
    )
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Community) -> CommunityNode:
        assert row.id is not None
        return cls(
            id=ids.encode("Community", row.id),
            code=row.code,
            name=row.name,
            kind=row.kind,
            subjects=list(row.subjects),
            join_code=row.join_code,
            meetings_per_term=row.meetings_per_term,
            reminder_offsets_hours=row.reminder_offsets_h,
            pk=row.id,
        )

    @strawberry.field(description="The SMS sent to this community's members.")
    async def delivery(self, info: Info_) -> DeliverySummary:
        return DeliverySummary.of(await info.context.loaders.delivery_of_community.load(self.pk))

    @strawberry.field
    async def schools(self, info: Info_) -> list[SchoolNode]:
        rows = await info.context.loaders.schools_of_community.load(self.pk)
        return [SchoolNode.from_row(s) for s in rows]

    @strawberry.field(description="Memberships with this status (default: active), any role.")
    async def members(
        self, info: Info_, status: MembershipStatus = MembershipStatus.active
    ) -> list[MembershipNode]:
        rows = await info.context.loaders.memberships_of_community.load(self.pk)
        return [MembershipNode.from_row(m) for m in rows if m.status == status]

    @strawberry.field(description="Active members who facilitate this community.")
    async def facilitators(self, info: Info_) -> list[PersonNode]:
        loaders = info.context.loaders
        rows = await loaders.memberships_of_community.load(self.pk)
        ids_ = [
            m.person_id for m in rows
            if m.role is e.MembershipRole.facilitator and m.status is e.MembershipStatus.active
        ]  # fmt: skip
        people = await loaders.person.load_many(ids_)
        return [PersonNode.from_row(p) for p in people if p is not None]

    @strawberry.field
    async def member_count(self, info: Info_) -> int:
        rows = await info.context.loaders.memberships_of_community.load(self.pk)
        return sum(1 for m in rows if m.status is e.MembershipStatus.active)

    @strawberry.field(description="The next scheduled meeting, if any.")
    async def next_meeting(self, info: Info_) -> Meeting_ | None:
        from service.api.types.meetings import MeetingNode

        row = await info.context.loaders.next_meeting.load(self.pk)
        return MeetingNode.from_row(row) if row else None

    @strawberry.field(description="Meetings in time order, optionally only those with a status.")
    async def meetings(
        self, info: Info_, status: MeetingStatus | None = None, first: int = 100
    ) -> list[Meeting_]:
        from service.api.types.meetings import MeetingNode

        rows = await info.context.loaders.meetings_of_community.load(self.pk)
        chosen = [m for m in rows if status is None or m.status == status]
        return [MeetingNode.from_row(m) for m in chosen[: max(0, min(first, 100))]]


@strawberry.type(name="Membership")
class MembershipNode(Node):
    role: MembershipRole
    status: MembershipStatus
    requested_at: datetime
    joined_at: datetime | None
    left_at: datetime | None
    person_id: strawberry.Private[int]
    community_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Membership) -> MembershipNode:
        return cls(
            id=ids.encode("Membership", row.id),
            role=row.role,
            status=row.status,
            requested_at=row.requested_at,
            joined_at=row.joined_at,
            left_at=row.left_at,
            person_id=row.person_id,
            community_id=row.community_id,
        )

    @strawberry.field
    async def person(self, info: Info_) -> PersonNode:
        row = await info.context.loaders.person.load(self.person_id)
        assert row is not None
        return PersonNode.from_row(row)

    @strawberry.field
    async def community(self, info: Info_) -> CommunityNode:
        row = await info.context.loaders.community.load(self.community_id)
        assert row is not None
        return CommunityNode.from_row(row)
