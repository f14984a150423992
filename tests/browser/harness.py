"""Real Chromium (Debian's, through Playwright) against `copline serve` with the demo.

The registries serve no browser download here, so Playwright launches the system's
`chromium`. Without it the browser tests are skipped locally and fail in CI, as the
PostgreSQL tests do (`COPLINE_REQUIRE_BROWSER=1`, set by `.ci/run`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Cookie, Page, expect

from tests.e2e.conftest import free_port, running_server

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
CODE = re.compile(r"\b(\d{6})\b")


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_required() -> bool:
    return os.environ.get("COPLINE_REQUIRE_BROWSER") == "1" or os.environ.get("CI") == "true"


@dataclass(frozen=True)
class Console:
    """A running copline with the demo loaded, and its AT simulator."""

    base: str
    simulator: str
    database_url: str

    def inbox(self, phone: str) -> list[dict[str, str]]:
        answer = httpx.get(f"{self.simulator}/sim/inbox/{phone}", timeout=5)
        answer.raise_for_status()
        messages: list[dict[str, str]] = answer.json()["messages"]
        return messages

    def wait_for_sms(
        self, phone: str, seen: int, pattern: re.Pattern[str], timeout_s: float = 20
    ) -> re.Match[str]:
        """The first SMS to `phone`, after the `seen` it had, that matches `pattern`
        (reminders of the demo's meetings reach the same phones meanwhile)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for message in self.inbox(phone)[seen:]:
                found = pattern.search(message["text"])
                if found is not None:
                    return found
            time.sleep(0.2)
        raise AssertionError(f"no SMS matching {pattern.pattern!r} reached {phone}")


def copline(workdir: Path, database_url: str, *args: str) -> None:
    env = os.environ | {"COPLINE_DATABASE_URL": database_url}
    subprocess.run(
        [sys.executable, "-m", "service.cli.main", *args],
        cwd=workdir, env=env, check=True, capture_output=True, timeout=180,
    )  # fmt: skip


@contextmanager
def demo_console(database_url: str, workdir: Path) -> Iterator[Console]:
    """Migrate, seed the demo and serve it, the simulator and the worker in-process."""
    copline(workdir, database_url, "migrate")
    copline(workdir, database_url, "seed-demo")
    simulator = f"http://127.0.0.1:{free_port()}"
    env = {
        "COPLINE_AT_BASE_URL": simulator,
        "COPLINE_AT_SIMULATOR": "true",
        "COPLINE_WORKER_IN_PROCESS": "true",
    }
    with running_server(database_url, workdir, extra_env=env) as base:
        deadline = time.monotonic() + 20
        while True:  # the simulator starts with the app; wait until it answers too
            try:
                httpx.get(f"{simulator}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield Console(base, simulator, database_url)


def launch(playwright_chromium: object) -> Browser:
    from playwright.sync_api import BrowserType

    assert isinstance(playwright_chromium, BrowserType)
    path = chromium_path()
    if path is None:
        if browser_required():
            pytest.fail("Debian's chromium is not installed: `apt-get install -y chromium`")
        pytest.skip("no chromium on this machine (`apt-get install -y chromium`)")
    return playwright_chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)


# Session cookies per (server, phone): codes are rate-limited per number (3 in 15
# minutes), as they should be, so tests sign each person in once and reuse it.
_SESSIONS: dict[tuple[str, str], list[Cookie]] = {}


def sign_in(
    page: Page, console: Console, phone: str, *, next_path: str = "/", fresh: bool = False
) -> None:
    """Be signed in as `phone` on `page`, at `next_path`: with the session this run
    opened for them before, or (first, or `fresh`) as a person would — type the number,
    read the SMS, type its code."""
    key = (console.base, phone)
    if not fresh and key in _SESSIONS:
        page.context.add_cookies(_SESSIONS[key])  # type: ignore[arg-type]
        page.goto(f"{console.base}{next_path}")
        if page.locator("form[action='/sign-out']").count():
            return
    seen = len(console.inbox(phone))
    page.goto(f"{console.base}{next_path}")
    page.locator("input[name=phone]").fill(phone)
    page.locator("form[action='/sign-in'] button[type=submit]").click()
    found = console.wait_for_sms(phone, seen, CODE)
    page.locator("input[name=code]").fill(found.group(1))
    page.locator("form[action='/sign-in/code'] button[type=submit]").click()
    expect(page.locator("form[action='/sign-out']")).to_be_visible()
    if not fresh:
        _SESSIONS[key] = [c for c in page.context.cookies() if c["name"] == "copline_session"]
