"""Delivery reports from Africa's Talking: a message's status only ever moves forward, and
only the message whose id the report names is moved.

AT posts `id, status, phoneNumber, networkCode, failureReason, retryCount` for each
message it took. `Sent`, `Submitted` and `Buffered` say it is on its way; `Success`
that the phone has it; `Rejected`, `Failed` and the undocumented `Expired` that it
never will. A report older than what we have changes nothing and is still answered
200: AT would only send it again.

A report whose id no message carries yet is kept in `unmatched_report`, not in a
process's memory: AT can report within milliseconds of answering a send, before the
sender has stored the id, and a sender waiting out a database outage stores its ids
minutes later. The sender applies waiting reports as it stores ids, and a worker
job sweeps the rest. A report whose id never comes (its request's answer was lost:
a timeout, a dropped connection, a worker killed mid-request) expires after
UNMATCHED_KEEP. It is never given to another message of the same phone: which of a
phone's messages it is about cannot be known, and guessing settles the wrong one.

`failureReason=UserInBlacklist` means the subscriber blocked our sender: that
person is opted out (channel SMS) and what is queued for them is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import outbox, webhooks
from service.domain.actor import Actor
from service.domain.people import opt_out
from service.metrics import DELIVERY_REPORTS, REPORT_LAG_SECONDS
from service.models import Message, Person, UnmatchedReport
from service.models.enums import Channel, Direction, MessageStatus, Reach
from service.models.types import utcnow
from sms.grouping import GroupCommit
from sms.whatsapp_fallback import resend_by_sms

log = structlog.get_logger(__name__)

TABLE = Message.__table__  # type: ignore[attr-defined]
UNMATCHED = UnmatchedReport.__table__  # type: ignore[attr-defined]

STATUSES: Mapping[str, MessageStatus] = {
    "sent": MessageStatus.sent,
    "submitted": MessageStatus.sent,
    "buffered": MessageStatus.sent,
    "success": MessageStatus.delivered,
    "rejected": MessageStatus.failed,
    "failed": MessageStatus.failed,
    "expired": MessageStatus.failed,
}

# Which stored statuses each reported status may replace. `unknown` (a request whose
# answer was lost after its id was stored) is settled by a report: AT took it.
_MOVES_FROM: Mapping[MessageStatus, tuple[MessageStatus, ...]] = {
    MessageStatus.sent: (MessageStatus.sending, MessageStatus.unknown),
    MessageStatus.delivered: (MessageStatus.sending, MessageStatus.sent, MessageStatus.unknown),
    MessageStatus.failed: (MessageStatus.sending, MessageStatus.sent, MessageStatus.unknown),
}
_FINAL = frozenset({MessageStatus.delivered, MessageStatus.failed})

# How long a report waits for its id: longer than any database outage a sender
# rides out with the ids in hand (SendPolicy.store_retry_for).
UNMATCHED_KEEP = timedelta(hours=72)
# AT's failure reason when the subscriber has blocked the sender id.
BLACKLISTED = "userinblacklist"


class BadReport(ValueError):
    """The form is not a delivery report; the caller answers 400."""


@dataclass(frozen=True)
class DeliveryReport:
    provider_id: str
    status: MessageStatus
    reported: str  # AT's own word, kept in the reason when it failed
    phone: str | None
    failure_reason: str | None
    retry_count: int | None

    @property
    def blacklisted(self) -> bool:
        return (self.failure_reason or "").replace(" ", "").lower() == BLACKLISTED


def parse_report(form: Mapping[str, str]) -> DeliveryReport:
    provider_id = (form.get("id") or "").strip()
    reported = (form.get("status") or "").strip()
    if not provider_id or len(provider_id) > 80:
        raise BadReport("id is missing")
    if not reported:
        raise BadReport("status is missing")
    status = STATUSES.get(reported.lower())
    if status is None:
        raise BadReport(f"unknown status {reported[:20]!r}")
    retry = (form.get("retryCount") or "").strip()
    if retry and not (retry.isascii() and retry.isdigit() and len(retry) <= 6):
        raise BadReport("retryCount is not a number")
    return DeliveryReport(
        provider_id=provider_id,
        status=status,
        reported=reported[:20],
        phone=(form.get("phoneNumber") or "").strip()[:20] or None,
        failure_reason=(form.get("failureReason") or "").strip()[:100] or None,
        retry_count=int(retry) if retry else None,
    )


async def lock_ids(session: AsyncSession, provider_ids: Collection[str]) -> None:
    """Take a lock per message id until the transaction ends.

    A report that finds no row keeps itself in `unmatched_report`; the sender that
    writes the id looks there. Under READ COMMITTED each could read before the other
    commits and both would miss. Both take these locks first, so one waits for the
    other's commit and then sees it. Ids are locked in one order: no deadlocks.
    SQLite needs none: its writers take turns (transactions begin IMMEDIATE).
    """
    if not provider_ids or session.bind is None or session.bind.dialect.name != "postgresql":
        return
    await session.execute(
        sa.text(
            "SELECT count(pg_advisory_xact_lock(hashtextextended(id, 0))) "
            "FROM (SELECT unnest(CAST(:ids AS text[])) AS id ORDER BY 1) AS ids"
        ),
        {"ids": sorted(set(provider_ids))},
    )


def _values(report: DeliveryReport, now: datetime) -> dict[str, object]:
    values: dict[str, object] = {"status": report.status, "updated_at": now}
    if report.status is MessageStatus.delivered:
        values["delivered_at"] = now
    if report.status is MessageStatus.failed:
        reason = report.failure_reason or "no reason given"
        values["last_error"] = f"{report.reported}: {reason}"[:300]
    return values


async def apply_reports(
    session: AsyncSession, reports: Sequence[DeliveryReport], now: datetime
) -> tuple[list[bool], list[int]]:
    """Move each report's message forward. Returns whether each moved one, and the
    indexes of the reports whose id no message carries. A few statements, whatever
    the number of reports: the locks, one indexed lookup, one batched UPDATE per status."""
    ids = list({r.provider_id for r in reports})
    await lock_ids(session, ids)
    rows = await session.execute(
        sa.select(
            TABLE.c.id,
            TABLE.c.provider_id,
            TABLE.c.status,
            TABLE.c.person_id,
            TABLE.c.reach,
            TABLE.c.sent_at,
        ).where(TABLE.c.direction == Direction.outbound, TABLE.c.provider_id.in_(ids))
    )
    found_rows = rows.all()
    current = {pid: (pk, status, person) for pk, pid, status, person, _, _ in found_rows}
    on_whatsapp = {pk for pk, _, _, _, reach, _ in found_rows if reach == Reach.whatsapp}
    sent_at = {pk: at for pk, _, _, _, _, at in found_rows}
    lags: list[tuple[str, str, float]] = []
    failed_on_whatsapp: set[int] = set()
    updates: dict[MessageStatus, list[dict[str, object]]] = {}
    moved: list[bool] = []
    unfound: list[int] = []
    blocked: set[int] = set()
    for index, report in enumerate(reports):
        found = current.get(report.provider_id)
        if found is None:
            unfound.append(index)
            moved.append(False)
            continue
        pk, status, person_id = found
        if status not in _MOVES_FROM[report.status]:
            moved.append(False)
            continue
        current[report.provider_id] = (pk, report.status, person_id)
        updates.setdefault(report.status, []).append({"_id": pk, **_values(report, now)})
        moved.append(True)
        channel = Reach.whatsapp if pk in on_whatsapp else Reach.sms
        at = sent_at.get(pk)
        if at is not None:
            lags.append((channel.value, report.status.value, (now - at).total_seconds()))
        if report.status is MessageStatus.failed and report.blacklisted and person_id:
            blocked.add(person_id)
        if report.status is MessageStatus.failed and pk in on_whatsapp:
            failed_on_whatsapp.add(pk)
    for target, params in updates.items():
        await session.execute(
            sa.update(TABLE)
            .where(
                TABLE.c.id == sa.bindparam("_id"),
                # Another process may have moved it meanwhile: still forward only.
                # (Literals: an expanding IN cannot go in an executemany.)
                TABLE.c.status.in_(
                    [sa.literal_column(f"'{s.value}'") for s in _MOVES_FROM[target]]
                ),
            )
            .values({name: sa.bindparam(name) for name in params[0] if name != "_id"}),
            params,
        )
    settled = {
        int(str(p["_id"])): target for target, ps in updates.items() if target in _FINAL for p in ps
    }
    await webhooks.emit_message_reports(session, settled, now)
    await stop_blacklisted(session, blocked, now)
    await resend_by_sms(session, failed_on_whatsapp, now)
    _count_reports(lags, moved, unfound)
    return moved, unfound


def _count_reports(
    lags: Sequence[tuple[str, str, float]], moved: Sequence[bool], unfound: Sequence[int]
) -> None:
    """Each moved report's lag since its message was sent; how many reports moved their
    message, found it further already, or found no message with their id (yet)."""
    for channel, status, seconds in lags:
        REPORT_LAG_SECONDS.labels(channel, status).observe(max(seconds, 0.0))
    went = sum(moved)
    for result, count in (
        ("moved", went),
        ("stale", len(moved) - went - len(unfound)),
        ("unmatched", len(unfound)),
    ):
        if count:
            DELIVERY_REPORTS.labels(result).inc(count)


async def stop_blacklisted(session: AsyncSession, people: Collection[int], now: datetime) -> int:
    """The subscriber blocked our sender at the network: stop sending to them."""
    if not people:
        return 0
    found = await session.exec(select(Person).where(col(Person.id).in_(sorted(people))))
    stopped = 0
    for person in found.all():
        if await opt_out(person, channel=Channel.sms, session=session, actor=Actor.system()):
            await outbox.drop_pending(
                session, person_id=person.id, reason="the number blocks our sender id", now=now
            )
            stopped += 1
    if stopped:
        log.info("sms.blacklisted_opted_out", people=stopped)
    return stopped


def _insert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return postgresql.insert(UNMATCHED) if dialect == "postgresql" else sqlite.insert(UNMATCHED)


async def keep_unmatched(
    session: AsyncSession, reports: Sequence[DeliveryReport], now: datetime
) -> None:
    """Keep reports whose id is not stored yet; a final word replaces an earlier `Sent`."""
    if not reports:
        return
    latest: dict[str, DeliveryReport] = {}
    for report in reports:
        seen = latest.get(report.provider_id)
        if seen is None or seen.status not in _FINAL:
            latest[report.provider_id] = report
    insert = _insert(session)
    statement = insert.on_conflict_do_update(
        index_elements=["provider_id"],
        set_={
            "status": insert.excluded.status,
            "reported": insert.excluded.reported,
            "failure_reason": insert.excluded.failure_reason,
        },
        where=UNMATCHED.c.status == sa.literal_column(f"'{MessageStatus.sent.value}'"),
    )
    await session.execute(
        statement,
        [
            {
                "provider_id": r.provider_id,
                "status": r.status,
                "reported": r.reported,
                "failure_reason": r.failure_reason,
                "received_at": now,
            }
            for r in latest.values()
        ],
    )


async def settle_unmatched(
    session: AsyncSession, now: datetime, provider_ids: Collection[str] | None = None
) -> int:
    """Apply waiting reports whose id a message now carries (only `provider_ids`, if
    given), and forget those past UNMATCHED_KEEP. Returns how many were applied."""
    query = (
        sa.select(
            UNMATCHED.c.id,
            UNMATCHED.c.provider_id,
            UNMATCHED.c.status,
            UNMATCHED.c.reported,
            UNMATCHED.c.failure_reason,
        )
        .join(
            TABLE,
            sa.and_(
                TABLE.c.provider_id == UNMATCHED.c.provider_id,
                TABLE.c.direction == Direction.outbound,
            ),
        )
        .limit(5000)
    )
    if provider_ids is not None:
        if not provider_ids:
            return 0
        query = query.where(UNMATCHED.c.provider_id.in_(list(provider_ids)))
    waiting = (await session.execute(query)).all()
    if waiting:
        reports = [
            DeliveryReport(pid, MessageStatus(status), reported, None, reason, None)
            for _, pid, status, reported, reason in waiting
        ]
        await apply_reports(session, reports, now)
        await session.execute(
            sa.delete(UNMATCHED).where(UNMATCHED.c.id.in_([row[0] for row in waiting]))
        )
    if provider_ids is None:
        gone = await session.execute(
            sa.delete(UNMATCHED).where(UNMATCHED.c.received_at < now - UNMATCHED_KEEP)
        )
        expired = int(getattr(gone, "rowcount", 0) or 0)
        if expired:
            log.info("sms.unmatched_reports_expired", count=expired)
    return len(waiting)


class ReportSink:
    """Group commit for delivery reports: each request waits for its report to be
    committed (so a 200 never loses one), but reports arriving together share one
    transaction, one lookup and one batched UPDATE. At thousands a second the
    per-transaction cost, not the UPDATE, is what a report would otherwise pay."""

    def __init__(
        self,
        sessions: Callable[[], AsyncSession],
        *,
        max_batch: int = 500,
        max_wait_s: float = 0.005,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self._group: GroupCommit[DeliveryReport, bool] = GroupCommit(
            self._apply, max_batch=max_batch, linger_s=max_wait_s
        )

    async def submit(self, report: DeliveryReport) -> bool:
        """True when the report moved its message forward; raises if the commit failed
        (every waiting request then answers 500, and AT sends its report again)."""
        return await self._group.submit(report)

    async def close(self) -> None:
        await self._group.close()

    async def _apply(self, reports: Sequence[DeliveryReport]) -> list[bool]:
        now = self.clock()
        async with self.sessions() as session:
            moved, unfound = await apply_reports(session, reports, now)
            await keep_unmatched(session, [reports[i] for i in unfound], now)
            await session.commit()
        return moved
