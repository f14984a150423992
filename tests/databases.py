"""Where the tests find their databases: a temp SQLite file, and PostgreSQL when reachable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from service.config import normalise_database_url
from service.models import metadata

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def postgres_admin_url() -> str:
    return normalise_database_url(os.environ.get("COPLINE_TEST_POSTGRES_URL", DEFAULT_POSTGRES))


def postgres_required() -> bool:
    """In CI the PostgreSQL tests must run: unreachable is a failure, not a skip."""
    return os.environ.get("COPLINE_REQUIRE_POSTGRES") == "1" or os.environ.get("CI") == "true"


def sqlite_url(folder: Path, name: str) -> str:
    return f"sqlite+aiosqlite:///{folder / name}.db"


async def fresh_postgres_database(name: str) -> str:
    """Drop and create database `name` on the test server; return its URL.

    `COPLINE_TEST_DB_PREFIX` keeps runs that share one server (a CI clone beside a
    working copy) out of each other's databases.
    """
    name = os.environ.get("COPLINE_TEST_DB_PREFIX", "") + name
    admin = postgres_admin_url()
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except (OSError, Exception) as exc:
        reason = f"PostgreSQL not reachable at {make_url(admin).render_as_string()}: {exc!r}"
        if postgres_required():
            pytest.fail(reason)
        pytest.skip(reason)
    finally:
        await engine.dispose()
    return make_url(admin).set(database=name).render_as_string(hide_password=False)


async def empty_all_tables(engine: AsyncEngine) -> None:
    # DELETE, children first, rather than TRUNCATE: a test leaves a few rows, and
    # TRUNCATE of every table (new files for each) took 85 ms on PostgreSQL per test.
    children_first = [t.name for t in reversed(metadata.sorted_tables)]
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # One round trip (asyncpg's simple protocol takes many statements); ids
            # start at 1 again, as on a new database.
            restart = "SELECT setval(oid, 1, false) FROM pg_class WHERE relkind = 'S'"
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            await driver.execute(";".join([*map(_delete, children_first), restart]))
        else:
            # Only the tables a test wrote to (one query finds them): each DELETE through
            # aiosqlite's thread costs about half a millisecond.
            probe = ", ".join(f'EXISTS (SELECT 1 FROM "{t}")' for t in children_first)
            filled = (await conn.execute(text(f"SELECT {probe}"))).one()
            for table, has_rows in zip(children_first, filled, strict=True):
                if has_rows:
                    await conn.execute(text(_delete(table)))


def _delete(table: str) -> str:
    return f'DELETE FROM "{table}"'
