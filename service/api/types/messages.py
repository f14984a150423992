"""SMS in and out, as the outbox and inbox record them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import strawberry

from service.api import ids
from service.api.types.common import (
    Direction,
    Encoding,
    Info_,
    Language,
    MessageStatus,
    Node,
    Reach,
    phone_for,
)
from service.models import Message
from service.models.enums import Scope


@strawberry.type(name="Message")
class MessageNode(Node):
    direction: Direction
    kind: str
    language: Language | None
    encoding: Encoding
    segments: int
    cost: Decimal | None
    currency: str | None
    status: MessageStatus
    provider_id: str | None
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    template: str | None = strawberry.field(
        description="The text's template; null when a person wrote it."
    )
    send_after: datetime | None = strawberry.field(
        description="Not sent before this (quiet hours, retry backoff)."
    )
    reach: Reach = strawberry.field(description="The channel it went by: SMS or WhatsApp.")
    fallback_reason: str | None = strawberry.field(
        description="Why it went by SMS to someone whose channel is WhatsApp."
    )
    raw_phone: strawberry.Private[str]
    raw_body: strawberry.Private[str | None]  # rendered when sent

    @classmethod
    def from_row(cls, row: Message) -> MessageNode:
        return cls(
            id=ids.encode("Message", row.id), direction=row.direction, kind=row.kind,
            language=row.language, encoding=row.encoding, segments=row.segments, cost=row.cost,
            currency=row.currency, status=row.status, provider_id=row.provider_id,
            attempts=row.attempts, last_error=row.last_error, created_at=row.created_at,
            sent_at=row.sent_at, delivered_at=row.delivered_at, raw_phone=row.phone,
            raw_body=row.body, template=row.template, send_after=row.send_after,
            reach=row.reach, fallback_reason=row.fallback_reason,
        )  # fmt: skip

    @strawberry.field
    def phone(self, info: Info_) -> str | None:
        return phone_for(info, self.raw_phone)

    @strawberry.field(description="The text; replies are people's own words, so read:pii only.")
    def body(self, info: Info_) -> str | None:
        return self.raw_body if info.context.has(Scope.read_pii) else None


@strawberry.type
class Money:
    amount: Decimal
    currency: str


@strawberry.type(description="Outgoing SMS by status, with segments and estimated or billed cost.")
class DeliverySummary:
    messages: int
    queued: int
    sending: int
    sent: int = strawberry.field(description="Accepted by Africa's Talking, no report yet.")
    delivered: int
    failed: int
    unknown: int = strawberry.field(description="A worker died mid-send; never resent.")
    dropped: int = strawberry.field(description="Not sent on purpose: opted out, quiet hours…")
    segments: int
    cost: list[Money] = strawberry.field(description="Per currency; AT's price once sent.")

    @classmethod
    def of(
        cls, rows: Iterable[tuple[MessageStatus, str | None, int, int, Decimal | None]]
    ) -> DeliverySummary:
        counts = dict.fromkeys(_COUNTED, 0)
        segments, money = 0, dict[str, Decimal]()
        for status, currency, count, parts, cost in rows:
            counts[status.value] = counts.get(status.value, 0) + count
            segments += parts or 0
            if currency and cost is not None and status is not MessageStatus.dropped:
                money[currency] = money.get(currency, Decimal(0)) + cost
        return cls(
            messages=sum(counts.values()),
            segments=segments,
            cost=[Money(amount=amount, currency=c) for c, amount in sorted(money.items())],
            **{k: counts[k] for k in _COUNTED},
        )


_COUNTED = ("queued", "sending", "sent", "delivered", "failed", "unknown", "dropped")
