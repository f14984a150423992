"""Answering an inbound SMS: one reply per inbound message, in the person's language.

The inbound message's AT id is the reply's dedupe key, so a repeated post from AT is
answered once. Replies are not held for quiet hours: the person has just written.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import outbox
from service.models import Community, Meeting, Person, Programme
from service.models.enums import MeetingStatus


class Reply:
    """Queue one reply to this inbound message (its AT id is the dedupe key)."""

    def __init__(
        self, session: AsyncSession, programme: Programme, person: Person, provider_id: str
    ) -> None:
        self.session, self.programme, self.person = session, programme, person
        self.provider_id = provider_id

    async def __call__(
        self, template: str, now: datetime, meeting: Meeting | None = None, **params: object
    ) -> str:
        assert self.person.id is not None and self.person.phone is not None
        values = dict(params)
        if meeting is not None:
            community = await self.session.get(Community, meeting.community_id)
            values = {
                **outbox.meeting_params(meeting, community.name if community else ""),
                **values,
            }
        await outbox.queue(
            self.session,
            self.programme,
            [outbox.Recipient(self.person.id, self.person.phone, self.person.language)],
            kind=outbox.REPLY,
            template=template,
            params=values,
            due=now,
            now=now,
            quiet=False,
            dedupe=lambda r: f"reply:{self.provider_id}",
            meeting_id=meeting.id if meeting else None,
        )
        return template


async def meeting_by_code(session: AsyncSession, programme_id: int, code: str) -> Meeting | None:
    """The open meeting with this code; else the latest closed one, to say it is closed."""
    rows = (
        await session.exec(
            select(Meeting)
            .where(col(Meeting.programme_id) == programme_id, col(Meeting.code) == code)
            .order_by(col(Meeting.status) != MeetingStatus.scheduled, col(Meeting.starts_at).desc())
            .limit(1)
        )
    ).all()
    return rows[0] if rows else None
