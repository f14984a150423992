"""One USSD dial, kept so a programme can see where callers give up."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.models.base import enum_col, fk, id_field, stamp, text_col, when
from service.models.enums import UssdOutcome


class UssdSession(SQLModel, table=True):
    __tablename__ = "ussd_session"
    __table_args__ = (
        sa.Index("ix_ussd_session_programme_id_started_at", "programme_id", "started_at"),
    )

    id: int | None = id_field()
    session_id: str = Field(max_length=100, unique=True)  # Africa's Talking's sessionId
    programme_id: int | None = fk("programme.id", nullable=True, index=False)
    person_id: int | None = fk("person.id", nullable=True)
    phone: str = text_col(20)
    service_code: str = text_col(32)
    network_code: str | None = text_col(16, nullable=True)
    hops: int = 0
    path: str = Field(default="", sa_type=sa.Text, nullable=False)
    last_screen: str | None = text_col(60, nullable=True)
    outcome: UssdOutcome = enum_col(UssdOutcome, UssdOutcome.open, length=12)
    provider_status: str | None = text_col(40, nullable=True)
    error_message: str | None = text_col(300, nullable=True)
    duration_ms: int | None = None
    started_at: datetime = stamp()
    updated_at: datetime = stamp()
    ended_at: datetime | None = when()


class UssdAction(SQLModel, table=True):
    """A write made from a USSD hop, kept so a retried hop never makes it twice."""

    __tablename__ = "ussd_action"
    __table_args__ = (sa.UniqueConstraint("session_id", "key"),)

    id: int | None = id_field()
    session_id: str = text_col(100)
    key: str = text_col(160)
    created_at: datetime = stamp()
