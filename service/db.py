"""The async engine and sessions. Built by the composer, never at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session as SyncSession
from sqlalchemy.orm import UOWTransaction
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from service import events
from service.config import Settings
from service.events import AttendanceHub

SessionFactory = async_sessionmaker[AsyncSession]


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # SQLite leaves foreign keys off unless asked, and WAL lets readers run beside the writer.
    # The driver's own implicit BEGIN breaks SAVEPOINTs and transactional DDL; turn it off
    # and let SQLAlchemy emit BEGIN itself (SQLAlchemy's documented aiosqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock up front, waiting up to busy_timeout for it. A
    # deferred transaction that reads and then writes while another connection has
    # written fails at once with SQLITE_BUSY (its snapshot is stale; waiting cannot
    # help), which is what concurrent callbacks (an inbound SMS beside a delivery
    # report) would otherwise hit. Transactions take turns; the embedded SQLite serves
    # one machine, and PostgreSQL is the store for concurrency.
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")


def build_engine(settings: Settings, *, sqlite_begin: str = "IMMEDIATE") -> AsyncEngine:
    """`sqlite_begin="DEFERRED"` for a reader that must never hold the write lock
    (a test harness inspecting the store while the app under test writes)."""
    assert sqlite_begin in {"IMMEDIATE", "DEFERRED"}
    # Recycling also replaces connections a firewall may have dropped while idle.
    # hide_parameters: a failed statement's error (logged, with its traceback) would
    # otherwise quote its values: phone numbers, SMS texts.
    kwargs: dict[str, Any] = {
        "pool_pre_ping": settings.database_pre_ping,
        "pool_recycle": 1800,
        "hide_parameters": True,
    }
    if settings.is_sqlite:
        path = settings.sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(settings.database_url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine.execution_options(sqlite_begin=sqlite_begin)
    kwargs.update(
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        connect_args={"timeout": settings.database_connect_timeout_s},
    )
    return create_async_engine(settings.database_url, **kwargs)


def build_session_factory(
    engine: AsyncEngine,
    *,
    attendance_hub: AttendanceHub | None = None,
    instance: str | None = None,
) -> SessionFactory:
    """`instance`: this process's name in the attendance notifications it sends on
    PostgreSQL (one is made up if not given); see `service.events`."""
    # A session class of its own per factory, so event hooks stay with this app.
    sync_class = type("CoplineSession", (Session,), {})
    notify_as = None
    if engine.dialect.name == "postgresql":
        notify_as = instance or events.instance_name()
    if attendance_hub is not None or notify_as is not None:
        events.install(sync_class, attendance_hub, notify_as=notify_as)
    return async_sessionmaker(
        engine, class_=AsyncSession, sync_session_class=sync_class, expire_on_commit=False
    )


class WriteOnReadSession(RuntimeError):
    """Something tried to write through the read sessions (the replica): a bug, said at
    once rather than as the replica's refusal, or worse, a write the primary never sees."""


def build_read_engine(settings: Settings) -> AsyncEngine:
    """The engine for reports, exports and GraphQL queries: the replica at
    `database_read_url`, pooled as the primary. Every transaction on it begins READ
    ONLY, so a write is refused even where the URL points at a primary."""
    assert settings.database_read_url is not None
    replica = settings.model_copy(update={"database_url": settings.database_read_url})
    return build_engine(replica).execution_options(postgresql_readonly=True)


def _refuse_flush(session: SyncSession, _flush: UOWTransaction, _instances: object) -> None:
    if session.new or session.dirty or session.deleted:
        raise WriteOnReadSession(
            "a write through the read-only sessions (COPLINE_DATABASE_READ_URL): "
            "writes belong on the primary's sessions"
        )


def build_read_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions on the read engine: no attendance notifications (nothing is written),
    and a flush with anything to write raises `WriteOnReadSession`."""
    sync_class = type("CoplineReadSession", (Session,), {})
    event.listen(sync_class, "before_flush", _refuse_flush)
    return async_sessionmaker(
        engine, class_=AsyncSession, sync_session_class=sync_class, expire_on_commit=False
    )


def unreachable(exc: BaseException) -> bool:
    """The database is away (not a statement it refused): asyncpg's connect raises the
    socket's error as it is; a connection lost mid-statement comes wrapped."""
    if isinstance(exc, OSError | TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated or isinstance(
            exc, sa_exc.OperationalError | sa_exc.InterfaceError
        )
    return False


@asynccontextmanager
async def unit_of_work(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """One session per unit of work; leaving without commit rolls back."""
    async with factory() as session:
        yield session


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
