"""Webhook endpoints and what was sent to them, for admins."""

from __future__ import annotations

import json
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from service.api import ids
from service.api.types.common import Node
from service.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from service.models.enums import DeliveryStatus, WebhookEvent

strawberry.enum(WebhookEvent, name="WebhookEvent")
strawberry.enum(DeliveryStatus, name="WebhookDeliveryStatus")


@strawberry.type(name="WebhookEndpoint")
class WebhookEndpointNode(Node):
    url: str
    description: str
    events: list[WebhookEvent]
    pii: bool = strawberry.field(
        description="Payloads carry whole phone numbers and texts (else masked phones, no texts)."
    )
    enabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: WebhookEndpoint) -> WebhookEndpointNode:
        return cls(
            id=ids.encode("WebhookEndpoint", row.id), url=row.url, description=row.description,
            events=[WebhookEvent(e) for e in row.events], pii=row.pii, enabled=row.enabled,
            created_by=row.created_by, created_at=row.created_at, updated_at=row.updated_at,
        )  # fmt: skip


@strawberry.type(name="WebhookAttempt")
class WebhookAttemptNode:
    at: datetime
    status_code: int | None = strawberry.field(description="The endpoint's HTTP status, if any.")
    error: str | None = strawberry.field(description="http_500, timeout, refused…")
    duration_ms: int

    @classmethod
    def from_row(cls, row: WebhookAttempt) -> WebhookAttemptNode:
        return cls(
            at=row.at, status_code=row.status_code, error=row.error, duration_ms=row.duration_ms
        )


@strawberry.type(name="WebhookDelivery")
class WebhookDeliveryNode(Node):
    endpoint_id: strawberry.ID
    webhook_id: str = strawberry.field(description="The `webhook-id` header: the same on resends.")
    event: WebhookEvent
    subject: str = strawberry.field(description="The order key: meeting:12, person:7…")
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    payload: JSON
    recent_attempts: list[WebhookAttemptNode] = strawberry.field(
        description="The last attempts, newest first (ten at most)."
    )

    @classmethod
    def from_row(cls, row: WebhookDelivery, attempts: list[WebhookAttempt]) -> WebhookDeliveryNode:
        pending = row.status is DeliveryStatus.pending
        return cls(
            id=ids.encode("WebhookDelivery", row.id),
            endpoint_id=ids.encode("WebhookEndpoint", row.endpoint_id),
            webhook_id=row.message_id, event=WebhookEvent(row.event), subject=row.subject,
            status=row.status, attempts=row.attempts, created_at=row.created_at,
            next_attempt_at=row.next_attempt_at if pending else None,
            delivered_at=row.delivered_at, last_status_code=row.last_status_code,
            last_error=row.last_error, payload=JSON(json.loads(row.body)),
            recent_attempts=[WebhookAttemptNode.from_row(a) for a in attempts],
        )  # fmt: skip
