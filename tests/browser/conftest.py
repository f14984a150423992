"""One demo copline per database backend for the whole run; a fresh browser per test.

Playwright's sync API keeps an event loop running in this thread while it is started,
and the rest of the suite's async tests need this thread's loop free: so it starts and
stops with each test (Chromium launches in well under a second).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.browser.harness import Console, demo_console, launch
from tests.databases import fresh_postgres_database, sqlite_url

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = launch(playwright.chromium)
        yield launched
        launched.close()


@pytest.fixture(scope="session", params=BACKENDS)
def console(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    workdir = tmp_path_factory.mktemp("console")
    if request.param == "sqlite":
        url = sqlite_url(workdir, "console")
    else:
        # Playwright's sync API runs an event loop in this thread: create it in another.
        with ThreadPoolExecutor(1) as pool:
            url = pool.submit(asyncio.run, fresh_postgres_database("copline_console")).result()
    with demo_console(url, workdir) as running:
        yield running


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-GB")
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
