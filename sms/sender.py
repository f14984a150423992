"""Sending the outbox: claim due rows, render them, send in bulk, record what AT said.

One pass (`Sender.send_due`):

1. Leases a dead worker left behind run out (sms/claims.py): rows it never handed to
   the gateway are queued again; rows it did are `unknown`, never resent silently.
2. Claim a small batch of due `queued` rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
   so any number of workers share the outbox), a phone's oldest first.
3. Re-check each row against the world as it is now: whoever said STOP gets nothing
   but the confirmation, whoever left the community nothing of it, and a reminder
   for a meeting that was cancelled, held or has started is dropped, as is a
   notice that a newer state of its meeting contradicts.
4. Render the body in the person's language and programme time (a person's first
   message says how to stop), measure encoding and segments, estimate the cost.
5. Group identical bodies into requests of up to 1,000 recipients and send them,
   `parallel_requests` at a time. Just before a request leaves, its rows are marked
   as handed to the gateway (and the lease renewed when it runs short), in a commit
   of its own; as soon as it is answered, each row's outcome is stored: accepted
   (`sent`, with AT's id and cost), transient and provably never sent (`queued`
   after a backoff with jitter, `failed` after the last attempt), permanent
   (`failed` with the reason), or perhaps taken (`unknown`: a timeout or a
   connection lost after the request left). A worker killed mid-batch thus strands
   only the requests in flight.
6. The ids are stored even through a database outage: the answers are held and
   written again until the database answers (for `store_retry_for`), and delivery
   reports that came first are applied as they are written.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
import structlog
from sqlmodel import col, select

from service.db import SessionFactory
from service.domain import outbox, webhooks
from service.domain.segments import estimate_cost, measure
from service.metrics import SENDS
from service.models import Meeting, Membership, Person, Programme
from service.models.enums import Language, MeetingStatus, MembershipStatus, MessageStatus, Reach
from service.models.types import utcnow
from sms import claims, threads
from sms.claims import Claimed
from sms.delivery import lock_ids, settle_unmatched, stop_blacklisted
from sms.gateway import (
    MAX_RECIPIENTS,
    Gateway,
    GatewayError,
    RecipientOutcome,
    RecipientResult,
    recipient_error_kind,
)
from sms.grouping import GroupCommit
from sms.texts import SmsTexts
from sms.whatsapp_gateway import WhatsAppGateway
from sms.whatsapp_route import PersonReach
from sms.whatsapp_sender import WhatsAppDispatch

log = structlog.get_logger(__name__)

# Templates that may reach someone who said STOP: the confirmation of that STOP.
# A sign-in code is sent only because the person asked for it on the console.
AFTER_STOP = frozenset({"stopped", "sign_in_code"})
# AT's per-recipient code for a number that blocks our sender id.
BLACKLISTED_CODE = 406


@dataclass(frozen=True)
class SendPolicy:
    # Small enough that a killed worker strands little, large enough to fill requests.
    batch: int = 500
    # How long a request may take: connect and read timeouts, and storing its answer.
    # Renewed as the batch goes on, so a dead worker's rows are free again this soon.
    lease: timedelta = timedelta(seconds=30)
    max_attempts: int = 5
    backoff_base: timedelta = timedelta(seconds=30)
    backoff_cap: timedelta = timedelta(hours=1)
    parallel_requests: int = 8
    # WhatsApp takes one request per message, so the requests in flight are its rate:
    # about 25 a second per worker at a gateway's ~0.3 s (COPLINE_WHATSAPP_PARALLEL).
    # Against the local simulator more threads only contend for the GIL: 32 cost the
    # fan-out bench a fifth more CPU than 8. SMS and WhatsApp share one pool of threads,
    # as many as the larger of the two.
    whatsapp_parallel: int = 8
    # How long results are held and written again while the database is away.
    store_retry_for: timedelta = timedelta(hours=1)
    store_retry_cap_s: float = 10.0

    def backoff(self, attempts: int, rng: random.Random) -> timedelta:
        """Equal jitter: between half and all of base * 2^(attempts-1), capped."""
        ceiling: timedelta = min(self.backoff_cap, self.backoff_base * (2 ** max(attempts - 1, 0)))
        return ceiling * (0.5 + rng.random() / 2)

    @classmethod
    def for_timeout(cls, timeout_s: float, **overrides: object) -> SendPolicy:
        """A lease that covers a request that waits out both of the gateway's timeouts."""
        lease = timedelta(seconds=2 * timeout_s + 10)
        return cls(lease=lease, **overrides)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Context:
    programmes: dict[int, Programme]
    opted_out: set[int]
    members: set[tuple[int, int]]  # (community, person) still active
    meetings: dict[int, tuple[MeetingStatus, datetime]]
    introduced: set[int]  # people who have had a message that told them how to stop
    # People who chose WhatsApp, with what WhatsApp's rules need to know of them.
    reach: dict[int, PersonReach] = field(default_factory=dict)


