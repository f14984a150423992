"""The facilitators' "prepare" SMS: the meeting's toolkit activity, 48 hours before.

A facilitator who knows on Monday which activity Wednesday's meeting follows can
read it and bring what it needs. Each facilitator of the community (with a phone,
not opted out) gets one SMS per meeting and start: a meeting moved later is
prepared again for its new time (as its reminders go again), a cancelled one or one
with no activity gets none. A meeting given its activity less than 48 hours before
is prepared as soon as the job sees it. Quiet hours defer the SMS as the outbox
does; one that could only go out once the meeting has started is kept as dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import outbox
from service.models import Community, Meeting, Programme
from service.models.enums import MeetingStatus, MembershipRole

PREPARE_BEFORE = timedelta(hours=48)
TEMPLATE = "prepare"


def prepare_key(meeting_id: int | None, person_id: int, starts_at: datetime) -> str:
    return f"prepare:{meeting_id}:{person_id}:{starts_at.astimezone(UTC):%Y%m%dT%H%M}"


def _dedupe(meeting_id: int | None, starts_at: datetime) -> Callable[[outbox.Recipient], str]:
    return lambda r: prepare_key(meeting_id, r.person_id, starts_at)


async def queue_prepare_messages(session: AsyncSession, now: datetime) -> int:
    """Queue the prepare SMS of every meeting now within 48 hours; returns the rows queued."""
    total = 0
    for programme in (await session.exec(select(Programme))).all():
        total += await _queue_for_programme(session, programme, now)
    return total


async def _queue_for_programme(session: AsyncSession, programme: Programme, now: datetime) -> int:
    assert programme.id is not None
    rows = (
        await session.execute(
            sa.select(Meeting, Community)
            .join(Community, col(Community.id) == col(Meeting.community_id))
            .where(
                col(Meeting.programme_id) == programme.id,
                col(Meeting.status) == MeetingStatus.scheduled,
                col(Meeting.activity).is_not(None),
                col(Meeting.starts_at) > now,
                col(Meeting.starts_at) <= now + PREPARE_BEFORE,
                sa.or_(
                    col(Meeting.prepared_for).is_(None),
                    col(Meeting.prepared_for) != col(Meeting.starts_at),
                ),
            )
            .order_by(col(Meeting.starts_at))
            .limit(1000)
            .with_for_update(of=Meeting, skip_locked=True)
        )
    ).all()
    if not rows:
        return 0
    facilitators = await outbox.members_of(
        session, sorted({m.community_id for m, _ in rows}), role=MembershipRole.facilitator
    )
    batches = []
    for meeting, community in rows:
        starts_at = meeting.starts_at
        batches.append(
            outbox.Batch(
                programme=programme,
                recipients=facilitators[meeting.community_id],
                kind=outbox.PREPARE,
                template=TEMPLATE,
                params=outbox.meeting_params(meeting, community) | outbox.activity_params(meeting),
                due=starts_at - PREPARE_BEFORE,
                dedupe=_dedupe(meeting.id, starts_at),
                meeting_id=meeting.id,
                community_id=meeting.community_id,
                not_after=starts_at,
            )
        )
        meeting.prepared_for = starts_at
    queued = await outbox.queue_many(session, batches, now)
    await session.flush()
    return queued.queued
