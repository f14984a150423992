"""A programme or facilitator messages a whole community at once; a programme's staff
may message every member of every community."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit, outbox
from service.domain.actor import Actor
from service.domain.communities import ensure_facilitates
from service.domain.errors import NotFound, ValidationError
from service.domain.lookup import get_owned
from service.models import Community, Meeting, Programme
from service.models.enums import MeetingStatus
from service.models.types import utcnow

# Three GSM-7 segments: longer than that, a teacher stops reading and the bill triples.
MAX_TEXT = 459


class BroadcastTemplate(StrEnum):
    next_meeting = "next_meeting"  # the community's next meeting, with how to answer
    how_to_reply = "how_to_reply"  # the SMS keywords


class BroadcastInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    template: BroadcastTemplate | None = None

    @model_validator(mode="after")
    def _one(self) -> BroadcastInput:
        if (self.text is None) == (self.template is None):
            raise ValueError("give either a text or a template")
        return self


async def _queue(
    session: AsyncSession,
    programme: Programme,
    recipients: list[outbox.Recipient],
    template: str | None,
    params: dict[str, Any] | None,
    body: str | None,
    now: datetime,
    *,
    community_id: int | None = None,
    meeting: Meeting | None = None,
) -> outbox.Queued:
    """A broadcast's rows: a template with its values, or a person's text as written."""
    return await outbox.queue(
        session,
        programme,
        recipients,
        kind=outbox.BROADCAST,
        template=template,
        params=params,
        body=body,
        due=now,
        now=now,
        community_id=community_id,
        meeting_id=meeting.id if meeting else None,
        not_after=meeting.starts_at if meeting else None,
    )


async def broadcast(
    programme: Programme,
    community_id: int,
    data: BroadcastInput,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> outbox.Queued:
    """Queue one SMS per active member with a phone who has not opted out. A person
    sending from a phone must facilitate the community."""
    assert programme.id is not None
    now = now or utcnow()
    community = await get_owned(session, Community, community_id, programme.id)
    await ensure_facilitates(session, community_id, actor)
    recipients = await outbox.members_to_message(
        session, community_id, exclude=[actor.person_id] if actor.person_id else []
    )

    async def send(
        template: str | None,
        params: dict[str, Any] | None,
        body: str | None = None,
        meeting: Meeting | None = None,
    ) -> outbox.Queued:
        return await _queue(
            session, programme, recipients, template, params, body, now,
            community_id=community_id, meeting=meeting,
        )  # fmt: skip

    if data.text is not None:
        queued = await send(None, None, body=data.text)
    elif data.template is BroadcastTemplate.how_to_reply:
        queued = await send("help", {"programme": programme.name})
    else:
        meeting = (
            await session.exec(
                select(Meeting)
                .where(
                    col(Meeting.community_id) == community_id,
                    col(Meeting.status) == MeetingStatus.scheduled,
                    col(Meeting.starts_at) > now,
                )
                .order_by(col(Meeting.starts_at))
                .limit(1)
            )
        ).first()
        if meeting is None:
            raise NotFound("the community has no upcoming meeting", community_id=community_id)
        queued = await send("reminder", outbox.meeting_params(meeting, community), meeting=meeting)
    audit.record(
        session,
        actor,
        "community.broadcast",
        community,
        changes={"template": data.template, "queued": queued.queued, "dropped": queued.dropped},
        at=now,
    )
    await session.flush()
    return queued


async def audience(
    session: AsyncSession, programme: Programme, community_id: int | None, *, actor: Actor
) -> int:
    """How many SMS a broadcast would queue now: to a community (checked to belong to
    the programme), or with None to the whole programme. The sender is left out, as
    `broadcast` leaves them out."""
    assert programme.id is not None
    if community_id is not None:
        await get_owned(session, Community, community_id, programme.id)
    exclude = [actor.person_id] if actor.person_id else []
    return await outbox.count_reachable(session, programme.id, community_id, exclude=exclude)


async def broadcast_programme(
    programme: Programme,
    data: BroadcastInput,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> outbox.Queued:
    """Queue one SMS per person who is an active member of any of the programme's
    communities, has a phone and has not opted out: one each, however many CoPs they
    are in. Whose role may do this (the whole programme's staff) is the caller's check.
    A text or the keywords; one community's next meeting is no programme's message."""
    assert programme.id is not None
    if data.template is BroadcastTemplate.next_meeting:
        raise ValidationError(
            "a message to the whole programme cannot name one community's next meeting",
            field="template",
        )
    now = now or utcnow()
    recipients = await outbox.programme_members(
        session, programme.id, exclude=[actor.person_id] if actor.person_id else []
    )
    if data.text is not None:
        template, params, body = None, None, data.text
    else:
        template, params, body = "help", {"programme": programme.name}, None
    queued = await _queue(session, programme, recipients, template, params, body, now)
    audit.record(
        session,
        actor,
        "programme.broadcast",
        programme,
        changes={"template": data.template, "queued": queued.queued, "dropped": queued.dropped},
        at=now,
    )
    await session.flush()
    return queued
