"""`copline serve` on a fresh database: it migrates, answers health checks and reports outages."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.databases import sqlite_url
from tests.e2e.conftest import free_port, running_server


def test_serve_migrates_an_empty_embedded_database_and_is_ready(workdir: Path) -> None:
    url = sqlite_url(workdir / "var", "fresh")
    with running_server(url, workdir) as base:
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200 and ready.json()["database"] == "ok"
        metrics = httpx.get(f"{base}/metrics")
        assert metrics.status_code == 200 and "process_" in metrics.text
    assert (workdir / "var" / "fresh.db").exists()


def test_serve_on_the_test_database_is_ready(database_url: str, workdir: Path) -> None:
    with running_server(database_url, workdir, "--migrate") as base:
        assert httpx.get(f"{base}/readyz").status_code == 200


def test_an_unreachable_database_makes_it_unready_but_alive(workdir: Path) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    with running_server(nowhere, workdir, "--no-migrate") as base:
        assert httpx.get(f"{base}/healthz").status_code == 200
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "database": "unreachable"}


def test_a_partner_app_reads_the_demo_over_graphql(workdir: Path) -> None:
    """The newcomer's path: seed the demo, create a key, query the running service."""
    import os
    import subprocess
    import sys

    url = sqlite_url(workdir / "var", "demo")
    env = os.environ | {"COPLINE_DATABASE_URL": url}
    cli = [sys.executable, "-m", "service.cli.main"]
    subprocess.run([*cli, "migrate"], env=env, cwd=workdir, check=True, capture_output=True)
    subprocess.run([*cli, "seed-demo"], env=env, cwd=workdir, check=True, capture_output=True)
    created = subprocess.run(
        [*cli, "apikey", "create", "--programme", "rw-sbi", "--scopes", "read"],
        env=env,
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
    )
    key = created.stdout.strip()
    with running_server(url, workdir) as base:
        query = "{ programme { slug } communities { totalCount nodes { nextMeeting { code } } } }"
        response = httpx.post(
            f"{base}/graphql", json={"query": query}, headers={"Authorization": f"Bearer {key}"}
        )
        data = response.json()["data"]
        assert data["programme"]["slug"] == "rw-sbi"
        assert data["communities"]["totalCount"] == 6
        assert all(n["nextMeeting"] for n in data["communities"]["nodes"])


def test_a_trainer_dials_from_the_terminal_phone(workdir: Path) -> None:
    """`copline ussd --phone …` against the running service: the demo teacher says yes."""
    import os
    import subprocess
    import sys

    url = sqlite_url(workdir / "var", "phone")
    env = os.environ | {"COPLINE_DATABASE_URL": url}
    cli = [sys.executable, "-m", "service.cli.main"]
    subprocess.run([*cli, "migrate"], env=env, cwd=workdir, check=True, capture_output=True)
    subprocess.run([*cli, "seed-demo"], env=env, cwd=workdir, check=True, capture_output=True)
    with running_server(url, workdir) as base:
        session = subprocess.run(
            [*cli, "ussd", "--phone", "+254712100002", "--url", base],
            input="5\n2\n",
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert session.returncode == 0, session.stderr
    screens = session.stdout
    assert screens.startswith("Habari Everlyne\n1 Mikutano ijayo")
    assert "Language saved: English." in screens
