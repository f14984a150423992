"""`copline worker --metrics-port`: a worker on its own answers Prometheus with its jobs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.conftest import free_port
from tests.log_audit import log_dir

RAN = 'copline_job_runs_total{job="send_sms",outcome="ok"}'  # runs in every worker, each period


def test_a_worker_serves_its_job_runs_on_its_metrics_port(
    database_url: str, engine: AsyncEngine, workdir: Path
) -> None:
    port = free_port()
    env = os.environ | {"COPLINE_DATABASE_URL": database_url, "COPLINE_LOG_JSON": "true"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "service.cli.main", "worker", "--metrics-port", str(port)]
    with (log_dir() / f"worker-{port}.log").open("w") as log:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, "copline worker exited"
                try:
                    scrape = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
                    if RAN in scrape:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail("the worker's metrics never showed a job run")
                time.sleep(0.3)
            assert "process_resident_memory_bytes" in scrape  # its own process, too
        finally:
            process.terminate()
            process.wait(timeout=15)
