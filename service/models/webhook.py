"""Webhooks: a programme's endpoints, and the durable queue of what each is owed.

One delivery row per (event, endpoint), written in the same transaction as the change
it tells of: a committed change is never lost, a rolled-back one never sent. The row
is the queue (the worker claims due rows) and the record (its last attempts are kept).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.models.base import enum_col, fk, id_field, json_list, stamp, text_col, when
from service.models.enums import DeliveryStatus


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"

    id: int | None = id_field()
    programme_id: int = fk("programme.id")
    url: str = text_col(500)
    description: str = text_col(200, default="")
    events: list[str] = json_list()  # WebhookEvent values
    # Whole phone numbers and texts in the payloads (the API key scope `read:pii`).
    pii: bool = False
    # "whsec_" + base64 of 32 random bytes: the key of every signature. Kept whole (it
    # signs), never shown again after creation or rotation.
    secret: str = text_col(80)
    # After a rotation the old secret signs too, for a day, so a receiver can switch over.
    previous_secret: str | None = text_col(80, nullable=True)
    previous_secret_until: datetime | None = when()
    enabled: bool = True
    created_by: str = text_col(60)
    created_at: datetime = stamp()
    updated_at: datetime = stamp()


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        # What the worker claims: pending and due.
        sa.Index(
            "ix_webhook_delivery_due",
            "next_attempt_at",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        ),
        # Order per subject: an endpoint's earlier pending delivery of the same subject.
        sa.Index("ix_webhook_delivery_endpoint_id_subject_id", "endpoint_id", "subject", "id"),
        sa.Index("ix_webhook_delivery_endpoint_id_created_at", "endpoint_id", "created_at"),
    )

    id: int | None = id_field()
    endpoint_id: int = fk("webhook_endpoint.id", index=False)
    programme_id: int = fk("programme.id", index=False)
    # The `webhook-id` header: the same on every attempt, so receivers dedupe by it.
    message_id: str = Field(max_length=40, unique=True)
    event: str = text_col(40)
    subject: str = text_col(60)  # meeting:12, person:7, message:91, response:3
    body: str = Field(sa_type=sa.Text)  # the exact JSON that is signed and sent
    status: DeliveryStatus = enum_col(DeliveryStatus, DeliveryStatus.pending, length=12)
    attempts: int = 0
    next_attempt_at: datetime = stamp()
    first_attempt_at: datetime | None = when()
    # A claimed row is out of reach of other workers until its lease ends: a worker
    # that dies mid-post leaves it to be tried again then, never lost.
    lease_until: datetime | None = when()
    claim_token: str | None = text_col(32, nullable=True)
    last_status_code: int | None = None
    last_error: str | None = text_col(200, nullable=True)
    delivered_at: datetime | None = when()
    created_at: datetime = stamp()


class WebhookAttempt(SQLModel, table=True):
    """One POST of a delivery; only the last few per delivery are kept."""

    __tablename__ = "webhook_attempt"

    id: int | None = id_field()
    delivery_id: int = fk("webhook_delivery.id")
    at: datetime = stamp()
    status_code: int | None = None  # the endpoint's answer, none when it gave none
    error: str | None = text_col(120, nullable=True)  # timeout, refused, http_500…
    duration_ms: int = 0
