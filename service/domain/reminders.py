"""Reminders before meetings: the policy's rounds, and a facilitator's "remind now".

A programme sets the offsets (hours before a meeting, e.g. 48 and 2); a community
may override them. When several rounds are due at once (a meeting scheduled at
short notice) only the one nearest the meeting goes out: two reminders a minute
apart would only annoy.

The round at least a day before the meeting (the "48-hour reminder" with the
default offsets) also carries the meeting's toolkit activity, when it has one: it
is the reminder that leaves time to prepare. Later rounds (2 hours before) stay as
short as they are: by then the teacher needs the time, the place and the code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import outbox
from service.domain.actor import Actor
from service.domain.errors import MeetingClosed, RemindedRecently
from service.domain.meetings import open_for_change
from service.models import Community, Meeting, Message, Programme
from service.models.enums import MeetingStatus
from service.models.types import utcnow

REMIND_NOW_GAP = timedelta(hours=1)
# A round this many hours or more before the meeting carries its activity.
ACTIVITY_ROUND_H = 24


def reminder_template(meeting: Meeting, offset_h: int) -> tuple[str, dict[str, Any]]:
    """The template of a reminder round and the values it needs beyond the meeting's."""
    if meeting.activity and offset_h >= ACTIVITY_ROUND_H:
        return "reminder_activity", outbox.activity_params(meeting)
    return "reminder", {}


def offsets_for(programme: Programme, community: Community) -> list[int]:
    offsets = community.reminder_offsets_h
    return sorted(offsets if offsets is not None else programme.reminder_offsets_h)


def due_round(offsets: list[int], starts_at: datetime, now: datetime) -> int | None:
    """The offset (hours) of the round to send now: the nearest one already due."""
    due = [h for h in offsets if starts_at - timedelta(hours=h) <= now < starts_at]
    return min(due) if due else None


def round_key(offset_h: int, starts_at: datetime) -> str:
    return f"{offset_h}h@{starts_at:%Y%m%dT%H%M}"


# Meetings whose reminders are built and inserted at a time: a national round (50,000
# meetings, a million rows) built at once held 1.2 GB in the worker.
SLICE = 500


async def queue_due_reminders(
    session: AsyncSession,
    now: datetime,
    *,
    each_slice: Callable[[], Awaitable[None]] | None = None,
) -> int:
    """Queue every reminder round that is due; returns the rows queued.

    Meetings are taken a slice at a time, in start order, each slice locked as it is
    taken (others' jobs skip it). `each_slice` runs after each: the worker commits
    there, so its senders start on the first slices while the rest of a large round is
    still being queued, and a failure keeps the slices done (each meeting records its
    round, and each row its dedupe key, so the next run goes on where this one stopped).
    """
    total = 0
    programmes = (await session.exec(select(Programme))).all()
    for programme in programmes:
        total += await _queue_for_programme(session, programme, now, each_slice)
    return total


async def _queue_for_programme(
    session: AsyncSession,
    programme: Programme,
    now: datetime,
    each_slice: Callable[[], Awaitable[None]] | None,
) -> int:
    assert programme.id is not None
    overrides = (
        await session.exec(
            select(col(Community.reminder_offsets_h)).where(
                col(Community.programme_id) == programme.id,
                col(Community.reminder_offsets_h).is_not(None),
            )
        )
    ).all()
    horizon = max(
        [*programme.reminder_offsets_h, *(h for o in overrides if o for h in o)], default=0
    )
    if horizon <= 0:
        return 0
    queued = 0
    analysed = False
    after: tuple[datetime, int] | None = None
    while True:
        stmt = (
            sa.select(Meeting, Community)
            .join(Community, col(Community.id) == col(Meeting.community_id))
            .where(
                col(Meeting.programme_id) == programme.id,
                col(Meeting.status) == MeetingStatus.scheduled,
                col(Meeting.starts_at) > now,
                col(Meeting.starts_at) <= now + timedelta(hours=horizon),
            )
            .order_by(col(Meeting.starts_at), col(Meeting.id))
            .limit(SLICE)
            .with_for_update(of=Meeting, skip_locked=True)
        )
        if after is not None:
            stmt = stmt.where(sa.tuple_(col(Meeting.starts_at), col(Meeting.id)) > after)
        rows = (await session.execute(stmt)).all()
        if not rows:
            return queued
        last = rows[-1][0]
        assert last.id is not None
        after = (last.starts_at, last.id)
        done = await _queue_slice(session, programme, rows, now, analyse=not analysed)
        analysed = analysed or done >= outbox.ANALYZE_AFTER
        queued += done
        if each_slice is not None:
            await each_slice()
        if len(rows) < SLICE:
            return queued


