"""Every storage test runs twice: on SQLite and on PostgreSQL, both built by Alembic."""

from __future__ import annotations

import csv
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from service import migrate
from service.app import create_app
from service.config import Settings
from service.db import SessionFactory, build_engine, build_session_factory
from tests.databases import empty_all_tables, fresh_postgres_database, sqlite_url

# Every log line of the session is kept and searched for secrets when it ends.
pytest_plugins = ["pytester", "tests.log_audit"]

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each test process gets databases (and roles) of its own."""
    worker = getattr(config, "workerinput", {}).get("workerid")
    if worker is not None:
        prefix = os.environ.get("COPLINE_TEST_DB_PREFIX", "")
        os.environ["COPLINE_TEST_DB_PREFIX"] = f"{prefix}{worker}_"


@pytest.fixture(autouse=True)
def _csv_cell_limit() -> Iterator[None]:
    """frictionless (validating Flow Results packages) raises the csv module's
    process-wide cell limit; the roster's refusal of a huge cell relies on the default,
    so a test after it in the same process would not see the refusal."""
    limit = csv.field_size_limit()
    yield
    csv.field_size_limit(limit)


@pytest_asyncio.fixture(scope="session", params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path_factory.mktemp("sqlite"), "copline")
    return await fresh_postgres_database("copline_test")


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # Tests start the AT simulator themselves, on a free port.
    return Settings(database_url=database_url, at_simulator=False, _env_file=None)


@pytest_asyncio.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    # The harness pings its connections: a test may terminate the server's connections
    # on purpose, and the clean-up after it must still work. Apps under test do not ping.
    # DEFERRED: the tests read the store while the app under test writes to it; a test's
    # open read must not hold SQLite's write lock.
    engine = build_engine(
        settings.model_copy(update={"database_pre_ping": True}), sqlite_begin="DEFERRED"
    )
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture
async def sessions(engine: AsyncEngine) -> AsyncIterator[SessionFactory]:
    yield build_session_factory(engine)
    await empty_all_tables(engine)


@pytest_asyncio.fixture
async def session(sessions: SessionFactory) -> AsyncIterator[AsyncSession]:
    async with sessions() as session:
        yield session


@pytest_asyncio.fixture
async def client(settings: Settings, sessions: SessionFactory) -> AsyncIterator[httpx.AsyncClient]:
    """The app as Africa's Talking and partners reach it, in-process (no lifespan: its
    report sink and engine are closed by hand)."""
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://at.test"
    ) as c:
        yield c
    await app.state.reports.close()
    await app.state.services.engine.dispose()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder so no developer `.env` or `./var` leaks into a test."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
