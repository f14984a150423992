"""API keys and the audit trail, for admins."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from service.api import ids
from service.api.types.common import Channel, Node, Scope
from service.domain.job_runs import JobState
from service.models import ApiKey, AuditEntry

# Audit rows name tables; clients know the GraphQL type names.
TYPE_NAMES = {
    "programme": "Programme", "school": "School", "person": "Person", "community": "Community",
    "membership": "Membership", "term": "Term", "meeting": "Meeting", "attendance": "Attendance",
    "api_key": "ApiKey", "survey": "Survey", "message": "Message",
}  # fmt: skip


@strawberry.type(name="ApiKey")
class ApiKeyNode(Node):
    name: str
    prefix: str = strawberry.field(
        description="Shown in listings; the secret is never shown again."
    )
    scopes: list[Scope]
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def from_row(cls, row: ApiKey) -> ApiKeyNode:
        return cls(id=ids.encode("ApiKey", row.id), name=row.name, prefix=row.prefix,
                   scopes=[Scope(s) for s in row.scopes], created_by=row.created_by,
                   created_at=row.created_at, revoked_at=row.revoked_at,
                   last_used_at=row.last_used_at)  # fmt: skip


@strawberry.type(name="AuditEntry")
class AuditEntryNode(Node):
    at: datetime
    actor: str = strawberry.field(description='Who: "apikey:3", "person:12", "cli:name", "system".')
    channel: Channel
    action: str
    object_type: str
    object_id: strawberry.ID | None
    changes: JSON

    @classmethod
    def from_row(cls, row: AuditEntry) -> AuditEntryNode:
        type_name = TYPE_NAMES.get(row.object_type, row.object_type)
        return cls(
            id=ids.encode("AuditEntry", row.id), at=row.at, actor=row.actor, channel=row.channel,
            action=row.action, object_type=type_name,
            object_id=ids.encode(type_name, row.object_id) if row.object_id is not None else None,
            changes=JSON(row.changes),
        )  # fmt: skip


@strawberry.type(name="JobRun", description="A worker job's last run (the whole deployment's).")
class JobRunNode:
    name: str
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    outcome: str | None = strawberry.field(description="running, ok or failed.")
    count: int | None = strawberry.field(description="How many things the last run did.")
    error: str | None
    runs: int
    failures: int

    @classmethod
    def from_state(cls, s: JobState) -> JobRunNode:
        return cls(name=s.name, started_at=s.started_at, finished_at=s.finished_at,
                   duration_ms=s.duration_ms, outcome=s.outcome, count=s.count,
                   error=s.error, runs=s.runs, failures=s.failures)  # fmt: skip
