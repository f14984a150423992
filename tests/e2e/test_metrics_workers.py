"""`copline serve --workers 2`: a scrape answered by either process counts both."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.e2e.conftest import running_server

REQUESTS = 60
HEALTHZ = re.compile(
    r'^copline_http_request_duration_seconds_count\{face="ops",operation="/healthz"\} (\S+)$',
    re.MULTILINE,
)


def test_every_scrape_of_two_worker_processes_counts_the_requests_of_both(
    database_url: str, workdir: Path
) -> None:
    shared = workdir / "metrics"
    shared.mkdir()
    (shared / "counter_999999.db").write_bytes(b"a previous start's counts")
    env = {"PROMETHEUS_MULTIPROC_DIR": str(shared)}
    with running_server(database_url, workdir, "--workers", "2", extra_env=env) as base:

        def healthz_count() -> float:
            scrape = httpx.get(f"{base}/metrics").text  # a new connection: either process
            found = HEALTHZ.search(scrape)
            assert found is not None, scrape[:2000]
            return float(found.group(1))

        def ask(_: int) -> int:
            return httpx.get(f"{base}/healthz").status_code

        before = healthz_count()  # the start-up checks' requests
        # A new connection per request, many at once: both processes take some.
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(ask, range(REQUESTS))) == {200}
        assert {healthz_count() - before for _ in range(6)} == {REQUESTS}
        pids = {path.stem.rsplit("_", 1)[1] for path in shared.glob("*.db")}
        assert len(pids) >= 2 and "999999" not in pids  # both wrote; the old start is gone
