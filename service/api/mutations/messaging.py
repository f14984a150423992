"""SMS on demand: remind a meeting's members now, or message a whole community."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import errors as e
from service.api import ids
from service.api.mutations.base import mutate
from service.api.types.common import Info_
from service.domain.broadcasts import BroadcastInput as BroadcastData
from service.domain.broadcasts import BroadcastTemplate as Template
from service.domain.broadcasts import broadcast
from service.domain.outbox import Queued
from service.domain.reminders import remind_now
from service.models import Programme
from service.models.enums import Scope

BroadcastTemplate = strawberry.enum(Template, name="BroadcastTemplate")


@strawberry.type(description="What was queued: quiet hours may hold it until sendAfter.")
class QueuedPayload:
    queued: int
    dropped: int = strawberry.field(
        description="Kept unsent with the reason, e.g. quiet hours last until the meeting."
    )
    send_after: datetime | None

    @classmethod
    def of(cls, q: Queued) -> QueuedPayload:
        return cls(queued=q.queued, dropped=q.dropped, send_after=q.send_after)


@strawberry.input(description="Exactly one of text (up to 459 characters) or template.")
class BroadcastInput:
    community_id: strawberry.ID
    text: str | None = None
    template: BroadcastTemplate | None = None  # type: ignore[valid-type]


SendReminderResult = Annotated[
    QueuedPayload | e.NotFound | e.NotAllowed | e.ValidationError | e.Conflict
    | e.MeetingCancelled | e.MeetingClosed | e.RemindedRecently,
    strawberry.union("SendReminderResult"),
]  # fmt: skip
BroadcastResult = Annotated[
    QueuedPayload | e.NotFound | e.NotAllowed | e.ValidationError | e.Conflict,
    strawberry.union("BroadcastResult"),
]


@strawberry.type
class MessagingMutations:
    @strawberry.mutation(
        description="Remind every member of the meeting by SMS now (at most once an hour). "
        "Needs the sms:send scope."
    )
    async def send_reminder(self, info: Info_, meeting_id: strawberry.ID) -> SendReminderResult:
        async def work(session: AsyncSession, programme: Programme) -> QueuedPayload:
            queued = await remind_now(
                programme,
                ids.decode(meeting_id, "Meeting"),
                session=session,
                actor=info.context.actor,
            )
            return QueuedPayload.of(queued)

        also = (e.MeetingCancelled, e.MeetingClosed, e.RemindedRecently)
        return await mutate(info, Scope.sms_send, work, also=also)

    @strawberry.mutation(
        description="One SMS to every active member with a phone who has not opted out. "
        "Needs the sms:send scope."
    )
    async def broadcast(self, info: Info_, input: BroadcastInput) -> BroadcastResult:
        async def work(session: AsyncSession, programme: Programme) -> QueuedPayload:
            data = BroadcastData(text=input.text, template=input.template)
            queued = await broadcast(
                programme,
                ids.decode(input.community_id, "Community"),
                data,
                session=session,
                actor=info.context.actor,
            )
            return QueuedPayload.of(queued)

        return await mutate(info, Scope.sms_send, work)
