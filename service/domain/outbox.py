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
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Community, Meeting, Membership, Message, Person, Programme
from service.models.enums import (
    Direction,
    Language,
    MembershipRole,
    MembershipStatus,
    MessageStatus,
)

# What a message is for; also what a programme filters its messages by.
REMINDER = "reminder"
REMIND_NOW = "remind_now"
NOTICE = "notice"
REPLY = "reply"
BROADCAST = "broadcast"
SURVEY = "survey"
PREPARE = "prepare"  # to facilitators: the meeting's activity, 48 hours before
FORWARD = "forward"  # a teacher's own text passed on to a facilitator
ANSWER = "answer"  # a facilitator's TO, back to the teacher

# Kinds that only make sense while the meeting is still on as planned.
MEETING_BOUND = (REMINDER, REMIND_NOW, PREPARE)

_CHUNK = 5000  # rows per executemany
ANALYZE_AFTER = 2000  # queued rows in one go that refresh the planner's statistics
TABLE = Message.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Recipient:
    person_id: int
    phone: str
    language: Language


class Fate(StrEnum):
    """What became of a batch, as the person who caused it is told."""

    sent = "sent"  # going out now
    held = "held"  # quiet hours: going out at send_after
    dropped = "dropped"  # kept unsent: it could only go out once the meeting had started
    nobody = "nobody"  # no one to send to (no phone, or opted out)


@dataclass(frozen=True)
class Queued:
    queued: int  # rows that will be sent
    dropped: int  # rows kept with a reason instead (quiet hours past the meeting)
    send_after: datetime | None  # when the queued rows go out (all share one time)

    def fate(self, now: datetime) -> Fate:
        """`now` as given when queueing: rows not held are due at exactly that moment."""
        if self.queued:
            held = self.send_after is not None and self.send_after > now
            return Fate.held if held else Fate.sent
        return Fate.dropped if self.dropped else Fate.nobody


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


def activity_params(meeting: Meeting) -> dict[str, Any]:
    """The values of a template that shows the meeting's toolkit activity."""
    return {
        "activity": meeting.activity or "",
        "activity_page": meeting.activity_page,
        "activity_link": meeting.activity_link,
    }


async def members_to_message(
    session: AsyncSession, community_id: int, *, exclude: Iterable[int] = ()
) -> list[Recipient]:
    """Active members with a phone who have not opted out."""
    skip = set(exclude)
    found = (await members_of(session, [community_id]))[community_id]
    return [r for r in found if r.person_id not in skip]


async def members_of(
    session: AsyncSession, community_ids: Sequence[int], *, role: MembershipRole | None = None
) -> dict[int, list[Recipient]]:
    """Active members (with `role`: only those with that role) with a phone who have not
    opted out, for many communities at once (one query per thousand), each community's
    ordered by person."""
    found: dict[int, list[Recipient]] = {c: [] for c in community_ids}
    ids = list(community_ids)
    for start in range(0, len(ids), 1000):
        stmt = (
            sa.select(
                col(Membership.community_id),
                col(Person.id),
                col(Person.phone),
                col(Person.language),
            )
            .join(Membership, col(Membership.person_id) == col(Person.id))
            .where(
                col(Membership.community_id).in_(ids[start : start + 1000]),
                col(Membership.status) == MembershipStatus.active,
                col(Person.phone).is_not(None),
                col(Person.opted_out_at).is_(None),
            )
            .order_by(col(Membership.community_id), col(Person.id))
        )
        if role is not None:
            stmt = stmt.where(col(Membership.role) == role)
        rows = await session.execute(stmt)
        for community_id, person_id, phone, language in rows.all():
            found[community_id].append(Recipient(person_id, phone, language))
    return found


def _reachable(programme_id: int, community_id: int | None, exclude: Iterable[int]) -> list[Any]:
    """Conditions on Person: active members (of one community, or of any of the
    programme's) with a phone who have not opted out."""
    communities = sa.select(col(Community.id)).where(col(Community.programme_id) == programme_id)
    if community_id is not None:
        communities = communities.where(col(Community.id) == community_id)
    members = sa.select(col(Membership.person_id)).where(
        col(Membership.community_id).in_(communities),
        col(Membership.status) == MembershipStatus.active,
    )
    conditions = [
        col(Person.programme_id) == programme_id,
        col(Person.id).in_(members),
        col(Person.phone).is_not(None),
        col(Person.opted_out_at).is_(None),
    ]
    skip = sorted(set(exclude))
    if skip:
        conditions.append(col(Person.id).not_in(skip))
    return conditions


