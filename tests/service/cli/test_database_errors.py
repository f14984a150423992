"""A command run against a missing, empty, old or unreachable database says in one line
what is wrong and what to run, exits non-zero, and creates nothing it was not asked to."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from service import migrate
from service.cli.main import app
from service.config import Settings
from service.db import build_engine
from service.migrate import head_revision
from tests.databases import postgres_admin_url, sqlite_url

# Commands that read or write a database they expect to exist.
COMMANDS = [
    pytest.param(["programme", "list"], id="programme list"),
    pytest.param(["apikey", "list", "--programme", "ke-clusters"], id="apikey list"),
    pytest.param(
        ["apikey", "create", "--programme", "ke-clusters", "--scopes", "read"], id="apikey create"
    ),
    pytest.param(["import", "schools", "schools.csv", "--programme", "ke-clusters"], id="import"),
    pytest.param(
        ["export", "attendance", "--programme", "ke-clusters", "--out", "out.csv"], id="export"
    ),
    pytest.param(["seed-demo"], id="seed-demo"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def invoke(args: list[str]) -> Result:
    # The CLI runs its own event loop, so it runs in a thread beside the test's loop.
    return await asyncio.to_thread(lambda: CliRunner().invoke(app, args))


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


@pytest.fixture
def default_database(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with no database in it and no COPLINE_DATABASE_URL: the default SQLite."""
    monkeypatch.delenv("COPLINE_DATABASE_URL", raising=False)
    (workdir / "schools.csv").write_text("code,name\nKSM-1,Kisumu Primary\n")
    return workdir


@pytest.mark.parametrize("args", COMMANDS)
async def test_without_a_database_a_command_says_to_migrate_and_creates_no_file(
    default_database: Path, args: list[str]
) -> None:
    line = one_line_error(await invoke(args))
    assert "var/copline.db" in line and "copline migrate" in line
    assert "COPLINE_DATABASE_URL" in line
    assert not (default_database / "var").exists()
    assert not (default_database / "out.csv").exists()


async def test_migrate_creates_the_default_database_and_then_commands_work(
    default_database: Path,
) -> None:
    assert (await invoke(["migrate"])).exit_code == 0
    assert (default_database / "var" / "copline.db").exists()
    listed = await invoke(["programme", "list"])
    assert listed.exit_code == 0, listed.output


@pytest.mark.parametrize("args", COMMANDS)
async def test_an_empty_database_file_asks_for_copline_migrate(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    (workdir / "var").mkdir()
    (workdir / "var" / "empty.db").touch()
    (workdir / "schools.csv").write_text("code,name\nKSM-1,Kisumu Primary\n")
    monkeypatch.setenv("COPLINE_DATABASE_URL", sqlite_url(workdir / "var", "empty"))
    line = one_line_error(await invoke(args))
    assert "has no tables yet" in line and "run `copline migrate`" in line


async def test_a_database_at_an_older_revision_asks_for_copline_migrate(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_url(workdir, "old")
    engine = build_engine(Settings(database_url=url, _env_file=None))
    await migrate.upgrade(engine, "0004")
    await engine.dispose()
    monkeypatch.setenv("COPLINE_DATABASE_URL", url)
    line = one_line_error(await invoke(["programme", "list"]))
    assert f"revision 0004 (this copline needs {head_revision()})" in line
    assert "run `copline migrate`" in line


@pytest.mark.parametrize("args", [*COMMANDS, pytest.param(["migrate"], id="migrate")])
async def test_an_unreachable_postgresql_is_one_line_that_hides_the_password(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    url = f"postgresql://copline:hunter2@127.0.0.1:{free_port()}/copline"
    monkeypatch.setenv("COPLINE_DATABASE_URL", url)
    (workdir / "schools.csv").write_text("code,name\nKSM-1,Kisumu Primary\n")
    result = await invoke(args)
    line = one_line_error(result)
    assert "cannot reach the database at postgresql+asyncpg://copline:***@127.0.0.1:" in line
    assert "COPLINE_DATABASE_URL" in line and "hunter2" not in result.output


@pytest.mark.postgres
async def test_a_postgresql_database_that_does_not_exist_is_one_line(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import make_url

    url = make_url(postgres_admin_url()).set(database="secrets_no_such_database_here")
    monkeypatch.setenv("COPLINE_DATABASE_URL", url.render_as_string(hide_password=False))
    line = one_line_error(await invoke(["programme", "list"]))
    assert "secrets_no_such_database_here" in line and "does not exist" in line
