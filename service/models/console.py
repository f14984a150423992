"""Signing in to the web console: one-time codes sent by SMS, and the sessions they open."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import SQLModel

from service.models.base import fk, id_field, stamp, text_col, when


class SignInCode(SQLModel, table=True):
    __tablename__ = "sign_in_code"
    __table_args__ = (sa.Index("ix_sign_in_code_phone_created_at", "phone", "created_at"),)

    id: int | None = id_field()
    # The number the code went to: one phone may belong to people of several programmes.
    phone: str = text_col(20)
    code_hash: str = text_col(64)  # HMAC of the code, keyed with the service's secret
    created_at: datetime = stamp()
    expires_at: datetime = when(nullable=False)
    tries: int = 0
    used_at: datetime | None = when()


class ConsoleSession(SQLModel, table=True):
    __tablename__ = "console_session"

    id: int | None = id_field()
    token_hash: str = text_col(64, index=True)  # the cookie's value is never stored
    person_id: int = fk("person.id")
    csrf_token: str = text_col(64)
    created_at: datetime = stamp()
    last_seen_at: datetime = stamp()
    revoked_at: datetime | None = when()
    # What the last change did, shown once on the next page ("12 meetings scheduled").
    notice: str | None = text_col(500, nullable=True)