@dataclass
class PassReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    expired: int = 0  # left `sending` by a dead worker after it handed them over: unknown
    requeued: int = 0  # left `sending` by a dead worker before it handed them over
    unknown: int = 0
    released: int = 0  # claimed but not sent this pass (the database went away)

    def add(self, other: PassReport) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


_Request = tuple[str, str | None, list[Claimed]]


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
        whatsapp: WhatsAppGateway | None = None,
    ) -> None:
        self.sessions = sessions
        self.gateway = gateway
        self.texts = texts
        self.policy = policy or SendPolicy()
        self.clock = clock
        self.rng = rng or random.Random()
        # One pool for both gateways: the threads running at once are what contends for
        # the GIL (separate SMS and WhatsApp pools cost the fan-out bench 8% more time).
        self._threads = threads.pool(
            "gateway", max(self.policy.parallel_requests, self.policy.whatsapp_parallel)
        )
        # Without a WhatsApp gateway everyone is sent SMS, as before there was WhatsApp.
        self.whatsapp = (
            None
            if whatsapp is None
            else WhatsAppDispatch(
                whatsapp,
                texts,
                parallel=self.policy.whatsapp_parallel,
                clock=clock,
                pool=self._threads,
            )
        )

    async def send_due(self) -> PassReport:
        """One pass over the outbox: expire leases, then claim and send one batch."""
        report = PassReport()
        report.requeued, report.expired = await claims.expire_leases(self.sessions, self.clock())
        rows = await claims.claim(
            self.sessions, self.clock(), batch=self.policy.batch, lease=self.policy.lease
        )
        report.claimed = len(rows)
        if not rows:
            return report
        context = await self._context(rows)
        sendable = self._check(rows, context, report)
        dropped = [r for r in rows if r.values.get("status") is MessageStatus.dropped]
        if dropped:
            await self._store(dropped)
        if self.whatsapp is None or not context.reach:
            await self._send(sendable, context, report)
            return report
        by_sms, chosen = self.whatsapp.split(sendable, context.reach, context.programmes)
        whatsapp = self.whatsapp

        async def by_whatsapp() -> None:
            refused, sent = await whatsapp.send(chosen, context.programmes, _Claims(self))
            report.sent += sent.sent
            report.unknown += sent.unknown
            if refused:  # the teacher still hears of it today, by SMS
                await self._send(refused, context, report)

        # WhatsApp's one request per message and SMS's bulk requests go side by side,
        # so neither waits for the other's gateway.
        await asyncio.gather(self._send(by_sms, context, report), by_whatsapp())
        return report

    async def send_until_idle(self, *, budget: timedelta = timedelta(seconds=30)) -> PassReport:
        """Pass after pass while full batches keep coming, for at most `budget`, so a
        backlog drains at full speed and the worker's other jobs still get their turn."""
        total = PassReport()
        started = time.monotonic()
        while True:
            report = await self.send_due()
            total.add(report)
            if report.claimed < self.policy.batch or report.released:
                return total
            if time.monotonic() - started > budget.total_seconds():
                return total

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
            reach: dict[int, PersonReach] = {}
            ordered = sorted(people)
            for start in range(0, len(ordered), 1000):
                people_found = await session.execute(
                    sa.select(
                        col(Person.id),
                        col(Person.opted_out_at),
                        col(Person.told_how_to_stop_at),
                        col(Person.reach),
                        col(Person.whatsapp_opt_in_at),
                        col(Person.whatsapp_opted_out_at),
                        col(Person.whatsapp_last_inbound_at),
                    ).where(col(Person.id).in_(ordered[start : start + 1000]))
                )
                for row in people_found.all():
                    if row[1] is not None:
                        opted_out.add(int(row[0]))
                    if row[2] is not None:
                        introduced.add(int(row[0]))
                    if row[3] == Reach.whatsapp:
                        reach[int(row[0])] = PersonReach(Reach.whatsapp, row[4], row[5], row[6])
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
        return _Context(programmes, opted_out, members, meetings, introduced, reach)

    def _check(self, rows: Sequence[Claimed], ctx: _Context, report: PassReport) -> list[Claimed]:
        now = self.clock()
        sendable: list[Claimed] = []
        footed: set[int] = set()
        rendered: dict[tuple[object, ...], tuple[str, dict[str, object]]] = {}
        for row in rows:
            reason = _reason_not_to_send(row, ctx, now)
            if reason is None:
                try:
                    self._render(row, ctx, footed, rendered)
                except Exception as exc:  # a broken template must not stall the outbox
                    reason = f"could not render: {exc}"[:300]
            if reason is not None:
                row.values = {"status": MessageStatus.dropped, "last_error": reason}
                report.dropped += 1
                continue
            sendable.append(row)
        return sendable

    def _render(
        self,
        row: Claimed,
        ctx: _Context,
        footed: set[int],
        rendered: dict[tuple[object, ...], tuple[str, dict[str, object]]],
    ) -> None:
        """Body, encoding, segments and cost; rows that say the same share one rendering
        (a round's reminders to a community: one per language and first-or-not)."""
        programme = ctx.programmes[row.programme_id]
        language = row.language or programme.default_language
        first = row.person_id is not None and row.person_id not in ctx.introduced
        footer = first and row.person_id not in footed
        if first and row.person_id is not None:
            footed.add(row.person_id)
        row.footer = footer
        what = (
            (row.template, repr(sorted((row.params or {}).items())))
            if row.body is None
            else (None, row.body)
        )
        key = (row.programme_id, language, footer, *what)
        if key not in rendered:
            rendered[key] = self._rendered(row, programme, language, footer)
        row.body, values = rendered[key]
        row.values = dict(values)

    def _rendered(
        self, row: Claimed, programme: Programme, language: Language, footer: bool
    ) -> tuple[str, dict[str, object]]:
        # Written by a person (a broadcast): sent as written, never transliterated like
        # template values are. The writer saw the console's preview measure exactly this
        # body (UCS-2 if it holds a "ŵ", with the cost and the GSM-7 swap suggested), so
        # what is billed is what they chose; silently rewriting their words could not be
        # previewed truthfully and would change a proper Chichewa spelling behind them.
        if row.body is not None:
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
        size = measure(body)
        return body, {
            "body": body,
            "encoding": size.encoding,
            "segments": size.segments,
            "cost": estimate_cost(size, programme.sms_price),
            "currency": programme.currency,
        }

    async def _send(self, rows: Sequence[Claimed], ctx: _Context, report: PassReport) -> None:
        requests: list[_Request] = []
        groups: dict[tuple[str | None, str], list[Claimed]] = defaultdict(list)
        for row in rows:
            assert row.body is not None
            groups[(ctx.programmes[row.programme_id].sender_id, row.body)].append(row)
        for (sender_id, body), members in groups.items():
            requests += [(body, sender_id, chunk) for chunk in _requests(members)]
        await _Pipeline(self, rows, report).run(requests)

    async def _send_one(
        self, body: str, sender_id: str | None, rows: list[Claimed], report: PassReport
    ) -> None:
        try:
            results = await threads.in_thread(
                self._threads, self.gateway.send, body, [r.phone for r in rows], sender_id
            )
        except GatewayError as exc:
            log.warning("sms.request_failed", recipients=len(rows), reason=exc.reason[:200])
            for row in rows:
                row.error_kind = exc.kind.value
                if exc.maybe_taken:
                    # AT may have the message, so it is not resent; a delivery report
                    # cannot settle it either, as its id never came back.
                    row.values.update(
                        status=MessageStatus.unknown,
                        last_error=f"{exc.reason}: AT may have taken it, not resent"[:300],
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
                row.error_kind = "no_answer"
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
                row.error_kind = recipient_error_kind(answer.status_code)
                reason = f"{answer.status} ({answer.status_code})"
                self._settle_failure(
                    row, reason, answer.outcome is RecipientOutcome.transient, report
                )
                row.blacklisted = answer.status_code == BLACKLISTED_CODE

    def _settle_failure(
        self, row: Claimed, reason: str, transient: bool, report: PassReport
    ) -> None:
        attempts = row.attempts  # the hand-off counted this attempt already
        if transient and attempts < self.policy.max_attempts:
            row.values.update(
                status=MessageStatus.queued,
                send_after=self.clock() + self.policy.backoff(attempts, self.rng),
                claim_token=None,
                last_error=reason[:300],
            )
            report.retried += 1
        else:
            given_up = f"gave up after {attempts} attempts: {reason}" if transient else reason
            row.values.update(status=MessageStatus.failed, last_error=given_up[:300])
            report.failed += 1

    async def _store(self, rows: Sequence[Claimed], *, retry: bool = False) -> None:
        """Write the rows' outcomes; with `retry`, again and again while the database is away:
        the ids in hand are what lets delivery reports settle these rows."""
        await self._persist("store", self._store_once, rows, retry=retry)
        _count_sends(rows)

    async def _give_back(self, rows: Sequence[Claimed]) -> None:
        """Queue rows again that this worker never passed to the gateway, though their
        hand-over may have been committed (the database went away as it answered)."""
        await self._persist("give_back", self._give_back_once, rows, retry=True)

    async def _give_back_once(self, rows: Sequence[Claimed]) -> None:
        await claims.give_back(self.sessions, rows, self.clock())

    async def _persist(
        self,
        what: str,
        write: Callable[[Sequence[Claimed]], Awaitable[None]],
        rows: Sequence[Claimed],
        *,
        retry: bool,
    ) -> None:
        started = time.monotonic()
        pause = 0.2
        while True:
            try:
                await write(rows)
                return
            except Exception as exc:
                waited = time.monotonic() - started
                if not retry or waited > self.policy.store_retry_for.total_seconds():
                    log.error(f"sms.{what}_failed", error=type(exc).__name__, rows=len(rows))
                    raise
                log.warning(f"sms.{what}_retrying", error=type(exc).__name__, rows=len(rows))
                await asyncio.sleep(pause * (0.5 + self.rng.random() / 2))
                pause = min(pause * 2, self.policy.store_retry_cap_s)

    async def _store_once(self, rows: Sequence[Claimed]) -> None:
        now = self.clock()
        blocked = {r.person_id for r in rows if r.blacklisted and r.person_id}
        provider_ids = [r.values["provider_id"] for r in rows if r.values.get("provider_id")]
        async with self.sessions() as session:
            await lock_ids(session, provider_ids)  # a report for one of them may be landing
            await claims.store(session, rows, now)
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
            await settle_unmatched(session, now, provider_ids)
            await stop_blacklisted(session, blocked, now)
            # Refused by the gateway for good (or given up on): `message.failed` too.
            gave_up = {
                r.id: MessageStatus.failed
                for r in rows
                if r.values.get("status") is MessageStatus.failed
            }
            await webhooks.emit_message_reports(session, gave_up, now)
            await session.commit()


class _Claims:
    """The sender's hand-over and storing, for the WhatsApp rows of a pass."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender

    async def hand_off(self, rows: Sequence[Claimed]) -> set[int]:
        policy = self.sender.policy
        now = self.sender.clock()
        return await claims.hand_off(self.sender.sessions, rows, [], now, policy.lease)

    async def store(self, rows: Sequence[Claimed]) -> None:
        await self.sender._store(rows, retry=True)


def _count_sends(rows: Sequence[Claimed]) -> None:
    """The stored outcomes, counted by channel, status and the gateway's error kind."""
    settled = Counter(
        (
            str(row.values.get("reach", Reach.sms)),
            str(row.values.get("status", MessageStatus.unknown)),
            row.error_kind,
        )
        for row in rows
    )
    for labels, count in settled.items():
        SENDS.labels(*labels).inc(count)


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
    if row.meeting_id is not None and row.kind in (*outbox.MEETING_BOUND, outbox.NOTICE):
        status, starts_at = ctx.meetings.get(row.meeting_id, (MeetingStatus.cancelled, now))
        if row.kind == outbox.NOTICE:
            # A cancellation is news whatever happens next; any other notice (a move)
            # is contradicted by a meeting that has been cancelled since.
            if status is MeetingStatus.cancelled and row.template != "cancelled":
                return "meeting cancelled since"
            return None
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


class _Pipeline:
    """One batch's requests, `parallel_requests` at a time, each handed over just before
    it leaves and stored as soon as it is answered. Hand-overs and stores that come
    together share a transaction (group commit), so no request waits for another."""

    def __init__(self, sender: Sender, rows: Sequence[Claimed], report: PassReport) -> None:
        self.sender = sender
        self.report = report
        self.not_handed = {r.id: r for r in rows}
        policy = sender.policy
        self.lease_ends = sender.clock() + policy.lease  # the claim's, near enough
        self.gate = asyncio.Semaphore(policy.parallel_requests)
        self.stopped = False  # the database went away: no more hand-overs this pass
        self.unsent: list[Claimed] = []  # whose hand-over failed: they never left
        self.handing: GroupCommit[list[Claimed], set[int]] = GroupCommit(self._hand_off)
        self.storing: GroupCommit[list[Claimed], None] = GroupCommit(self._store)

    async def run(self, requests: Sequence[_Request]) -> None:
        await asyncio.gather(*(self._one(*request) for request in requests))
        if self.unsent:
            # Their hand-over may have been committed as the database went away: left
            # alone, the lease would make them `unknown`, though they provably never left.
            await self.sender._give_back(self.unsent)

    async def _one(self, body: str, sender_id: str | None, chunk: list[Claimed]) -> None:
        async with self.gate:
            if self.stopped:
                self.report.released += len(chunk)
                return
            try:
                held = await self.handing.submit(chunk)
            except Exception as exc:  # the database is away: nothing of this left
                if not self.stopped:
                    log.warning("sms.hand_off_failed", error=type(exc).__name__)
                self.stopped = True
                self.report.released += len(chunk)
                self.unsent += chunk
                return  # what was not handed over waits for the lease
            chunk = [r for r in chunk if r.id in held]
            if chunk:
                await self.sender._send_one(body, sender_id, chunk, self.report)
        if chunk:
            await self.storing.submit(chunk)

    async def _hand_off(self, chunks: Sequence[list[Claimed]]) -> list[set[int]]:
        rows = [r for chunk in chunks for r in chunk]
        for row in rows:
            self.not_handed.pop(row.id, None)
        now = self.sender.clock()
        policy = self.sender.policy
        # Renew the lease of the rest of the batch when less than half of it is left.
        renew = list(self.not_handed.values()) if self.lease_ends - now < policy.lease / 2 else []
        held = await claims.hand_off(self.sender.sessions, rows, renew, now, policy.lease)
        if renew:
            self.lease_ends = now + policy.lease
        return [held for _ in chunks]

    async def _store(self, chunks: Sequence[list[Claimed]]) -> list[None]:
        await self.sender._store([r for chunk in chunks for r in chunk], retry=True)
        return [None for _ in chunks]
