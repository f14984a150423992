"""`copline migrate` builds an empty database on either engine, and `--check` finds no drift."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli.main import app
from service.migrate import head_revision
from tests.databases import fresh_postgres_database, sqlite_url


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_migrate_builds_an_empty_database_and_check_agrees(
    backend: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = (
        sqlite_url(workdir / "var", "empty")
        if backend == "sqlite"
        else await fresh_postgres_database("copline_cli_migrate")
    )
    monkeypatch.setenv("COPLINE_DATABASE_URL", url)
    runner = CliRunner()
    # The CLI runs its own event loop, so it runs in a thread beside the test's loop.
    built = await asyncio.to_thread(runner.invoke, app, ["migrate"])
    assert built.exit_code == 0, built.output
    assert f"Database at revision {head_revision()}." in built.stdout
    checked = await asyncio.to_thread(runner.invoke, app, ["migrate", "--check"])
    assert checked.exit_code == 0, checked.output
    assert "Models and migrations agree." in checked.stdout
