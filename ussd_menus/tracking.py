"""USSD session tracking, written in batches off the request path.

Each hop records its session's path, hops, last screen and outcome here; a
background task writes the latest state of every session once a second with one
upsert. A hop therefore never waits on this write, and a hop that changes
nothing needs no commit. A crash loses at most the last second of funnel data,
never a teacher's RSVP or check-in (those commit with the hop).

One caller's row never costs the others theirs: a row that does not fit the table is
skipped when recorded, and when the database refuses a batch for a row's values the
rows are written one by one and only the refused one is skipped (both counted and
logged, without the rows: they hold phones). A batch the database could not take at
all (an outage) waits for the next flush.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from service.db import SessionFactory
from service.models import UssdSession

log = structlog.get_logger(__name__)

FLUSH_EVERY_S = 1.0
CHANGING = ("person_id", "hops", "path", "last_screen", "outcome", "updated_at", "ended_at")
TABLE = UssdSession.__table__  # type: ignore[attr-defined]
# The longest text each column takes: PostgreSQL refuses longer, SQLite stores it.
LIMITS: dict[str, int] = {
    c.name: c.type.length for c in TABLE.columns if isinstance(getattr(c.type, "length", None), int)
}
MAX_INT = 2**31 - 1


def fits(values: dict[str, Any]) -> bool:
    """Whether every value fits its column on both stores: a NUL, an over-long text or
    an integer beyond 32 bits would make the database refuse the whole batch."""
    for name, value in values.items():
        if isinstance(value, str):
            if "\x00" in value or len(value) > LIMITS.get(name, len(value)):
                return False
        elif isinstance(value, int) and not -MAX_INT <= value <= MAX_INT:
            return False
    return True


def refused_row(exc: DBAPIError) -> bool:
    """Whether the database refused a row's values (rather than failed itself).

    asyncpg's dialect raises a plain DBAPIError for a value PostgreSQL refuses (a NUL,
    a text too long): its SQLSTATE class tells data (22) and integrity (23) errors
    from a database that is down or refusing connections.
    """
    if isinstance(exc, DataError | IntegrityError):
        return True
    code = getattr(exc.orig, "sqlstate", None)
    return isinstance(code, str) and code[:2] in ("22", "23")


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
        self.skipped = 0  # rows never written: out of bounds, or refused by the database
        self._statements: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    def record(self, values: dict[str, Any]) -> None:
        """The session's state after this hop; a later hop of the same session replaces it."""
        if not fits(values):
            self._skip(1, "out_of_bounds")
            return
        self.pending[values["session_id"]] = values

    def _skip(self, count: int, reason: str) -> None:
        # Neither the rows nor the database's message: both may carry callers' phones.
        self.skipped += count
        log.warning("ussd.tracking_rows_skipped", count=count, reason=reason)

    async def _write(self, rows: list[dict[str, Any]]) -> None:
        async with self.sessions() as session:
            connection = await session.connection()
            dialect = connection.dialect.name
            stmt = self._statements.setdefault(dialect, _upsert(dialect))
            await connection.execute(stmt, rows)
            await session.commit()

    async def flush(self) -> int:
        """Write what is pending; the rows written. A row the database refuses is
        skipped and counted: the others are written one by one rather than lost."""
        async with self._lock:
            batch, self.pending = list(self.pending.values()), {}
            if not batch:
                return 0
            try:
                await self._write(batch)
                return len(batch)
            except DBAPIError as exc:
                if not refused_row(exc):
                    self._keep(batch)
                    raise
            written = 0  # a row's fault, not the database's: write them one by one
            for index, row in enumerate(batch):
                try:
                    await self._write([row])
                    written += 1
                except DBAPIError as exc:
                    if not refused_row(exc):
                        self._keep(batch[index:])
                        raise
                    self._skip(1, "refused")
            return written

    def _keep(self, rows: list[dict[str, Any]]) -> None:
        """Rows the database could not take now go in the next batch, unless a later
        hop of their session replaced them meanwhile."""
        for row in rows:
            self.pending.setdefault(row["session_id"], row)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=FLUSH_EVERY_S)
            try:
                await self.flush()
            except Exception as exc:  # keep tracking through a database blip
                log.warning("ussd.tracking_flush_failed", error=type(exc).__name__)
