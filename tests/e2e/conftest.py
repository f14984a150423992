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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    database_url: str, workdir: Path, *args: str, timeout_s: float = 60
) -> Iterator[str]:
    port = free_port()
    env = os.environ | {"COPLINE_DATABASE_URL": database_url, "COPLINE_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "service.cli.main", "serve", "--port", str(port), *args]
    log = (workdir / f"serve-{port}.log").open("w")
    process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"copline serve exited with {process.returncode}:\n"
                    + (workdir / f"serve-{port}.log").read_text()
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