async def programme_members(
    session: AsyncSession, programme_id: int, *, exclude: Iterable[int] = ()
) -> list[Recipient]:
    """Every active member of any of the programme's communities with a phone who has
    not opted out, each once (a teacher in two CoPs gets one SMS), ordered by person."""
    rows = await session.execute(
        sa.select(col(Person.id), col(Person.phone), col(Person.language))
        .where(*_reachable(programme_id, None, exclude))
        .order_by(col(Person.id))
    )
    return [Recipient(pid, phone, language) for pid, phone, language in rows.all()]


async def count_reachable(
    session: AsyncSession,
    programme_id: int,
    community_id: int | None = None,
    *,
    exclude: Iterable[int] = (),
) -> int:
    """How many people a message to a community (or, with None, to the whole
    programme) would reach now: the rows `members_to_message` / `programme_members`
    would give, counted in SQL."""
    stmt = (
        sa.select(sa.func.count())
        .select_from(Person)
        .where(*_reachable(programme_id, community_id, exclude))
    )
    return int((await session.execute(stmt)).scalar_one())


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _insert(session: AsyncSession) -> Any:
    dialect = _dialect(session)
    insert = postgresql.insert(TABLE) if dialect == "postgresql" else sqlite.insert(TABLE)
    return insert.on_conflict_do_nothing(index_elements=["dedupe_key"])


@dataclass(frozen=True)
class Batch:
    """Rows that share what they say and when: one meeting's round, one notice…"""

    programme: Programme
    recipients: Sequence[Recipient]
    kind: str
    template: str | None
    params: dict[str, Any] | None
    due: datetime
    dedupe: Callable[[Recipient], str] | None = None
    meeting_id: int | None = None
    community_id: int | None = None
    not_after: datetime | None = None
    quiet: bool = True
    body: str | None = None


def _rows(batch: Batch, now: datetime) -> tuple[list[dict[str, Any]], bool, datetime]:
    assert (batch.template is None) != (batch.body is None), "a template or a body, not both"
    assert batch.programme.id is not None
    due = max(batch.due, now)
    send_after = quiet_until(due, batch.programme) if batch.quiet else due
    late = batch.not_after is not None and send_after >= batch.not_after
    rows = [
        {
            "programme_id": batch.programme.id,
            "person_id": r.person_id,
            "meeting_id": batch.meeting_id,
            "community_id": batch.community_id,
            "direction": Direction.outbound,
            "kind": batch.kind,
            "phone": r.phone,
            "template": batch.template,
            "params": batch.params,
            "body": batch.body,
            "language": r.language,
            "status": MessageStatus.dropped if late else MessageStatus.queued,
            "dedupe_key": batch.dedupe(r) if batch.dedupe else None,
            "send_after": send_after,
            "last_error": "quiet hours last until the meeting starts" if late else None,
            "created_at": now,
            "updated_at": now,
        }
        for r in batch.recipients
    ]
    return rows, late, send_after


async def queue_many(
    session: AsyncSession, batches: Sequence[Batch], now: datetime, *, analyse: bool = True
) -> Queued:
    """Every batch's rows in one batched INSERT (the reminder job writes thousands at once);
    rows whose dedupe key exists already are skipped. `send_after` is the last batch's.
    `analyse=False`: a caller queueing slice after slice refreshes the statistics once."""
    rows: list[dict[str, Any]] = []
    send_after: datetime | None = None
    for batch in batches:
        more, late, when = _rows(batch, now)
        rows += more
        send_after = None if late else when
    queued = dropped = 0
    for start in range(0, len(rows), _CHUNK):
        # executemany with RETURNING: SQLAlchemy sends it as multi-row INSERTs, compiled once.
        result = await session.execute(
            _insert(session).returning(TABLE.c.status), rows[start : start + _CHUNK]
        )
        for (status,) in result.all():
            if status == MessageStatus.dropped:
                dropped += 1
            else:
                queued += 1
    if analyse and queued >= ANALYZE_AFTER and _dialect(session) == "postgresql":
        # A round of thousands changes what the outbox looks like faster than autovacuum
        # notices; until it does, the planner believes in the old, empty queue and walks
        # every due row per claim. Sampling now (the new rows included) keeps claims an
        # index walk from the first one.
        await session.execute(sa.text("ANALYZE message"))
    return Queued(queued=queued, dropped=dropped, send_after=send_after if queued else None)


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
    batch = Batch(
        programme=programme,
        recipients=recipients,
        kind=kind,
        template=template,
        params=params,
        due=due,
        dedupe=dedupe,
        meeting_id=meeting_id,
        community_id=community_id,
        not_after=not_after,
        quiet=quiet,
        body=body,
    )
    return await queue_many(session, [batch], now)


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
