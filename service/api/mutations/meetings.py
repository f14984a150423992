"""Scheduling, moving and cancelling meetings; recording attendance."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import errors as e
from service.api import ids
from service.api.mutations.base import given, mutate
from service.api.types.common import Info_, Modality, Presence, Rsvp
from service.api.types.meetings import AttendanceNode, MeetingNode
from service.domain.attendance import record_presence, record_rsvp
from service.domain.errors import ValidationError
from service.domain.lookup import get_owned
from service.domain.meetings import (
    MeetingEdit,
    MeetingInput,
    SeriesInput,
    cancel_meeting,
    reschedule_meeting,
    schedule_meeting,
    schedule_term_meetings,
    update_meeting,
)
from service.models import Meeting, Programme
from service.models.enums import Scope


@strawberry.input
class ScheduleMeetingInput:
    community_id: strawberry.ID
    starts_at: datetime = strawberry.field(
        description="With its offset, e.g. 2026-12-01T14:00+03:00."
    )
    ends_at: datetime | None = None
    duration_minutes: int = 90
    modality: Modality = Modality.in_person
    venue: str | None = None
    agenda: str | None = None
    activity: str | None = strawberry.field(
        default=None, description="The toolkit activity's title (at most 120 characters)."
    )
    activity_link: str | None = strawberry.field(
        default=None, description="A short http(s) link to the activity (at most 100)."
    )
    activity_page: int | None = strawberry.field(
        default=None, description="The activity's page in the printed toolkit."
    )


@strawberry.input
class ScheduleTermMeetingsInput:
    community_id: strawberry.ID
    term_id: strawberry.ID
    weekday: int = strawberry.field(description="0 = Monday … 6 = Sunday.")
    local_time: time = strawberry.field(description="In the programme's time zone, e.g. 14:00.")
    count: int
    duration_minutes: int = 90
    modality: Modality = Modality.in_person
    venue: str | None = None
    agenda: str | None = None
    activity: str | None = strawberry.field(
        default=None, description="The toolkit activity's title (at most 120 characters)."
    )
    activity_link: str | None = strawberry.field(
        default=None, description="A short http(s) link to the activity (at most 100)."
    )
    activity_page: int | None = strawberry.field(
        default=None, description="The activity's page in the printed toolkit."
    )
    closed_days: list[date] = strawberry.field(
        default_factory=list,
        description="Days the series skips, e.g. public holidays (programme dates).",
    )


@strawberry.input
class UpdateMeetingInput:
    modality: Modality | None = strawberry.UNSET
    venue: str | None = strawberry.field(
        default=strawberry.UNSET, description="Null or empty removes it."
    )
    agenda: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="The agenda; null or empty removes it.",
    )
    activity: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="The toolkit activity's title (at most 120); null or empty removes it.",
    )
    activity_link: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="A short http(s) link to the activity (at most 100); null removes it.",
    )
    activity_page: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="The activity's page in the printed toolkit; null removes it.",
    )


@strawberry.input
class AttendanceMarkInput:
    person_id: strawberry.ID
    presence: Presence | None = None
    rsvp: Rsvp | None = None
    reason: str | None = strawberry.field(default=None, description="Why not, with rsvp: no.")


@strawberry.type
class MeetingPayload:
    meeting: MeetingNode


@strawberry.type
class MeetingsPayload:
    meetings: list[MeetingNode]


@strawberry.type
class AttendancePayload:
    meeting: MeetingNode
    attendance: list[AttendanceNode] = strawberry.field(description="The rows this call changed.")


ScheduleMeetingResult = Annotated[
    MeetingPayload | e.NotFound | e.NotAllowed | e.ValidationError | e.Conflict | e.MeetingInPast
    | e.MeetingClash,
    strawberry.union("ScheduleMeetingResult"),
]  # fmt: skip
ScheduleTermMeetingsResult = Annotated[
    MeetingsPayload | e.NotFound | e.NotAllowed | e.ValidationError | e.Conflict | e.MeetingInPast
    | e.MeetingClash | e.NotEnoughDates,
    strawberry.union("ScheduleTermMeetingsResult"),
]  # fmt: skip
ChangeMeetingResult = Annotated[
    MeetingPayload | e.NotFound | e.NotAllowed | e.ValidationError | e.Conflict | e.MeetingInPast
    | e.MeetingClash | e.MeetingCancelled | e.MeetingClosed,
    strawberry.union("ChangeMeetingResult"),
]  # fmt: skip
RecordAttendanceResult = Annotated[
    AttendancePayload | e.NotFound | e.NotAllowed | e.ValidationError | e.Conflict
    | e.MeetingCancelled | e.MeetingClosed | e.MeetingNotStarted | e.NotAMember,
    strawberry.union("RecordAttendanceResult"),
]  # fmt: skip

UPDATABLE = ("modality", "venue", "agenda", "activity", "activity_link", "activity_page")
MEETING_ERRORS = (e.MeetingInPast, e.MeetingClash, e.MeetingCancelled, e.MeetingClosed)


@strawberry.type
class MeetingMutations:
    @strawberry.mutation
    async def schedule_meeting(
        self, info: Info_, input: ScheduleMeetingInput
    ) -> ScheduleMeetingResult:
        async def work(session: AsyncSession, programme: Programme) -> MeetingPayload:
            data = MeetingInput(
                community_id=ids.decode(input.community_id, "Community"),
                starts_at=input.starts_at,
                ends_at=input.ends_at,
                duration_minutes=input.duration_minutes,
                modality=input.modality,
                venue=input.venue,
                agenda=input.agenda,
                activity=input.activity,
                activity_link=input.activity_link,
                activity_page=input.activity_page,
            )
            meeting = await schedule_meeting(
                programme, data, session=session, actor=info.context.actor
            )
            return MeetingPayload(meeting=MeetingNode.from_row(meeting))

        return await mutate(info, Scope.write, work, also=(e.MeetingInPast, e.MeetingClash))

    @strawberry.mutation(description="A term's series, e.g. 3 meetings on Tuesdays at 14:00.")
    async def schedule_term_meetings(
        self, info: Info_, input: ScheduleTermMeetingsInput
    ) -> ScheduleTermMeetingsResult:
        async def work(session: AsyncSession, programme: Programme) -> MeetingsPayload:
            data = SeriesInput(
                community_id=ids.decode(input.community_id, "Community"),
                term_id=ids.decode(input.term_id, "Term"),
                weekday=input.weekday,
                local_time=input.local_time,
                count=input.count,
                duration_minutes=input.duration_minutes,
                modality=input.modality,
                venue=input.venue,
                agenda=input.agenda,
                activity=input.activity,
                activity_link=input.activity_link,
                activity_page=input.activity_page,
                closed_days=input.closed_days,
            )
            meetings = await schedule_term_meetings(
                programme, data, session=session, actor=info.context.actor
            )
            return MeetingsPayload(meetings=[MeetingNode.from_row(m) for m in meetings])

        also = (e.MeetingInPast, e.MeetingClash, e.NotEnoughDates)
        return await mutate(info, Scope.write, work, also=also)

    @strawberry.mutation(description="Move a meeting; it keeps its length unless endsAt is given.")
    async def reschedule_meeting(
        self, info: Info_, id: strawberry.ID, starts_at: datetime, ends_at: datetime | None = None
    ) -> ChangeMeetingResult:
        async def work(session: AsyncSession, programme: Programme) -> MeetingPayload:
            change = await reschedule_meeting(
                programme,
                ids.decode(id, "Meeting"),
                starts_at,
                ends_at,
                session=session,
                actor=info.context.actor,
            )
            return MeetingPayload(meeting=MeetingNode.from_row(change.meeting))

        return await mutate(info, Scope.write, work, also=MEETING_ERRORS)

    @strawberry.mutation(
        description="Change a meeting's modality, venue, agenda or activity; fields left out "
        "stay. "
        "Members are not messaged (moving or cancelling a meeting tells them)."
    )
    async def update_meeting(
        self, info: Info_, id: strawberry.ID, input: UpdateMeetingInput
    ) -> ChangeMeetingResult:
        async def work(session: AsyncSession, programme: Programme) -> MeetingPayload:
            values = {
                name: getattr(input, name) for name in UPDATABLE if given(getattr(input, name))
            }
            meeting = await update_meeting(
                programme,
                ids.decode(id, "Meeting"),
                MeetingEdit(**values),
                session=session,
                actor=info.context.actor,
            )
            return MeetingPayload(meeting=MeetingNode.from_row(meeting))

        return await mutate(info, Scope.write, work, also=MEETING_ERRORS)

    @strawberry.mutation
    async def cancel_meeting(
        self, info: Info_, id: strawberry.ID, reason: str | None = None
    ) -> ChangeMeetingResult:
        async def work(session: AsyncSession, programme: Programme) -> MeetingPayload:
            change = await cancel_meeting(
                programme,
                ids.decode(id, "Meeting"),
                reason,
                session=session,
                actor=info.context.actor,
            )
            return MeetingPayload(meeting=MeetingNode.from_row(change.meeting))

        return await mutate(info, Scope.write, work, also=MEETING_ERRORS)

    @strawberry.mutation(description="RSVPs and presence for many people at once: all or none.")
    async def record_attendance(
        self, info: Info_, meeting_id: strawberry.ID, marks: list[AttendanceMarkInput]
    ) -> RecordAttendanceResult:
        async def work(session: AsyncSession, programme: Programme) -> AttendancePayload:
            assert programme.id is not None
            pk = ids.decode(meeting_id, "Meeting")
            # Owned first, whatever the marks: an empty list must not reveal another
            # programme's meeting in the payload.
            meeting = await get_owned(session, Meeting, pk, programme.id)
            actor, changed = info.context.actor, []
            if len(marks) > 500:
                raise ValidationError("at most 500 marks per call", field="marks")
            for mark in marks:
                person = ids.decode(mark.person_id, "Person")
                if mark.rsvp is not None:
                    row = await record_rsvp(
                        programme.id,
                        pk,
                        person,
                        mark.rsvp,
                        mark.reason,
                        session=session,
                        actor=actor,
                    )
                    changed.append(row)
                if mark.presence is not None:
                    row = await record_presence(
                        programme.id, pk, person, mark.presence, session=session, actor=actor
                    )
                    changed.append(row)
            await session.refresh(meeting)
            rows = list({id(row): row for row in changed}.values())
            return AttendancePayload(
                meeting=MeetingNode.from_row(meeting),
                attendance=[AttendanceNode.from_row(r) for r in rows],
            )

        also = (e.MeetingCancelled, e.MeetingClosed, e.MeetingNotStarted, e.NotAMember)
        return await mutate(info, Scope.write, work, also=also)
