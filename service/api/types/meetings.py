"""Meetings, who said they would come, and who came."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import strawberry

from service.api import ids
from service.api.types.common import Channel, Info_, MeetingStatus, Modality, Node, Presence, Rsvp
from service.api.types.communities import CommunityNode
from service.api.types.messages import DeliverySummary
from service.api.types.people import PersonNode
from service.api.types.places import TermNode
from service.models import Attendance, Meeting


@strawberry.type
class AttendanceSummary:
    members: int = strawberry.field(description="Active members of the community now.")
    rsvp_yes: int
    rsvp_no: int
    rsvp_none: int = strawberry.field(description="Members who have not answered.")
    present: int
    remote: int
    absent: int
    attended: int = strawberry.field(description="Present in person or remotely.")


@strawberry.type(name="Meeting")
class MeetingNode(Node):
    starts_at: datetime
    ends_at: datetime
    modality: Modality
    venue: str | None
    agenda: str | None
    activity: str | None = strawberry.field(description="The toolkit activity's title.")
    activity_link: str | None = strawberry.field(description="A short link to the activity.")
    activity_page: int | None = strawberry.field(
        description="The activity's page in the printed toolkit."
    )
    status: MeetingStatus
    code: str = strawberry.field(description="Teachers reply YES <code> or check in with it.")
    cancel_reason: str | None
    pk: strawberry.Private[int]
    community_id: strawberry.Private[int]
    term_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Meeting) -> MeetingNode:
        assert row.id is not None
        return cls(
            id=ids.encode("Meeting", row.id),
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            modality=row.modality,
            venue=row.venue,
            agenda=row.agenda,
            activity=row.activity,
            activity_link=row.activity_link,
            activity_page=row.activity_page,
            status=row.status,
            code=row.code,
            cancel_reason=row.cancel_reason,
            pk=row.id,
            community_id=row.community_id,
            term_id=row.term_id,
        )

    @strawberry.field(description="Start in the programme's time zone, ISO 8601 with offset.")
    def starts_at_local(self, info: Info_) -> str:
        programme = info.context.programme
        assert programme is not None
        return self.starts_at.astimezone(ZoneInfo(programme.timezone)).isoformat()

    @strawberry.field
    async def community(self, info: Info_) -> CommunityNode:
        row = await info.context.loaders.community.load(self.community_id)
        assert row is not None
        return CommunityNode.from_row(row)

    @strawberry.field
    async def term(self, info: Info_) -> TermNode | None:
        if self.term_id is None:
            return None
        row = await info.context.loaders.term.load(self.term_id)
        return TermNode.from_row(row) if row else None

    @strawberry.field(description="One row per person who answered or was marked.")
    async def attendance(self, info: Info_) -> list[AttendanceNode]:
        rows = await info.context.loaders.attendance_of_meeting.load(self.pk)
        return [AttendanceNode.from_row(a) for a in rows]

    @strawberry.field
    async def attendance_summary(self, info: Info_) -> AttendanceSummary:
        return await summary_of(info, self.pk)

    @strawberry.field(description="The SMS sent about this meeting: reminders, notices, replies.")
    async def delivery(self, info: Info_) -> DeliverySummary:
        return DeliverySummary.of(await info.context.loaders.delivery_of_meeting.load(self.pk))


async def summary_of(info: Info_, meeting_id: int) -> AttendanceSummary:
    c = await info.context.loaders.counts_of_meeting.load(meeting_id)
    return AttendanceSummary(
        members=c.members, rsvp_yes=c.rsvp_yes, rsvp_no=c.rsvp_no,
        rsvp_none=max(c.members - c.rsvp_yes - c.rsvp_no, 0), present=c.present,
        remote=c.remote, absent=c.absent, attended=c.present + c.remote,
    )  # fmt: skip


@strawberry.type(name="Attendance")
class AttendanceNode:
    rsvp: Rsvp
    rsvp_reason: str | None
    rsvp_channel: Channel | None
    rsvp_at: datetime | None
    presence: Presence
    presence_channel: Channel | None
    presence_at: datetime | None
    person_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Attendance) -> AttendanceNode:
        return cls(
            rsvp=row.rsvp, rsvp_reason=row.rsvp_reason, rsvp_channel=row.rsvp_channel,
            rsvp_at=row.rsvp_at, presence=row.presence, presence_channel=row.presence_channel,
            presence_at=row.presence_at, person_id=row.person_id,
        )  # fmt: skip

    @strawberry.field
    async def person(self, info: Info_) -> PersonNode:
        row = await info.context.loaders.person.load(self.person_id)
        assert row is not None
        return PersonNode.from_row(row)
