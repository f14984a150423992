"""The audit trail: who changed what, through which channel, and how."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import insert
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.models import AuditEntry, Programme
from service.models.types import utcnow


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


# For JSON out of the domain (a person's export): the same conversion the trail uses.
jsonable = _jsonable


def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    obj: SQLModel,
    *,
    changes: dict[str, Any] | None = None,
    at: datetime | None = None,
    programme_id: int | None = None,
) -> AuditEntry:
    """Audit `action` on `obj`; its table, id and programme are read from the object.

    Objects that carry no programme (memberships, attendance) pass `programme_id`.
    """
    object_id = getattr(obj, "id", None)
    if programme_id is None:
        programme_id = (
            object_id if isinstance(obj, Programme) else getattr(obj, "programme_id", None)
        )
    values = entry_values(
        actor, action, str(obj.__tablename__), object_id,
        changes=changes, at=at or utcnow(), programme_id=programme_id,
    )  # fmt: skip
    entry = AuditEntry(**values)
    session.add(entry)
    return entry


def entry_values(
    actor: Actor,
    action: str,
    object_type: str,
    object_id: int | None,
    *,
    changes: Mapping[str, Any] | None,
    at: datetime,
    programme_id: int | None,
) -> dict[str, Any]:
    """The columns of one audit entry: `record` and `record_many` write the same rows."""
    return {
        "programme_id": programme_id,
        "at": at,
        "actor": actor.label,
        "channel": actor.channel,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "changes": _jsonable(dict(changes or {})),
    }


async def record_many(session: AsyncSession, entries: Sequence[dict[str, Any]]) -> None:
    """Write many `entry_values` rows in one statement (a bulk use case's audit trail)."""
    if entries:
        connection = await session.connection()
        await connection.execute(insert(AuditEntry), list(entries))


def diff(current: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The values that differ from `current`, as {field: [old, new]} for the audit."""
    return {f: [current[f], new] for f, new in values.items() if current[f] != new}


def apply_changes(obj: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Set the values that differ and return them as {field: [old, new]} for the audit."""
    changed = diff({field: getattr(obj, field) for field in values}, values)
    for field, (_, new) in changed.items():
        setattr(obj, field, new)
    return changed
