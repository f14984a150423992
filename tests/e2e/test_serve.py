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
