"""One SMS, in or out, one row per recipient: the outbox and the inbox; and the delivery
reports that came before we knew their message's id."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.models.base import enum_col, fk, id_field, stamp, text_col, when
from service.models.enums import Direction, Encoding, Language, MessageStatus, Reach
from service.models.types import UTCDateTime


class Message(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("direction", "provider_id"),
        # What senders claim (due, queued) and expire (sending past its lease): partial,
        # so a probe by phone below can never be answered from them instead.
        sa.Index(
            "ix_message_due",
            "send_after",
            sqlite_where=sa.text("status = 'queued'"),
            postgresql_where=sa.text("status = 'queued'"),
        ),
        sa.Index(
            "ix_message_sending",
            "lease_until",
            sqlite_where=sa.text("status = 'sending'"),
            postgresql_where=sa.text("status = 'sending'"),
        ),
        # A phone's older pending message goes first: the claim probes this per row. A
        # full index: its size is known whatever the statistics say, so the planner keeps
        # probing it by phone even while statistics lag a burst of queued rows (a full
        # index on status, or a partial one, then looked empty and was scanned per row).
        sa.Index("ix_message_phone_status_id", "phone", "status", "id"),
        sa.Index("ix_message_programme_id_created_at", "programme_id", "created_at"),
        sa.Index("ix_message_meeting_id_status", "meeting_id", "status"),
    )

    id: int | None = id_field()
    programme_id: int = fk("programme.id", index=False)
    person_id: int | None = fk("person.id", nullable=True)
    meeting_id: int | None = fk("meeting.id", nullable=True, index=False)
    direction: Direction = enum_col(Direction, length=3)
    community_id: int | None = fk("community.id", nullable=True)
    kind: str = text_col(24)  # reminder, notice, reply, survey, broadcast, inbound…
    phone: str = text_col(20)
    # The channel it goes (or went) by, and why it went by SMS when the person's is WhatsApp.
    reach: Reach = enum_col(Reach, Reach.sms, length=8)
    fallback_reason: str | None = text_col(80, nullable=True)
    # The domain queues a template and its values; the SMS channel renders the body
    # in the person's language when it sends (the domain imports no channel).
    template: str | None = text_col(40, nullable=True)
    params: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON, nullable=True)
    body: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    language: Language | None = enum_col(Language, nullable=True, length=2)
    encoding: Encoding = enum_col(Encoding, Encoding.gsm7, length=8)
    segments: int = Field(default=1, ge=0)
    cost: Decimal | None = Field(default=None, sa_type=sa.Numeric(10, 4), nullable=True)
    currency: str | None = text_col(3, nullable=True)
    status: MessageStatus = enum_col(MessageStatus, MessageStatus.queued, length=12)
    provider_id: str | None = text_col(80, nullable=True)
    # Set on everything we send on our own initiative, so a retry or a second worker
    # can never queue the same reminder twice.
    dedupe_key: str | None = Field(default=None, max_length=160, unique=True, nullable=True)
    attempts: int = Field(default=0, ge=0)
    send_after: datetime | None = when()
    lease_until: datetime | None = when()
    # Which claim holds the row while it is `sending`: a worker whose lease ran out
    # (stalled, not dead) can no longer hand the row to the gateway or store its fate.
    claim_token: str | None = text_col(32, nullable=True)
    # When this attempt's request went to the gateway. A dead worker's rows that were
    # never handed over can be sent again; those that were may have reached AT.
    handed_at: datetime | None = when()
    last_error: str | None = text_col(300, nullable=True)
    created_at: datetime = stamp()
    updated_at: datetime = stamp()
    sent_at: datetime | None = when()
    delivered_at: datetime | None = when()


class UnmatchedReport(SQLModel, table=True):
    """A delivery report whose message id no row carries (yet).

    AT may report within milliseconds of answering a send, before the sender has
    stored the id; the sender may be waiting out a database outage with the ids in
    hand. The report waits here, durably, and is applied when its id is stored. One
    whose id never comes (a request whose answer was lost) expires.
    """

    __tablename__ = "unmatched_report"

    id: int | None = id_field()
    provider_id: str = Field(max_length=80, unique=True)
    status: MessageStatus = enum_col(MessageStatus, length=12)
    reported: str = text_col(20)  # AT's own word
    failure_reason: str | None = text_col(100, nullable=True)
    received_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
