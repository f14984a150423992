"""Delivery reports from Africa's Talking: a message's status only ever moves forward.

AT posts `id, status, phoneNumber, networkCode, failureReason, retryCount` for each
message it took. `Sent`, `Submitted` and `Buffered` say it is on its way; `Success`
that the phone has it; `Rejected`, `Failed` and the undocumented `Expired` that it
never will. A report for an id we do not know, or one older than what we have,
changes nothing and is still answered 200: AT would only send it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import Message
from service.models.enums import Direction, MessageStatus

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


async def apply_report(session: AsyncSession, report: DeliveryReport, now: datetime) -> bool:
    """Move the message forward; False when nothing changed (unknown id, duplicate, stale)."""
    values: dict[str, object] = {"status": report.status, "updated_at": now}
    if report.status is MessageStatus.delivered:
        values["delivered_at"] = now
    if report.status is MessageStatus.failed:
        values["last_error"] = f"{report.reported}: {report.failure_reason or 'no reason given'}"[
            :300
        ]
    result = await session.execute(
        sa.update(TABLE)
        .where(
            TABLE.c.direction == Direction.outbound,
            TABLE.c.provider_id == report.provider_id,
            TABLE.c.status.in_(_MOVES_FROM[report.status]),
        )
        .values(values)
    )
    if getattr(result, "rowcount", 0):
        return True
    return await _settle_unanswered(session, report, values, now)


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
