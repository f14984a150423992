"""The durable queues' backlog, read from the database when `/metrics` is scraped.

How many outbox rows wait and how long the oldest due one has waited are facts of the
database, not of a process: any instance answers the same, and a restarted one is not
wrong. So they are not counted in memory but asked for, with one aggregate statement
per queue, at most once per `ttl_s` (Prometheus scrapes each instance every 15-30 s;
a dashboard's refresh must not cost the database more) and never for longer than
`timeout_s`: a slow database leaves a scrape without these figures and with
`copline_backlog_up 0`, never hangs it.

With several web instances each reports the same figures: aggregate them with `max`,
never `sum`.

The webhook queue (`webhook_delivery`) is read when its table exists, and skipped
(no series) where it does not yet.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from service.models import Message
from service.models.enums import MessageStatus, Reach
from service.models.types import UTCDateTime, utcnow

log = structlog.get_logger(__name__)

MESSAGE = Message.__table__  # type: ignore[attr-defined]
WEBHOOK_TABLE = "webhook_delivery"
# The other engineer's table: only the columns read here, so no model is needed.
WEBHOOK = sa.table(
    WEBHOOK_TABLE,
    sa.column("status", sa.String()),
    sa.column("next_attempt_at", UTCDateTime()),
)
WEBHOOK_PENDING = "pending"
PENDING = (MessageStatus.queued, MessageStatus.sending)


def _literal(value: str) -> sa.ColumnElement[str]:
    # A literal, as the claim writes it: PostgreSQL then sees the partial indexes apply.
    return sa.literal_column(f"'{value}'")


def outbox_statement(now: datetime) -> sa.Select[Any]:
    """Per (status, channel) of rows still to send: how many, how many are due, and the
    oldest due time. Rows held for quiet hours are queued but not due."""
    due = sa.and_(MESSAGE.c.status == _literal(MessageStatus.queued), MESSAGE.c.send_after <= now)
    return (
        sa.select(
            MESSAGE.c.status,
            MESSAGE.c.reach,
            sa.func.count(),
            sa.func.count(sa.case((due, 1))),
            sa.func.min(sa.case((due, MESSAGE.c.send_after))),
        )
        .where(MESSAGE.c.status.in_([_literal(s.value) for s in PENDING]))
        .group_by(MESSAGE.c.status, MESSAGE.c.reach)
    )


def webhook_statement(now: datetime) -> sa.Select[int, Any]:
    """Pending webhook deliveries (retries and those being posted included) and the
    oldest that is due."""
    due = WEBHOOK.c.next_attempt_at <= now
    return sa.select(
        sa.func.count(),
        sa.func.min(sa.case((due, WEBHOOK.c.next_attempt_at))),
    ).where(WEBHOOK.c.status == _literal(WEBHOOK_PENDING))


@dataclass(frozen=True)
class Backlog:
    at: datetime
    # (status, channel) -> (rows, due rows, oldest due)
    outbox: dict[tuple[str, str], tuple[int, int, datetime | None]] = field(default_factory=dict)
    # None where the webhook table does not exist
    webhooks: tuple[int, datetime | None] | None = None


def _age(at: datetime, oldest: datetime | None) -> float:
    return max((at - oldest).total_seconds(), 0.0) if oldest is not None else 0.0


def families(backlog: Backlog | None, took_s: float) -> list[Metric]:
    up = GaugeMetricFamily(
        "copline_backlog_up",
        "1 when the last reading of the queues' backlog from the database succeeded in time.",
        value=0 if backlog is None else 1,
    )
    took = GaugeMetricFamily(
        "copline_backlog_query_seconds",
        "How long the last reading of the queues' backlog took.",
        value=took_s,
    )
    if backlog is None:
        return [up, took]
    rows = GaugeMetricFamily(
        "copline_outbox_messages",
        "Outbox rows still to send, by status (queued: due or held; sending) and channel.",
        labels=["status", "channel"],
    )
    due = GaugeMetricFamily(
        "copline_outbox_due_messages",
        "Queued outbox rows whose time has come (quiet hours' held rows not counted).",
        labels=["channel"],
    )
    age = GaugeMetricFamily(
        "copline_outbox_oldest_due_age_seconds",
        "How long the oldest due queued row has waited past its send time (0: none due).",
        labels=["channel"],
    )
    for status in PENDING:
        for channel in Reach:
            count, _, _ = backlog.outbox.get((status.value, channel.value), (0, 0, None))
            rows.add_metric([status.value, channel.value], count)
    for channel in Reach:
        _, waiting, oldest = backlog.outbox.get(
            (MessageStatus.queued.value, channel.value), (0, 0, None)
        )
        due.add_metric([channel.value], waiting)
        age.add_metric([channel.value], _age(backlog.at, oldest))
    found: list[Metric] = [up, took, rows, due, age]
    if backlog.webhooks is not None:
        pending, oldest = backlog.webhooks
        found.append(
            GaugeMetricFamily(
                "copline_webhook_pending_deliveries",
                "Webhook deliveries waiting to be posted (retries included).",
                value=pending,
            )
        )
        found.append(
            GaugeMetricFamily(
                "copline_webhook_oldest_due_age_seconds",
                "How long the oldest due webhook delivery has waited (0: none due).",
                value=_age(backlog.at, oldest),
            )
        )
    return found


async def read_backlog(connection: AsyncConnection, now: datetime) -> Backlog:
    outbox: dict[tuple[str, str], tuple[int, int, datetime | None]] = {}
    for status, reach, count, due, oldest in (
        await connection.execute(outbox_statement(now))
    ).all():
        outbox[(str(status), str(reach))] = (int(count), int(due), oldest)
    webhooks = None
    if await connection.run_sync(lambda sync: sa.inspect(sync).has_table(WEBHOOK_TABLE)):
        pending, oldest = (await connection.execute(webhook_statement(now))).one()
        webhooks = (int(pending), oldest)
    return Backlog(at=now, outbox=outbox, webhooks=webhooks)


class BacklogProbe:
    """The backlog's metric families for a scrape: read at most once per `ttl_s`,
    given up after `timeout_s`."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        ttl_s: float = 5.0,
        timeout_s: float = 2.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.clock = clock
        self._read_at = -float("inf")
        self._families: Sequence[Metric] = ()
        self._lock = asyncio.Lock()

    async def _read(self) -> Backlog:
        async with self.engine.connect() as connection:
            return await read_backlog(connection, self.clock())

    async def families(self) -> Sequence[Metric]:
        async with self._lock:  # scrapes that come together share one reading
            if time.monotonic() - self._read_at < self.ttl_s:
                return self._families
            started = time.monotonic()
            backlog: Backlog | None
            try:
                backlog = await asyncio.wait_for(self._read(), timeout=self.timeout_s)
            except Exception as exc:  # any failure: the scrape goes on without the figures
                log.warning("metrics.backlog_unavailable", error=type(exc).__name__)
                backlog = None
            self._families = families(backlog, time.monotonic() - started)
            self._read_at = time.monotonic()
            return self._families


class Fixed(Collector):
    """Families read before the scrape (asynchronously), for the synchronous collector
    interface `generate_latest` reads."""

    def __init__(self, found: Sequence[Metric]) -> None:
        self.found = found

    def collect(self) -> Iterator[Metric]:
        yield from self.found
