"""The audit trail: who changed what, through which channel, and how."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

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
    entry = AuditEntry(
        programme_id=programme_id,
        at=at or utcnow(),
        actor=actor.label,
        channel=actor.channel,
        action=action,
        object_type=str(obj.__tablename__),
        object_id=object_id,
        changes=_jsonable(changes or {}),
    )
    session.add(entry)
    return entry


def apply_changes(obj: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Set the values that differ and return them as {field: [old, new]} for the audit."""
    changed: dict[str, Any] = {}
    for field, new in values.items():
        old = getattr(obj, field)
        if old != new:
            setattr(obj, field, new)
            changed[field] = [old, new]
    return changed
