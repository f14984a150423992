"""USSD sessions and where callers give up."""

from __future__ import annotations

from datetime import datetime

import strawberry

from service.api import ids
from service.api.types.common import Info_, Node, phone_for
from service.models import UssdSession
from service.models.enums import UssdOutcome

strawberry.enum(UssdOutcome)


@strawberry.type(name="UssdSession")
class UssdSessionNode(Node):
    started_at: datetime
    ended_at: datetime | None
    hops: int
    path: list[str] = strawberry.field(description="Screens in the order the caller saw them.")
    last_screen: str | None
    outcome: UssdOutcome
    duration_ms: int | None
    provider_status: str | None
    raw_phone: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: UssdSession) -> UssdSessionNode:
        return cls(
            id=ids.encode("UssdSession", row.id),
            started_at=row.started_at,
            ended_at=row.ended_at,
            hops=row.hops,
            path=row.path.split(">") if row.path else [],
            last_screen=row.last_screen,
            outcome=row.outcome,
            duration_ms=row.duration_ms,
            provider_status=row.provider_status,
            raw_phone=row.phone,
        )

    @strawberry.field
    def phone(self, info: Info_) -> str | None:
        return phone_for(info, self.raw_phone)


@strawberry.type
class FunnelStep:
    screen: str = strawberry.field(description="The last screen sessions reached.")
    sessions: int
    completed: int = strawberry.field(description="Ended here having done what they came for.")
    abandoned: int = strawberry.field(description="Dropped here: hung up or timed out.")
    failed: int
    open: int = strawberry.field(description="Still going, or no end notice received yet.")
