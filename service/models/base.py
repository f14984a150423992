"""Field helpers and the metadata naming rule every table shares."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.models.types import EnumText, UTCDateTime, utcnow

# Deterministic constraint names keep Alembic diffs and migrations identical on
# SQLite and PostgreSQL, and let SQLite's batch mode find constraints by name.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# An id another system gives a person or school (a TSC number, an EMIS code), as written there.
EXTERNAL_ID_LENGTH = 64


def id_field() -> Any:
    return Field(default=None, primary_key=True)


def fk(target: str, *, nullable: bool = False, index: bool = True) -> Any:
    # Cascades are the domain's decision, made in code; the database only refuses orphans.
    return Field(default=None, foreign_key=target, nullable=nullable, index=index)


def when(*, nullable: bool = True) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable)


def stamp() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def enum_col(
    enum: type[StrEnum], default: Any = None, *, length: int = 24, nullable: bool = False
) -> Any:
    return Field(default=default, sa_type=EnumText(enum, length=length), nullable=nullable)


def json_list() -> Any:
    return Field(default_factory=list, sa_type=sa.JSON, nullable=False)


def json_dict() -> Any:
    return Field(default_factory=dict, sa_type=sa.JSON, nullable=False)


def text_col(
    length: int, *, nullable: bool = False, default: Any = None, index: bool = False
) -> Any:
    return Field(default=default, max_length=length, nullable=nullable, index=index)


__all__ = [
    "EXTERNAL_ID_LENGTH",
    "SQLModel",
    "datetime",
    "enum_col",
    "fk",
    "id_field",
    "json_dict",
    "json_list",
    "stamp",
    "text_col",
    "when",
]
