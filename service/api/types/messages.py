"""SMS in and out, as the outbox and inbox record them."""

from __future__ import annotations

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
            raw_body=row.body,
        )  # fmt: skip

    @strawberry.field
    def phone(self, info: Info_) -> str | None:
        return phone_for(info, self.raw_phone)

    @strawberry.field(description="The text; replies are people's own words, so read:pii only.")
    def body(self, info: Info_) -> str | None:
        return self.raw_body if info.context.has(Scope.read_pii) else None
