"""Sending the outbox: claim due rows, render them, send in bulk, record what AT said.

One pass (`Sender.send_due`):

1. Rows left in `sending` after their lease expired (a worker died mid-batch)
   become `unknown`. Whether AT took them cannot be known, and resending could
   send twice, so they are never resent silently; a late delivery report still
   settles them.
2. Claim a batch of due `queued` rows: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
   any number of workers share the outbox without taking the same row; each
   claimed row is `sending` with a lease and one more attempt.
3. Re-check each row against the world as it is now: whoever said STOP gets
   nothing but the confirmation, whoever left the community nothing of it, and a
   reminder for a meeting that was cancelled, held or has started is dropped.
4. Render the body in the person's language and programme time (a person's first
   message says how to stop), measure encoding and segments, estimate the cost.
5. Group identical bodies into requests of up to 1,000 recipients, send them
   through the gateway off the event loop, and store each recipient's outcome:
   accepted (`sent`, with AT's id and cost), transient (`queued` again after an
   exponential backoff with jitter, `failed` after the last attempt) or
   permanent (`failed` with the reason).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlmodel import col, select

from service.db import SessionFactory
from service.domain import outbox
from service.models import Meeting, Membership, Message, Person, Programme
from service.models.enums import Direction, Language, MeetingStatus, MembershipStatus, MessageStatus
from service.models.types import utcnow
from sms.encoding import estimate_cost, measure
from sms.gateway import MAX_RECIPIENTS, Gateway, GatewayError, RecipientOutcome, RecipientResult
from sms.texts import SmsTexts

log = structlog.get_logger(__name__)

TABLE = Message.__table__  # type: ignore[attr-defined]

# Templates that may reach someone who said STOP: the confirmation of that STOP.
AFTER_STOP = frozenset({"stopped"})


@dataclass(frozen=True)
class SendPolicy:
    batch: int = 2000
    lease: timedelta = timedelta(minutes=5)
    max_attempts: int = 5
    backoff_base: timedelta = timedelta(seconds=30)
    backoff_cap: timedelta = timedelta(hours=1)
    parallel_requests: int = 8

    def backoff(self, attempts: int, rng: random.Random) -> timedelta:
        """Equal jitter: between half and all of base * 2^(attempts-1), capped."""
        ceiling: timedelta = min(self.backoff_cap, self.backoff_base * (2 ** max(attempts - 1, 0)))
        return ceiling * (0.5 + rng.random() / 2)


@dataclass
class Claimed:
    id: int
    programme_id: int
    person_id: int | None
    meeting_id: int | None
    community_id: int | None
    kind: str
    phone: str
    template: str | None
    params: dict[str, Any] | None
    language: Language | None
    body: str | None
    attempts: int
    values: dict[str, Any] = field(default_factory=dict)  # what to store for this row
    footer: bool = False  # carries the how-to-stop line


@dataclass(frozen=True)
class _Context:
    programmes: dict[int, Programme]
    opted_out: set[int]
    members: set[tuple[int, int]]  # (community, person) still active
    meetings: dict[int, tuple[MeetingStatus, datetime]]
    introduced: set[int]  # people who have had a message that told them how to stop


@dataclass
class PassReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    expired: int = 0
    unknown: int = 0


class Sender:
    def __init__(
        self,
        sessions: SessionFactory,
        gateway: Gateway,
        texts: SmsTexts,
        *,
        policy: SendPolicy | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.sessions = sessions
        self.gateway = gateway
        self.texts = texts
        self.policy = policy or SendPolicy()
        self.clock = clock
        self.rng = rng or random.Random()

    async def send_due(self) -> PassReport:
        """One pass over the outbox: expire leases, then claim and send one batch."""
        report = PassReport(expired=await self.expire_leases())
        rows = await self.claim()
        report.claimed = len(rows)
        if not rows:
            return report
        context = await self._context(rows)
        sendable = self._check(rows, context, report)
        await self._send(sendable, context, report)
        await self._store(rows)
        return report

    async def send_until_idle(self, *, budget: timedelta = timedelta(seconds=30)) -> PassReport:
        """Pass after pass while full batches keep coming, for at most `budget`, so a
        backlog drains at full speed and the worker's other jobs still get their turn."""
        total = PassReport()
        started = time.monotonic()
        while True:
            report = await self.send_due()
            for name in ("claimed", "sent", "retried", "failed", "dropped", "expired", "unknown"):
                setattr(total, name, getattr(total, name) + getattr(report, name))
            if report.claimed < self.policy.batch:
                return total
            if time.monotonic() - started > budget.total_seconds():
                return total

    async def expire_leases(self) -> int:
        now = self.clock()
        async with self.sessions() as session:
            result = await session.execute(
                sa.update(TABLE)
                .where(
                    TABLE.c.status == MessageStatus.sending,
                    TABLE.c.lease_until < now,
                )
                .values(
                    status=MessageStatus.unknown,
                    last_error="the lease ran out while sending: not resent",
                    updated_at=now,
                )
            )
            await session.commit()
        expired = int(getattr(result, "rowcount", 0) or 0)
        if expired:
            log.warning("sms.lease_expired", count=expired)
        return expired

    async def claim(self) -> list[Claimed]:
        """Mark a batch of due rows `sending` under a lease: one statement, one round trip."""
        now = self.clock()
        picked = (
            sa.select(TABLE.c.id)
            .where(
                TABLE.c.direction == Direction.outbound,
                TABLE.c.status == MessageStatus.queued,
                TABLE.c.send_after <= now,
            )
            .order_by(TABLE.c.send_after, TABLE.c.id)
            .limit(self.policy.batch)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        claim = (
            sa.update(TABLE)
            .where(TABLE.c.id.in_(picked))
            .values(
                status=MessageStatus.sending,
                lease_until=now + self.policy.lease,
                attempts=TABLE.c.attempts + 1,
                updated_at=now,
            )
            .returning(
                TABLE.c.id,
                TABLE.c.programme_id,
                TABLE.c.person_id,
                TABLE.c.meeting_id,
                TABLE.c.community_id,
                TABLE.c.kind,
                TABLE.c.phone,
                TABLE.c.template,
                TABLE.c.params,
                TABLE.c.language,
                TABLE.c.body,
                TABLE.c.attempts,
            )
        )
        async with self.sessions() as session:
            rows = [Claimed(*row) for row in (await session.execute(claim)).all()]
            await session.commit()
        return sorted(rows, key=lambda r: r.id)

    async def _context(self, rows: Sequence[Claimed]) -> _Context:
        people = {r.person_id for r in rows if r.person_id is not None}
        communities = {r.community_id for r in rows if r.community_id is not None}
        meeting_ids = {r.meeting_id for r in rows if r.meeting_id is not None}
        async with self.sessions() as session:
            found = await session.exec(
                select(Programme).where(col(Programme.id).in_({r.programme_id for r in rows}))
            )
            programmes = {p.id: p for p in found.all() if p.id is not None}
            opted_out: set[int] = set()
            introduced: set[int] = set()
            ordered = sorted(people)
            for start in range(0, len(ordered), 1000):
                people_found = await session.execute(
                    sa.select(
                        col(Person.id), col(Person.opted_out_at), col(Person.told_how_to_stop_at)
                    ).where(col(Person.id).in_(ordered[start : start + 1000]))
                )
                for row in people_found.all():
                    if row[1] is not None:
                        opted_out.add(int(row[0]))
                    if row[2] is not None:
                        introduced.add(int(row[0]))
            members: set[tuple[int, int]] = set()
            if communities:
                result = await session.execute(
                    sa.select(col(Membership.community_id), col(Membership.person_id)).where(
                        col(Membership.community_id).in_(communities),
                        col(Membership.status) == MembershipStatus.active,
                    )
                )
                members = {(c, p) for c, p in result.all()}
            meetings: dict[int, tuple[MeetingStatus, datetime]] = {}
            if meeting_ids:
                result = await session.execute(
                    sa.select(col(Meeting.id), col(Meeting.status), col(Meeting.starts_at)).where(
                        col(Meeting.id).in_(meeting_ids)
                    )
                )
                meetings = {i: (s, at) for i, s, at in result.all()}
        return _Context(programmes, opted_out, members, meetings, introduced)

    def _check(self, rows: Sequence[Claimed], ctx: _Context, report: PassReport) -> list[Claimed]:
        now = self.clock()
        sendable: list[Claimed] = []
        footed: set[int] = set()
        for row in rows:
            reason = _reason_not_to_send(row, ctx, now)
            if reason is None:
                try:
                    self._render(row, ctx, footed)
                except Exception as exc:  # a broken template must not stall the outbox
                    reason = f"could not render: {exc}"[:300]
            if reason is not None:
                row.values = {"status": MessageStatus.dropped, "last_error": reason}
                report.dropped += 1
                continue
            sendable.append(row)
        return sendable

    def _render(self, row: Claimed, ctx: _Context, footed: set[int]) -> None:
        programme = ctx.programmes[row.programme_id]
        language = row.language or programme.default_language
        first = row.person_id is not None and row.person_id not in ctx.introduced
        footer = first and row.person_id not in footed
        if row.body is not None:  # written by a person (a broadcast): sent as written
            body = f"{row.body} {self.texts.footer(language)}" if footer else row.body
        else:
            assert row.template is not None
            body = self.texts.render(
                row.template,
                language,
                row.params or {},
                timezone=programme.timezone,
                footer=footer,
            )
        if first and row.person_id is not None:
            footed.add(row.person_id)
        row.footer = footer
        size = measure(body)
        row.body = body
        row.values = {
            "body": body,
            "encoding": size.encoding,
            "segments": size.segments,
            "cost": estimate_cost(size, programme.sms_price),
            "currency": programme.currency,
        }

    async def _send(self, rows: Sequence[Claimed], ctx: _Context, report: PassReport) -> None:
        requests: list[tuple[str, str | None, list[Claimed]]] = []
        groups: dict[tuple[str | None, str], list[Claimed]] = defaultdict(list)
        for row in rows:
            assert row.body is not None
            groups[(ctx.programmes[row.programme_id].sender_id, row.body)].append(row)
        for (sender_id, body), members in groups.items():
            requests += [(body, sender_id, chunk) for chunk in _requests(members)]
        gate = asyncio.Semaphore(self.policy.parallel_requests)

        async def one(body: str, sender_id: str | None, chunk: list[Claimed]) -> None:
            async with gate:
                await self._send_one(body, sender_id, chunk, report)

        await asyncio.gather(*(one(*request) for request in requests))

    async def _send_one(
        self, body: str, sender_id: str | None, rows: list[Claimed], report: PassReport
    ) -> None:
        try:
            results = await asyncio.to_thread(
                self.gateway.send, body, [r.phone for r in rows], sender_id
            )
        except GatewayError as exc:
            log.warning("sms.request_failed", recipients=len(rows), reason=exc.reason[:200])
            for row in rows:
                if exc.maybe_taken:
                    # Like a lease that ran out: AT may have the message, so it is not
                    # resent; a delivery report for this number settles it.
                    row.values.update(
                        status=MessageStatus.unknown,
                        last_error=f"{exc.reason}: AT may have taken it, not resent",
                    )
                    report.unknown += 1
                else:
                    self._settle_failure(row, exc.reason, exc.transient, report)
            return
        by_number: dict[str, RecipientResult] = {r.number: r for r in results}
        now = self.clock()
        for row in rows:
            answer = by_number.get(row.phone)
            if answer is None:
                row.values.update(
                    status=MessageStatus.unknown,
                    last_error="the gateway did not answer for this number",
                )
                report.unknown += 1
            elif answer.outcome is RecipientOutcome.accepted:
                row.values.update(
                    status=MessageStatus.sent,
                    provider_id=answer.message_id,
                    sent_at=now,
                    last_error=None,
                    **(
                        {"cost": answer.cost, "currency": answer.currency}
                        if answer.cost is not None
                        else {}
                    ),
                )
                report.sent += 1
            else:
                reason = f"{answer.status} ({answer.status_code})"
                self._settle_failure(
                    row, reason, answer.outcome is RecipientOutcome.transient, report
                )

    def _settle_failure(
        self, row: Claimed, reason: str, transient: bool, report: PassReport
    ) -> None:
        attempts = row.attempts  # the claim counted this attempt already
        if transient and attempts < self.policy.max_attempts:
            row.values.update(
                status=MessageStatus.queued,
                send_after=self.clock() + self.policy.backoff(attempts, self.rng),
                last_error=reason[:300],
            )
            report.retried += 1
        else:
            given_up = f"gave up after {attempts} attempts: {reason}" if transient else reason
            row.values.update(status=MessageStatus.failed, last_error=given_up[:300])
            report.failed += 1

    async def _store(self, rows: Sequence[Claimed]) -> None:
        """Write every row's outcome; rows are grouped by the columns they change."""
        now = self.clock()
        by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            values = {**row.values, "updated_at": now, "lease_until": None}
            by_shape[tuple(sorted(values))].append({"_id": row.id, **values})
        async with self.sessions() as session:
            for shape, params in by_shape.items():
                statement = (
                    sa.update(TABLE)
                    .where(TABLE.c.id == sa.bindparam("_id"))
                    .values({name: sa.bindparam(name) for name in shape})
                )
                await session.execute(statement, params)
            told = sorted(
                {
                    row.person_id
                    for row in rows
                    if row.footer
                    and row.person_id is not None
                    and row.values.get("status") in (MessageStatus.sent, MessageStatus.unknown)
                }
            )
            for start in range(0, len(told), 1000):
                await session.execute(
                    sa.update(Person)
                    .where(
                        col(Person.id).in_(told[start : start + 1000]),
                        col(Person.told_how_to_stop_at).is_(None),
                    )
                    .values(told_how_to_stop_at=now)
                )
            await session.commit()


def _reason_not_to_send(row: Claimed, ctx: _Context, now: datetime) -> str | None:
    if row.person_id in ctx.opted_out and row.template not in AFTER_STOP:
        return "opted out"
    if row.kind == outbox.REPLY:
        return None
    if (
        row.community_id is not None
        and row.person_id is not None
        and (row.community_id, row.person_id) not in ctx.members
    ):
        return "left the community"
    if row.kind in outbox.MEETING_BOUND and row.meeting_id is not None:
        status, starts_at = ctx.meetings.get(row.meeting_id, (MeetingStatus.cancelled, now))
        if status is not MeetingStatus.scheduled:
            return f"meeting {status.value}"
        if starts_at <= now:
            return "the meeting has started"
    return None


def _requests(rows: list[Claimed]) -> Iterable[list[Claimed]]:
    """Chunks of at most MAX_RECIPIENTS with each number once: AT answers per number."""
    pending = rows
    while pending:
        seen: set[str] = set()
        chunk: list[Claimed] = []
        later: list[Claimed] = []
        for row in pending:
            if row.phone in seen or len(chunk) >= MAX_RECIPIENTS:
                later.append(row)
            else:
                seen.add(row.phone)
                chunk.append(row)
        yield chunk
        pending = later
