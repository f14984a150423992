"""USSD session tracking, written in batches off the request path.

Each hop records its session's path, hops, last screen and outcome here; a
background task writes the latest state of every session once a second with one
upsert. A hop therefore never waits on this write, and a hop that changes
nothing needs no commit. A crash loses at most the last second of funnel data,
never a teacher's RSVP or check-in (those commit with the hop).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from service.db import SessionFactory
from service.models import UssdSession

log = structlog.get_logger(__name__)

FLUSH_EVERY_S = 1.0
CHANGING = ("person_id", "hops", "path", "last_screen", "outcome", "updated_at", "ended_at")


def _upsert(dialect: str) -> Any:
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(UssdSession)
    return stmt.on_conflict_do_update(
        index_elements=["session_id"], set_={name: stmt.excluded[name] for name in CHANGING}
    )


class SessionTracker:
    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions
        self.pending: dict[str, dict[str, Any]] = {}
        self._statements: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    def record(self, values: dict[str, Any]) -> None:
        """The session's state after this hop; a later hop of the same session replaces it."""
        self.pending[values["session_id"]] = values

    async def flush(self) -> int:
        async with self._lock:
            batch, self.pending = list(self.pending.values()), {}
            if not batch:
                return 0
            async with self.sessions() as session:
                connection = await session.connection()
                dialect = connection.dialect.name
                stmt = self._statements.setdefault(dialect, _upsert(dialect))
                await connection.execute(stmt, batch)
                await session.commit()
            return len(batch)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=FLUSH_EVERY_S)
            try:
                await self.flush()
            except Exception as exc:  # keep tracking through a database blip
                log.warning("ussd.tracking_flush_failed", error=type(exc).__name__)
