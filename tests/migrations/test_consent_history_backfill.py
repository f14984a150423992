"""Migration 0018 turns the consent recorded before it (START by SMS) into each person's
first consent history entry."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from service import migrate
from service.config import Settings
from service.db import build_engine, build_session_factory
from service.domain.consent import history
from tests import factories as f
from tests.databases import fresh_postgres_database, sqlite_url


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_upgrading_keeps_consent_given_before_as_the_first_entry(
    backend: str, tmp_path: Path
) -> None:
    url = (
        sqlite_url(tmp_path, "consent")
        if backend == "sqlite"
        else await fresh_postgres_database("copline_migrate_consent")
    )
    engine = build_engine(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    try:
        await migrate.upgrade(engine)
        async with build_session_factory(engine)() as session:
            prog = await f.programme(session)
            started, never = [await f.person(session, prog) for _ in range(2)]
            await session.commit()
        await migrate.downgrade(engine, "0015")  # the revision before 0018
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "UPDATE person SET consent = 'given', consent_at = :at, "
                    "consent_channel = 'sms' WHERE id = :id"
                ),
                {"at": f.now().replace(tzinfo=None), "id": started.id},
            )
        await migrate.upgrade(engine)
        async with build_session_factory(engine)() as session:
            [entry] = await history(session, started.id or 0)
            assert (entry.state, entry.channel, entry.recorded_by) == (
                "given", "sms", f"person:{started.id}",
            )  # fmt: skip
            assert await history(session, never.id or 0) == []
    finally:
        await engine.dispose()
