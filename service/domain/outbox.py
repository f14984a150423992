"""The outbox: every SMS we mean to send, written in the transaction that causes it.

A row names a template and its values; the SMS channel renders the body in the
person's language when it sends, so the domain never imports a channel. Rows the
domain writes on its own initiative carry a dedupe key: however often a job, a
retry or a second worker runs, one key is one message. Quiet hours (programme
time) defer a row; a row that could only go out after its meeting started is
kept as `dropped` with the reason, so a programme can see what was not sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Community, Meeting, Membership, Message, Person, Programme
from service.models.enums import Direction, Language, MembershipStatus, MessageStatus

# What a message is for; also what a programme filters its messages by.
REMINDER = "reminder"
REMIND_NOW = "remind_now"
NOTICE = "notice"
REPLY = "reply"
BROADCAST = "broadcast"
SURVEY = "survey"

# Kinds that only make sense while the meeting is still on as planned.
MEETING_BOUND = (REMINDER, REMIND_NOW)

_CHUNK = 500  # rows per INSERT: well under SQLite's bound-parameter limit


@dataclass(frozen=True)
class Recipient:
    person_id: int
    phone: str
    language: Language


@dataclass(frozen=True)
class Queued:
    queued: int  # rows that will be sent
    dropped: int  # rows kept with a reason instead (quiet hours past the meeting)
    send_after: datetime | None  # when the queued rows go out (all share one time)


def quiet_until(at: datetime, programme: Programme) -> datetime:
    """The first moment at or after `at` outside the programme's quiet hours."""
    return next_allowed(
        at,
        timezone=programme.timezone,
        start=programme.quiet_hours_start,
        end=programme.quiet_hours_end,
    )


def next_allowed(at: datetime, *, timezone: str, start: time, end: time) -> datetime:
    """The first moment at or after `at` outside the quiet window [start, end) local time."""
    if start == end:
        return at
    zone = ZoneInfo(timezone)
    local = at.astimezone(zone)
    now = local.time()
    if start > end:  # the usual case: the night, 19:00-07:00, wraps midnight
        if now >= start:
            day = local.date() + timedelta(days=1)
        elif now < end:
            day = local.date()
        else:
            return at
    elif start <= now < end:
        day = local.date()
    else:
        return at
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


def meeting_params(meeting: Meeting, community: Community | str) -> dict[str, Any]:
    """The values every meeting template may show, as JSON (times in UTC)."""
    return {
        "community": community if isinstance(community, str) else community.name,
        "starts_at": meeting.starts_at.astimezone(UTC).isoformat(),
        "venue": meeting.venue or "",
        "modality": meeting.modality.value,
        "code": meeting.code,
    }


async def members_to_message(
    session: AsyncSession, community_id: int, *, exclude: Iterable[int] = ()
) -> list[Recipient]:
    """Active members with a phone who have not opted out."""
    rows = await session.execute(
        sa.select(col(Person.id), col(Person.phone), col(Person.language))
        .join(Membership, col(Membership.person_id) == col(Person.id))
        .where(
            col(Membership.community_id) == community_id,
            col(Membership.status) == MembershipStatus.active,
            col(Person.phone).is_not(None),
            col(Person.opted_out_at).is_(None),
        )
        .order_by(col(Person.id))
    )
    skip = set(exclude)
    return [
        Recipient(person_id, phone, language)
        for person_id, phone, language in rows.all()
        if person_id not in skip
    ]


def _insert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    table = Message.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_nothing(index_elements=["dedupe_key"])


async def queue(
    session: AsyncSession,
    programme: Programme,
    recipients: Sequence[Recipient],
    *,
    kind: str,
    template: str | None,
    params: dict[str, Any] | None,
    due: datetime,
    now: datetime,
    dedupe: Callable[[Recipient], str] | None = None,
    meeting_id: int | None = None,
    community_id: int | None = None,
    not_after: datetime | None = None,
    quiet: bool = True,
    body: str | None = None,
) -> Queued:
    """One outbox row per recipient; rows whose dedupe key exists already are skipped.

    `quiet=False` for replies: the person has just written to us, whatever the hour.
    `body` instead of a template: a text a person wrote, sent as written.
    """
    assert (template is None) != (body is None), "a template or a body, not both"
    assert programme.id is not None
    send_after = quiet_until(max(due, now), programme) if quiet else max(due, now)
    late = not_after is not None and send_after >= not_after
    status = MessageStatus.dropped if late else MessageStatus.queued
    reason = "quiet hours last until the meeting starts" if late else None
    rows = [
        {
            "programme_id": programme.id,
            "person_id": r.person_id,
            "meeting_id": meeting_id,
            "community_id": community_id,
            "direction": Direction.outbound,
            "kind": kind,
            "phone": r.phone,
            "template": template,
            "params": params,
            "body": body,
            "language": r.language,
            "status": status,
            "dedupe_key": dedupe(r) if dedupe else None,
            "send_after": send_after,
            "last_error": reason,
            "created_at": now,
            "updated_at": now,
        }
        for r in recipients
    ]
    written = 0
    for start in range(0, len(rows), _CHUNK):
        result = await session.execute(
            _insert(session).values(rows[start : start + _CHUNK]).returning(Message.__table__.c.id)  # type: ignore[attr-defined]
        )
        written += len(result.all())
    return Queued(
        queued=0 if late else written,
        dropped=written if late else 0,
        send_after=None if late else send_after,
    )


async def drop_pending(
    session: AsyncSession,
    *,
    reason: str,
    now: datetime,
    meeting_id: int | None = None,
    person_id: int | None = None,
    community_id: int | None = None,
    kinds: Sequence[str] | None = None,
) -> int:
    """Keep queued rows matching every filter given as `dropped` with `reason`."""
    conditions: list[Any] = [col(Message.status) == MessageStatus.queued]
    if meeting_id is not None:
        conditions.append(col(Message.meeting_id) == meeting_id)
    if person_id is not None:
        conditions.append(col(Message.person_id) == person_id)
    if community_id is not None:
        conditions.append(col(Message.community_id) == community_id)
    if kinds is not None:
        conditions.append(col(Message.kind).in_(list(kinds)))
    result = await session.execute(
        sa.update(Message)
        .where(*conditions)
        .values(status=MessageStatus.dropped, last_error=reason[:300], updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
