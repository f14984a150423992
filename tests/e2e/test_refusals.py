"""`copline serve` and `copline worker` refuse to start, in one line, where they must not run:
production with a guessable callback token, or a database that is not there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.databases import sqlite_url
from tests.e2e.conftest import free_port, running_server

GOOD_TOKEN = "k" * 32
COMMANDS = [
    pytest.param(["serve", "--port", "0"], id="serve"),
    pytest.param(["worker"], id="worker"),
]


def copline(args: list[str], workdir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `copline …`; a command that should have refused but runs is stopped (and fails)."""
    return subprocess.run(
        [sys.executable, "-m", "service.cli.main", *args],
        cwd=workdir,
        env=os.environ | {"COPLINE_AT_SIMULATOR": "false", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    return line


@pytest.mark.parametrize("args", COMMANDS)
@pytest.mark.parametrize(
    ("token", "problem"),
    [(None, "is the development default"), ("x" * 31, "has 31 characters")],
    ids=["default token", "short token"],
)
def test_production_refuses_a_guessable_callback_token(
    workdir: Path, args: list[str], token: str | None, problem: str
) -> None:
    env = {
        "COPLINE_ENVIRONMENT": "production",
        "COPLINE_DATABASE_URL": sqlite_url(workdir / "var", "prod"),
    }
    if token is not None:
        env["COPLINE_CALLBACK_TOKEN"] = token
    line = one_line(copline(args, workdir, **env))
    assert line.startswith(f"error: COPLINE_CALLBACK_TOKEN {problem}: in production")
    assert "32+ characters" in line
    assert not (workdir / "var").exists()  # refused before touching anything


def test_production_starts_with_a_long_token_and_keeps_the_schema_to_itself(
    workdir: Path,
) -> None:
    env = {
        "COPLINE_ENVIRONMENT": "production",
        "COPLINE_CALLBACK_TOKEN": GOOD_TOKEN,
        "COPLINE_SECRET_KEY": GOOD_TOKEN[::-1],
    }
    with running_server(sqlite_url(workdir / "var", "prod"), workdir, extra_env=env) as base:
        assert httpx.get(f"{base}/readyz").status_code == 200
        ide = httpx.get(f"{base}/graphql", headers={"Accept": "text/html"})
        assert ide.status_code == 404


def test_worker_without_a_database_says_to_migrate_instead_of_looping(workdir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COPLINE_DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "service.cli.main", "worker"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    line = one_line(result)
    assert "no database at" in line and "copline migrate" in line
    assert not (workdir / "var").exists()


def test_worker_against_an_unreachable_postgresql_says_so_in_one_line(workdir: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    line = one_line(copline(["worker"], workdir, COPLINE_DATABASE_URL=url))
    assert "cannot reach the database" in line and "COPLINE_DATABASE_URL" in line


def test_serve_without_migrating_refuses_a_missing_database_file(workdir: Path) -> None:
    url = sqlite_url(workdir / "var", "missing")
    line = one_line(
        copline(["serve", "--no-migrate", "--port", "0"], workdir, COPLINE_DATABASE_URL=url)
    )
    assert "no database at" in line and "copline migrate" in line
    assert not (workdir / "var").exists()
