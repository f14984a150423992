"""Start `copline serve` as a real process on a free port and wait until it answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.log_audit import log_dir


def server_log(base: str) -> Path:
    """The log of the `running_server` at `base` (complete once it has stopped)."""
    return log_dir() / f"serve-{base.rsplit(':', 1)[1]}.log"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    database_url: str,
    workdir: Path,
    *args: str,
    timeout_s: float = 60,
    extra_env: dict[str, str] | None = None,
) -> Iterator[str]:
    port = free_port()
    # At INFO and as JSON, into the folder the log audit searches (tests/log_audit.py).
    env = os.environ | {
        "COPLINE_DATABASE_URL": database_url,
        "COPLINE_LOG_LEVEL": "INFO",
        "COPLINE_LOG_JSON": "true",
        **(extra_env or {}),
    }
    command = [sys.executable, "-m", "service.cli.main", "serve", "--port", str(port), *args]
    log_path = log_dir() / f"serve-{port}.log"
    log = log_path.open("w")
    process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"copline serve exited with {process.returncode}:\n" + log_path.read_text()
                )
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("copline serve did not answer in time")
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
