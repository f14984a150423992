"""Scheduling meetings: one at a time or a term's series, moving and cancelling them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit, outbox, webhooks
from service.domain.actor import Actor
from service.domain.communities import ensure_facilitates, is_facilitator
from service.domain.errors import (
    MeetingCancelled,
    MeetingClash,
    MeetingClosed,
    MeetingInPast,
    MeetingNotStarted,
    NotAllowed,
    NotEnoughDates,
    ValidationError,
)
from service.domain.lookup import get_owned
from service.domain.terms import term_on
from service.models import Attendance, Community, Meeting, Programme, Term
from service.models.enums import Channel, MeetingStatus, Modality, Presence, WebhookEvent
from service.models.types import utcnow

MAX_DURATION = timedelta(hours=12)


ACTIVITY_MAX = 120
ACTIVITY_LINK_MAX = 100
ACTIVITY_PAGE_MAX = 9999


def check_link(value: str | None) -> str | None:
    """A short web address people can type or tap: http(s), a host with a dot, no spaces."""
    if not value:
        return None
    parts = urlsplit(value)
    host = parts.hostname or ""
    if (
        parts.scheme.lower() not in ("http", "https")
        or "." not in host
        or any(ch.isspace() for ch in value)
    ):
        raise ValueError(
            "the activity link must be a web address starting with http:// or https://"
        )
    return value


class MeetingDetails(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    modality: Modality = Modality.in_person
    venue: str | None = Field(default=None, max_length=200)
    agenda: str | None = Field(default=None, max_length=500)
    # The toolkit activity: a title, and where to find it (a short link, a toolkit page).
    activity: str | None = Field(default=None, max_length=ACTIVITY_MAX)
    activity_link: str | None = Field(default=None, max_length=ACTIVITY_LINK_MAX)
    activity_page: int | None = Field(default=None, ge=1, le=ACTIVITY_PAGE_MAX)

    @field_validator("activity_link")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        return check_link(value)


class MeetingInput(MeetingDetails):
    community_id: int
    starts_at: datetime
    ends_at: datetime | None = None  # default: starts_at + duration_minutes
    duration_minutes: int = Field(default=90, ge=15, le=12 * 60)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("give the time with its offset or time zone")
        return value.astimezone(UTC) if value is not None else None

    @model_validator(mode="after")
    def _end(self) -> MeetingInput:
        if self.ends_at is None:
            self.ends_at = self.starts_at + timedelta(minutes=self.duration_minutes)
        return self


class SeriesInput(MeetingDetails):
    community_id: int
    term_id: int
    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    local_time: time
    count: int = Field(ge=1, le=30)
    duration_minutes: int = Field(default=90, ge=15, le=12 * 60)
    # Days the series skips: public holidays, a sports day, exams (programme dates).
    closed_days: list[date] = Field(default_factory=list, max_length=200)


def _check_activity(title: str | None, link: str | None, page: int | None) -> None:
    if (link or page) and not title:
        raise ValidationError("give the activity's title with its link or page", field="activity")


def _check_times(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    if starts_at <= now:
        raise MeetingInPast("a meeting cannot be scheduled in the past", starts_at=starts_at)
    if ends_at <= starts_at:
        raise ValidationError("a meeting must end after it starts", field="ends_at")
    if ends_at - starts_at > MAX_DURATION:
        raise ValidationError("a meeting lasts at most 12 hours", field="ends_at")


async def _open_codes(session: AsyncSession, programme_id: int) -> set[str]:
    stmt = select(Meeting.code).where(
        Meeting.programme_id == programme_id, Meeting.status == MeetingStatus.scheduled
    )
    return set((await session.exec(stmt)).all())


def _new_code(taken: set[str]) -> str:
    # Four digits while they are plenty; five once a programme has thousands open.
    low, high = (1000, 9999) if len(taken) < 3000 else (10000, 99999)
    while True:
        code = str(low + secrets.randbelow(high - low + 1))
        if code not in taken:
            taken.add(code)
            return code


async def _ensure_no_clash(
    session: AsyncSession,
    community_id: int,
    starts_at: datetime,
    ends_at: datetime,
    exclude_id: int | None = None,
) -> None:
    stmt = (
        select(func.count())
        .select_from(Meeting)
        .where(
            Meeting.community_id == community_id,
            Meeting.status == MeetingStatus.scheduled,
            col(Meeting.starts_at) < ends_at,
            col(Meeting.ends_at) > starts_at,
        )
    )
    if exclude_id is not None:
        stmt = stmt.where(Meeting.id != exclude_id)
    if (await session.exec(stmt)).one():
        raise MeetingClash("the community already has a meeting at that time", starts_at=starts_at)


def local_date(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


async def schedule_meeting(
    programme: Programme,
    data: MeetingInput,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> Meeting:
    assert programme.id is not None and data.ends_at is not None
    now = now or utcnow()
    await get_owned(session, Community, data.community_id, programme.id)
    await ensure_facilitates(session, data.community_id, actor)
    _check_activity(data.activity, data.activity_link, data.activity_page)
    _check_times(data.starts_at, data.ends_at, now)
    await _ensure_no_clash(session, data.community_id, data.starts_at, data.ends_at)
    term = await term_on(session, programme.id, local_date(data.starts_at, programme.timezone))
    meeting = Meeting(
        programme_id=programme.id,
        community_id=data.community_id,
        term_id=term.id if term else None,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        modality=data.modality,
        venue=data.venue,
        agenda=data.agenda,
        activity=data.activity or None,
        activity_link=data.activity_link or None,
        activity_page=data.activity_page,
        code=_new_code(await _open_codes(session, programme.id)),
        created_at=now,
        updated_at=now,
    )
    session.add(meeting)
    await session.flush()
    audit.record(
        session,
        actor,
        "meeting.schedule",
        meeting,
        at=now,
        changes=data.model_dump(exclude_none=True) | {"code": meeting.code},
    )
    await webhooks.emit(
        session, [webhooks.meeting_event(meeting, WebhookEvent.meeting_scheduled, now)]
    )
    return meeting


def spread_dates(candidates: list[date], count: int) -> list[date]:
    """`count` dates spread over the term: the middle week of each equal share.

    Three meetings in a twelve-week term fall in weeks 2, 6 and 10, away from
    the first week of term and from the exam weeks at its end.
    """
    n = len(candidates)
    if n < count:
        raise NotEnoughDates(
            f"only {n} suitable day(s) left in the term for {count} meeting(s)",
            available=n,
            requested=count,
        )
    return [candidates[(2 * i + 1) * n // (2 * count)] for i in range(count)]


async def schedule_term_meetings(
    programme: Programme,
    data: SeriesInput,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> list[Meeting]:
    """A term's series: e.g. 3 meetings on Tuesdays at 14:00 programme time, on none of
    the closed days (the series is spread over the term's other Tuesdays)."""
    assert programme.id is not None
    now = now or utcnow()
    term = await get_owned(session, Term, data.term_id, programme.id)
    zone = ZoneInfo(programme.timezone)
    duration = timedelta(minutes=data.duration_minutes)
    closed = set(data.closed_days)
    candidates: list[date] = []
    day = term.starts_on
    while day <= term.ends_on:
        starts = datetime.combine(day, data.local_time, tzinfo=zone)
        if day.weekday() == data.weekday and starts > now and day not in closed:
            candidates.append(day)
        day += timedelta(days=1)
    meetings: list[Meeting] = []
    for day in spread_dates(candidates, data.count):
        starts_at = datetime.combine(day, data.local_time, tzinfo=zone).astimezone(UTC)
        meeting = await schedule_meeting(
            programme,
            MeetingInput(
                community_id=data.community_id,
                starts_at=starts_at,
                ends_at=starts_at + duration,
                **data.model_dump(include=set(MeetingDetails.model_fields)),
            ),
            session=session,
            actor=actor,
            now=now,
        )
        meetings.append(meeting)
    return meetings


async def _ensure_facilitates(session: AsyncSession, meeting: Meeting, actor: Actor) -> None:
    """People change a meeting only if they facilitate its community; keys and operators may.

    A person in the web console may too: the console let them reach the meeting only
    after checking that their role's coverage (a programme's staff, the leader of a
    school the community belongs to, a facilitator of it) includes its community.
    Phone channels (USSD, SMS) have no such check before them, so they keep this one.
    """
    if actor.kind != "person" or actor.channel is Channel.console:
        return
    assert actor.id is not None
    if not await is_facilitator(session, meeting.community_id, actor.id):
        raise NotAllowed("only a facilitator of this community can change its meetings")


async def open_for_change(
    session: AsyncSession, programme_id: int, meeting_id: int, actor: Actor
) -> Meeting:
    """The meeting, locked, if it is this programme's, still open, and the actor may change it."""
    meeting = await get_owned(session, Meeting, meeting_id, programme_id, for_update=True)
    await _ensure_facilitates(session, meeting, actor)
    _ensure_open(meeting)
    return meeting


@dataclass(frozen=True)
class MeetingChange:
    """A meeting after a move or cancellation, and what became of its members' notice."""

    meeting: Meeting
    told: outbox.Queued | None  # None: nothing to tell (the start did not move)


def _ensure_open(meeting: Meeting) -> None:
    if meeting.status is MeetingStatus.cancelled:
        raise MeetingCancelled("the meeting was cancelled", meeting_id=meeting.id)
    if meeting.status is MeetingStatus.held:
        raise MeetingClosed("the meeting has already been held", meeting_id=meeting.id)


async def reschedule_meeting(
    programme: Programme,
    meeting_id: int,
    starts_at: datetime,
    ends_at: datetime | None = None,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> MeetingChange:
    """Move a meeting, keeping its length unless a new end is given. The code stays."""
    assert programme.id is not None
    now = now or utcnow()
    meeting = await open_for_change(session, programme.id, meeting_id, actor)
    if starts_at.utcoffset() is None or (ends_at is not None and ends_at.utcoffset() is None):
        raise ValidationError("give the time with its offset or time zone", field="starts_at")
    starts_at = starts_at.astimezone(UTC)
    ends_at = (
        ends_at.astimezone(UTC) if ends_at else starts_at + (meeting.ends_at - meeting.starts_at)
    )
    _check_times(starts_at, ends_at, now)
    await _ensure_no_clash(session, meeting.community_id, starts_at, ends_at, exclude_id=meeting.id)
    term = await term_on(session, programme.id, local_date(starts_at, programme.timezone))
    changes = audit.apply_changes(
        meeting, {"starts_at": starts_at, "ends_at": ends_at, "term_id": term.id if term else None}
    )
    if changes:
        meeting.updated_at = now
        audit.record(session, actor, "meeting.reschedule", meeting, changes=changes, at=now)
    if "starts_at" in changes or "ends_at" in changes:
        moved = webhooks.meeting_event(
            meeting,
            WebhookEvent.meeting_moved,
            now,
            previous_starts_at=changes.get("starts_at", [meeting.starts_at])[0],
            previous_ends_at=changes.get("ends_at", [meeting.ends_at])[0],
        )
        await webhooks.emit(session, [moved])
    told = None
    if "starts_at" in changes:
        told = await _tell_members_moved(
            session, programme, meeting, changes["starts_at"][0], actor, now
        )
    await session.flush()
    return MeetingChange(meeting, told)


async def _tell_members(
    session: AsyncSession,
    programme: Programme,
    meeting: Meeting,
    actor: Actor,
    now: datetime,
    *,
    template: str,
    extra: dict[str, Any],
    reason: str,
    not_after: datetime,
) -> outbox.Queued:
    """Drop the meeting's pending reminders and queue one notice per member. The new
    notice supersedes older ones still waiting (say, overnight): a member wakes up to
    the meeting as it is now, not to a move that a cancellation has since undone."""
    assert meeting.id is not None
    await outbox.drop_pending(
        session, meeting_id=meeting.id, kinds=outbox.MEETING_BOUND, reason=reason, now=now
    )
    await outbox.drop_pending(
        session,
        meeting_id=meeting.id,
        kinds=[outbox.NOTICE],
        reason=f"superseded: {reason}",
        now=now,
    )
    community = await session.get(Community, meeting.community_id)
    assert community is not None
    # The facilitator who made the change knows already.
    recipients = await outbox.members_to_message(
        session, meeting.community_id, exclude=[actor.person_id] if actor.person_id else []
    )
    stamp = f"{meeting.updated_at:%Y%m%dT%H%M%S}"
    return await outbox.queue(
        session,
        programme,
        recipients,
        kind=outbox.NOTICE,
        template=template,
        params={**outbox.meeting_params(meeting, community), **extra},
        due=now,
        now=now,
        dedupe=lambda r: f"{template}:{meeting.id}:{r.person_id}:{stamp}",
        meeting_id=meeting.id,
        community_id=meeting.community_id,
        not_after=not_after,
    )


async def _tell_members_moved(
    session: AsyncSession,
    programme: Programme,
    meeting: Meeting,
    old_starts_at: datetime,
    actor: Actor,
    now: datetime,
) -> outbox.Queued:
    return await _tell_members(
        session,
        programme,
        meeting,
        actor,
        now,
        template="moved",
        extra={"old_starts_at": old_starts_at.astimezone(UTC).isoformat()},
        reason="meeting moved",
        not_after=meeting.starts_at,
    )


async def cancel_meeting(
    programme: Programme,
    meeting_id: int,
    reason: str | None = None,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> MeetingChange:
    assert programme.id is not None
    now = now or utcnow()
    meeting = await open_for_change(session, programme.id, meeting_id, actor)
    if meeting.ends_at <= now:
        raise MeetingClosed("a meeting that is over cannot be cancelled", meeting_id=meeting.id)
    meeting.status = MeetingStatus.cancelled
    meeting.cancel_reason = (reason or "").strip()[:200] or None
    meeting.updated_at = now
    audit.record(
        session, actor, "meeting.cancel", meeting, changes={"reason": meeting.cancel_reason}, at=now
    )
    told = await _tell_members(
        session,
        programme,
        meeting,
        actor,
        now,
        template="cancelled",
        extra={"reason": meeting.cancel_reason or ""},
        reason="meeting cancelled",
        not_after=meeting.starts_at,
    )
    await webhooks.emit(
        session, [webhooks.meeting_event(meeting, WebhookEvent.meeting_cancelled, now)]
    )
    await session.flush()
    return MeetingChange(meeting, told)


class MeetingEdit(MeetingDetails):
    """A meeting's details to change: only the fields given change; an empty venue,
    agenda or activity field clears it. Members are not messaged: reminders carry the
    details as they are."""

    modality: Modality | None = None  # type: ignore[assignment]


async def update_meeting(
    programme: Programme,
    meeting_id: int,
    data: MeetingEdit,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> Meeting:
    """Change an open meeting's modality, venue, agenda or toolkit activity."""
    assert programme.id is not None
    now = now or utcnow()
    meeting = await open_for_change(session, programme.id, meeting_id, actor)
    values: dict[str, Any] = {}
    for name in data.model_fields_set:
        value = getattr(data, name)
        if name == "modality":
            if value is not None:
                values[name] = value
        else:
            values[name] = value or None
    _check_activity(
        *(
            values.get(name, getattr(meeting, name))
            for name in ("activity", "activity_link", "activity_page")
        )
    )
    changes = audit.apply_changes(meeting, values)
    if changes:
        meeting.updated_at = now
        audit.record(session, actor, "meeting.update", meeting, changes=changes, at=now)
        await session.flush()
    return meeting


async def mark_meeting_held(
    programme: Programme,
    meeting_id: int,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> Meeting:
    assert programme.id is not None
    now = now or utcnow()
    meeting = await get_owned(session, Meeting, meeting_id, programme.id, for_update=True)
    if meeting.status is MeetingStatus.held:
        return meeting
    if meeting.status is MeetingStatus.cancelled:
        raise MeetingCancelled("a cancelled meeting cannot be held", meeting_id=meeting.id)
    if now < meeting.starts_at:
        raise MeetingNotStarted("the meeting has not started yet", meeting_id=meeting.id)
    meeting.status = MeetingStatus.held
    meeting.updated_at = now
    audit.record(session, actor, "meeting.held", meeting, at=now)
    await webhooks.emit(session, [webhooks.meeting_event(meeting, WebhookEvent.meeting_held, now)])
    await session.flush()
    return meeting


async def find_open_meeting_by_code(
    session: AsyncSession, programme_id: int, code: str
) -> Meeting | None:
    stmt = select(Meeting).where(
        Meeting.programme_id == programme_id,
        Meeting.code == code.strip(),
        Meeting.status == MeetingStatus.scheduled,
    )
    return (await session.exec(stmt)).first()


# Facilitators often mark attendance after the meeting; wait before closing it for them.
CLOSE_AFTER = timedelta(hours=2)


async def close_finished_meetings(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Mark held every meeting that is over and at which someone was marked present.

    Facilitators forget to close meetings; without this, reports would undercount
    held meetings and the codes of past meetings would stay taken. A meeting with no
    presence marked stays scheduled: nobody knows whether it happened.
    """
    now = now or utcnow()
    marked = (
        select(Attendance.id)
        .where(
            Attendance.meeting_id == Meeting.id,
            col(Attendance.presence).in_([Presence.present, Presence.remote]),
        )
        .exists()
    )
    stmt = (
        select(Meeting)
        .where(
            Meeting.status == MeetingStatus.scheduled,
            col(Meeting.ends_at) <= now - CLOSE_AFTER,
            marked,
        )
        .order_by(col(Meeting.id))
        .limit(500)
        .with_for_update(skip_locked=True)
    )
    meetings = list((await session.exec(stmt)).all())
    system = Actor.system()
    for meeting in meetings:
        meeting.status = MeetingStatus.held
        meeting.updated_at = now
        audit.record(
            session,
            system,
            "meeting.held",
            meeting,
            at=now,
            changes={"reason": "over, with attendance marked"},
        )
    await webhooks.emit(
        session, [webhooks.meeting_event(m, WebhookEvent.meeting_held, now) for m in meetings]
    )
    await session.flush()
    return len(meetings)