async def _queue_slice(
    session: AsyncSession,
    programme: Programme,
    rows: Sequence[Any],
    now: datetime,
    *,
    analyse: bool,
) -> int:
    """The due round of each meeting of one slice; returns the rows queued."""
    due: list[tuple[Meeting, Community, int, str]] = []
    for meeting, community in rows:
        offset = due_round(offsets_for(programme, community), meeting.starts_at, now)
        if offset is None:
            continue
        key = round_key(offset, meeting.starts_at)
        if meeting.reminded != key:
            due.append((meeting, community, offset, key))
    if not due:
        return 0
    members = await outbox.members_of(session, sorted({m.community_id for m, _, _, _ in due}))
    batches = []
    for meeting, community, offset, key in due:
        template, extra = reminder_template(meeting, offset)
        batches.append(
            outbox.Batch(
                programme=programme,
                recipients=members[meeting.community_id],
                kind=outbox.REMINDER,
                template=template,
                params=outbox.meeting_params(meeting, community) | extra,
                due=meeting.starts_at - timedelta(hours=offset),
                dedupe=_reminder_key(meeting.id, key),
                meeting_id=meeting.id,
                community_id=meeting.community_id,
                not_after=meeting.starts_at,
            )
        )
        meeting.reminded = key
    # The planner's statistics are refreshed once a round, after its first large slice.
    queued = await outbox.queue_many(session, batches, now, analyse=analyse)
    await session.flush()
    return queued.queued


def _reminder_key(meeting_id: int | None, round_: str) -> Callable[[outbox.Recipient], str]:
    return lambda r: f"reminder:{meeting_id}:{r.person_id}:{round_}"


async def remind_now(
    programme: Programme,
    meeting_id: int,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> outbox.Queued:
    """A facilitator's reminder to every member, at most one an hour per meeting.

    The hour counts the policy's rounds too, and a reminder sent now stands for the
    round due now: a teacher never gets the same reminder twice in a few minutes
    because a facilitator pressed "remind" just as the 48-hour round fell due.
    """
    assert programme.id is not None
    now = now or utcnow()
    meeting = await open_for_change(session, programme.id, meeting_id, actor)
    if meeting.starts_at <= now:
        raise MeetingClosed("the meeting has already started", meeting_id=meeting_id)
    last = (
        await session.exec(
            select(sa.func.max(col(Message.created_at))).where(
                col(Message.meeting_id) == meeting_id,
                col(Message.kind).in_([outbox.REMIND_NOW, outbox.REMINDER]),
            )
        )
    ).one()
    if last is not None and now - last < REMIND_NOW_GAP:
        raise RemindedRecently(
            "members were reminded less than an hour ago", meeting_id=meeting_id, at=last
        )
    community = await session.get(Community, meeting.community_id)
    assert community is not None
    recipients = await outbox.members_to_message(
        session, meeting.community_id, exclude=[actor.person_id] if actor.person_id else []
    )
    stamp = f"{now:%Y%m%dT%H%M}"
    # A day or more ahead it carries the activity, as the policy's rounds do.
    hours_left = int((meeting.starts_at - now).total_seconds() // 3600)
    template, extra = reminder_template(meeting, hours_left)
    queued = await outbox.queue(
        session,
        programme,
        recipients,
        kind=outbox.REMIND_NOW,
        template=template,
        params=outbox.meeting_params(meeting, community) | extra,
        due=now,
        now=now,
        dedupe=lambda r: f"remind_now:{meeting_id}:{r.person_id}:{stamp}",
        meeting_id=meeting_id,
        community_id=meeting.community_id,
        not_after=meeting.starts_at,
    )
    offset = due_round(offsets_for(programme, community), meeting.starts_at, now)
    if offset is not None:
        meeting.reminded = round_key(offset, meeting.starts_at)
    await session.flush()
    return queued
