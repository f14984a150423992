"""Who said they would come and who came: RSVP and presence, each with channel and actor."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit, webhooks
from service.domain.actor import Actor
from service.domain.communities import get_membership, is_facilitator
from service.domain.errors import (
    MeetingCancelled,
    MeetingClosed,
    MeetingNotStarted,
    NotAllowed,
    NotAMember,
    ValidationError,
)
from service.domain.lookup import check_owned, get_owned
from service.models import Attendance, Meeting, Membership, Person
from service.models.enums import (
    MeetingStatus,
    MembershipStatus,
    Modality,
    Presence,
    Rsvp,
    WebhookEvent,
)
from service.models.types import utcnow

# Teachers arrive early; check-in opens this long before the start.
CHECK_IN_OPENS = timedelta(hours=1)
MAX_REASON = 40


async def _ensure_member(session: AsyncSession, meeting: Meeting, person_id: int) -> None:
    membership = await get_membership(session, meeting.community_id, person_id)
    if membership is None or membership.status is not MembershipStatus.active:
        raise NotAMember(
            "this person is not a member of the meeting's community",
            person_id=person_id,
            meeting_id=meeting.id,
        )


async def _ensure_may_act_for(
    session: AsyncSession, meeting: Meeting, person_id: int, actor: Actor
) -> None:
    """A person may answer for themselves; only a facilitator may answer for others."""
    if actor.kind != "person" or actor.id == person_id:
        return
    assert actor.id is not None
    if not await is_facilitator(session, meeting.community_id, actor.id):
        raise NotAllowed("only a facilitator of this community can record this for others")


async def _row(session: AsyncSession, meeting_id: int, person_id: int) -> Attendance:
    stmt = select(Attendance).where(
        Attendance.meeting_id == meeting_id, Attendance.person_id == person_id
    )
    row = (await session.exec(stmt)).first()
    if row is None:
        row = Attendance(meeting_id=meeting_id, person_id=person_id)
        session.add(row)
    return row


async def record_rsvp(
    programme_id: int,
    meeting_id: int,
    person_id: int,
    answer: Rsvp,
    reason: str | None = None,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> Attendance:
    now = now or utcnow()
    if answer is Rsvp.none:
        raise ValidationError("an RSVP is yes or no", field="rsvp")
    meeting = await get_owned(session, Meeting, meeting_id, programme_id)
    await get_owned(session, Person, person_id, programme_id)
    if meeting.status is MeetingStatus.cancelled:
        raise MeetingCancelled("the meeting was cancelled", meeting_id=meeting.id)
    if meeting.status is MeetingStatus.held or meeting.ends_at <= now:
        raise MeetingClosed("the meeting is over", meeting_id=meeting.id)
    await _ensure_member(session, meeting, person_id)
    await _ensure_may_act_for(session, meeting, person_id, actor)
    reason = ((reason or "").strip()[:MAX_REASON] or None) if answer is Rsvp.no else None
    row = await _row(session, meeting_id, person_id)
    if row.rsvp is answer and row.rsvp_reason == reason:
        return row  # a repeated YES changes nothing, not even the time it was said
    old = (row.rsvp, row.rsvp_reason)
    row.rsvp, row.rsvp_reason = answer, reason
    row.rsvp_channel, row.rsvp_actor, row.rsvp_at = actor.channel, actor.label, now
    await session.flush()
    audit.record(
        session,
        actor,
        "attendance.rsvp",
        row,
        at=now,
        changes={
            "rsvp": [old[0], answer],
            "reason": [old[1], reason],
            "meeting_id": meeting_id,
            "person_id": person_id,
        },
        programme_id=programme_id,
    )
    await webhooks.emit(
        session, [webhooks.attendance_event(programme_id, row, WebhookEvent.rsvp_given, now)]
    )
    return row


async def record_presence(
    programme_id: int,
    meeting_id: int,
    person_id: int,
    presence: Presence,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> Attendance:
    [row] = await record_presences(
        programme_id, meeting_id, {person_id: presence}, session=session, actor=actor, now=now
    )
    return row


async def record_presences(
    programme_id: int,
    meeting_id: int,
    marks: Mapping[int, Presence],
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> list[Attendance]:
    """Presence for one or many people at a meeting (a filled register): every rule is
    checked for all of them before anything is written, in a few statements whatever
    their number. Returns each person's row, in the order of `marks`; a mark that
    changes nothing is not written again, nor audited."""
    now = now or utcnow()
    meeting = await get_owned(session, Meeting, meeting_id, programme_id)
    await check_owned(session, Person, set(marks), programme_id)
    if meeting.status is MeetingStatus.cancelled:
        raise MeetingCancelled("the meeting was cancelled", meeting_id=meeting.id)
    if now < meeting.starts_at - CHECK_IN_OPENS:
        raise MeetingNotStarted(
            "check-in opens an hour before the meeting starts",
            meeting_id=meeting.id,
            starts_at=meeting.starts_at,
        )
    if Presence.remote in marks.values() and meeting.modality is Modality.in_person:
        raise ValidationError(
            "this meeting is in person only; remote attendance is not possible", field="presence"
        )
    members = select(Membership.person_id).where(
        Membership.community_id == meeting.community_id,
        col(Membership.person_id).in_(list(marks)),
        Membership.status == MembershipStatus.active,
    )
    active = set((await session.exec(members)).all())
    for person_id in marks:
        if person_id not in active:
            raise NotAMember(
                "this person is not a member of the meeting's community",
                person_id=person_id,
                meeting_id=meeting.id,
            )
    others = [person_id for person_id in marks if person_id != actor.id]
    if others:
        await _ensure_may_act_for(session, meeting, others[0], actor)
    stmt = select(Attendance).where(
        Attendance.meeting_id == meeting_id, col(Attendance.person_id).in_(list(marks))
    )
    rows = {row.person_id: row for row in (await session.exec(stmt)).all()}
    changed: list[tuple[Attendance, Presence]] = []
    for person_id, presence in marks.items():
        row = rows.get(person_id)
        if row is None:
            row = rows[person_id] = Attendance(meeting_id=meeting_id, person_id=person_id)
            session.add(row)
        if row.presence is presence:
            continue
        changed.append((row, row.presence))
        row.presence = presence
        row.presence_channel, row.presence_actor, row.presence_at = actor.channel, actor.label, now
    if changed:
        await session.flush()
    for row, old in changed:
        audit.record(
            session,
            actor,
            "attendance.presence",
            row,
            at=now,
            changes={
                "presence": [old, row.presence],
                "meeting_id": meeting_id,
                "person_id": row.person_id,
            },
            programme_id=programme_id,
        )
    await webhooks.emit(
        session,
        [
            webhooks.attendance_event(programme_id, row, WebhookEvent.attendance_marked, now)
            for row, _ in changed
        ],
    )
    return [rows[person_id] for person_id in marks]
