"""Delivery reports from Africa's Talking: a message's status only ever moves forward.

AT posts `id, status, phoneNumber, networkCode, failureReason, retryCount` for each
message it took. `Sent`, `Submitted` and `Buffered` say it is on its way; `Success`
that the phone has it; `Rejected`, `Failed` and the undocumented `Expired` that it
never will. A report for an id we do not know, or one older than what we have,
changes nothing and is still answered 200: AT would only send it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import Message
from service.models.enums import Direction, MessageStatus
from service.models.types import utcnow

TABLE = Message.__table__  # type: ignore[attr-defined]

STATUSES: Mapping[str, MessageStatus] = {
    "sent": MessageStatus.sent,
    "submitted": MessageStatus.sent,
    "buffered": MessageStatus.sent,
    "success": MessageStatus.delivered,
    "rejected": MessageStatus.failed,
    "failed": MessageStatus.failed,
    "expired": MessageStatus.failed,
}

# Which stored statuses each reported status may replace. `unknown` (a lease that
# ran out mid-send) is settled by a report: it proves AT took the message.
_MOVES_FROM: Mapping[MessageStatus, tuple[MessageStatus, ...]] = {
    MessageStatus.sent: (MessageStatus.sending, MessageStatus.unknown),
    MessageStatus.delivered: (MessageStatus.sending, MessageStatus.sent, MessageStatus.unknown),
    MessageStatus.failed: (MessageStatus.sending, MessageStatus.sent, MessageStatus.unknown),
}


UNANSWERED_WINDOW = timedelta(days=1)
# How long a report for an id not stored yet is kept and tried again, and how many.
EARLY_FOR_S = 120.0
MAX_EARLY = 10_000


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
    if retry and not (retry.isascii() and retry.isdigit()):
        raise BadReport("retryCount is not a number")
    return DeliveryReport(
        provider_id=provider_id,
        status=status,
        reported=reported,
        phone=(form.get("phoneNumber") or "").strip() or None,
        failure_reason=(form.get("failureReason") or "").strip() or None,
        retry_count=int(retry) if retry else None,
    )


async def _settle_unanswered(
    session: AsyncSession, report: DeliveryReport, values: dict[str, object], now: datetime
) -> bool:
    """A report for an id we never heard of may be for a message whose send timed out
    after AT took it: such a row is `unknown` with no provider id. Give the number's
    oldest one from the last day this id, so the message is counted once, as delivered."""
    if report.phone is None:
        return False
    exists = await session.execute(
        sa.select(TABLE.c.id).where(
            TABLE.c.direction == Direction.outbound, TABLE.c.provider_id == report.provider_id
        )
    )
    if exists.first() is not None:
        return False  # a known id whose status is already this far
    candidate = (
        await session.execute(
            sa.select(TABLE.c.id)
            .where(
                TABLE.c.direction == Direction.outbound,
                TABLE.c.status == MessageStatus.unknown,
                TABLE.c.provider_id.is_(None),
                TABLE.c.phone == report.phone,
                TABLE.c.updated_at > now - UNANSWERED_WINDOW,
            )
            .order_by(TABLE.c.id)
            .limit(1)
        )
    ).first()
    if candidate is None:
        return False
    await session.execute(
        sa.update(TABLE)
        .where(TABLE.c.id == candidate[0], TABLE.c.provider_id.is_(None))
        .values({**values, "provider_id": report.provider_id})
    )
    return True


_Pending = tuple[DeliveryReport, "asyncio.Future[bool]"]


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
        retry_s: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.retry_s = retry_s
        self.clock = clock
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        # Reports that came before the sender stored the message's id: AT can report
        # within milliseconds of answering the send. Held and tried again for a while.
        self._early: list[tuple[DeliveryReport, float]] = []
        self._retry: asyncio.TimerHandle | None = None
        self._retry_task: asyncio.Task[None] | None = None

    async def submit(self, report: DeliveryReport) -> bool:
        """True when the report moved its message forward; raises if the commit failed."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self._queue.put((report, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        for task in (self._task, self._retry_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _hold(self, early: list[tuple[DeliveryReport, float]]) -> None:
        now = time.monotonic()
        self._early = [(r, seen) for r, seen in self._early + early if now - seen < EARLY_FOR_S]
        self._early = self._early[-MAX_EARLY:]
        if self._early and self._retry is None:
            self._retry = asyncio.get_running_loop().call_later(self.retry_s, self._kick)

    def _kick(self) -> None:
        self._retry = None
        self._retry_task = asyncio.create_task(self._try_early())

    async def _try_early(self) -> None:
        early, self._early = self._early, []
        try:
            _, unfound = await self._apply([report for report, _ in early])
        except Exception:  # the database is away: keep them all for the next try
            unfound = list(range(len(early)))
        self._hold([early[i] for i in unfound])

    async def _drain(self) -> None:
        while not self._queue.empty():
            batch = [self._queue.get_nowait()]
            deadline = asyncio.get_running_loop().time() + self.max_wait_s
            while len(batch) < self.max_batch:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), left))
                except TimeoutError:
                    break
            try:
                results, unfound = await self._apply([report for report, _ in batch])
            except Exception as exc:  # every waiting request answers 500; AT sends again
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), moved in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(moved)
            if unfound:
                seen = time.monotonic()
                self._hold([(batch[i][0], seen) for i in unfound])

    async def _apply(self, reports: list[DeliveryReport]) -> tuple[list[bool], list[int]]:
        """Whether each report moved its message, and which name an id no message has (yet)."""
        now = self.clock()
        async with self.sessions() as session:
            ids = list({r.provider_id for r in reports})
            rows = await session.execute(
                sa.select(TABLE.c.id, TABLE.c.provider_id, TABLE.c.status).where(
                    TABLE.c.direction == Direction.outbound, TABLE.c.provider_id.in_(ids)
                )
            )
            current = {provider_id: (pk, status) for pk, provider_id, status in rows.all()}
            # One batched UPDATE per target status (each has its own columns and guard).
            updates: dict[MessageStatus, list[dict[str, object]]] = {}
            moved: list[bool] = []
            strays: list[int] = []
            for index, report in enumerate(reports):
                found = current.get(report.provider_id)
                if found is None:
                    strays.append(index)
                    moved.append(False)
                    continue
                pk, status = found
                if status not in _MOVES_FROM[report.status]:
                    moved.append(False)
                    continue
                current[report.provider_id] = (pk, report.status)
                updates.setdefault(report.status, []).append({"_id": pk, **_values(report, now)})
                moved.append(True)
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
            unfound: list[int] = []
            for index in strays:
                report = reports[index]
                moved[index] = await _settle_unanswered(session, report, _values(report, now), now)
                if not moved[index]:
                    unfound.append(index)
            await session.commit()
        return moved, unfound


def _values(report: DeliveryReport, now: datetime) -> dict[str, object]:
    values: dict[str, object] = {"status": report.status, "updated_at": now}
    if report.status is MessageStatus.delivered:
        values["delivered_at"] = now
    if report.status is MessageStatus.failed:
        reason = report.failure_reason or "no reason given"
        values["last_error"] = f"{report.reported}: {reason}"[:300]
    return values
