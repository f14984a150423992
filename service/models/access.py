"""Who may call the API, and the record of who changed what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.models.base import enum_col, fk, id_field, json_dict, json_list, stamp, text_col, when
from service.models.enums import Channel


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = id_field()
    programme_id: int = fk("programme.id")
    name: str = text_col(100)
    prefix: str = Field(max_length=16, unique=True)  # shown in listings, used for lookup
    secret_hash: str = text_col(128)
    scopes: list[str] = json_list()
    created_by: str = text_col(60)
    created_at: datetime = stamp()
    revoked_at: datetime | None = when()
    last_used_at: datetime | None = when()


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (
        sa.Index("ix_audit_entry_programme_id_at", "programme_id", "at"),
        sa.Index("ix_audit_entry_object_type_object_id", "object_type", "object_id"),
    )

    id: int | None = id_field()
    programme_id: int | None = fk("programme.id", nullable=True, index=False)
    at: datetime = stamp()
    actor: str = text_col(60)  # "apikey:3", "person:12", "cli:operator", "system"
    channel: Channel = enum_col(Channel, length=12)
    action: str = text_col(60)
    object_type: str = text_col(40)
    object_id: int | None = None
    changes: dict[str, Any] = json_dict()
