"""axe-core finds no serious or critical violation on any ready console page (tests/browser/
pages.py), each seen at 360 px wide by the person the list names.

axe-core comes from npm (tests/browser/package.json, installed by `make test`). It is run
with `page.evaluate`, which Chromium executes through DevTools, outside the page's
Content-Security-Policy: the console's CSP stays as served (scripts only from 'self'),
where an inline <script> (`add_script_tag(content=...)`) would be blocked, and
`bypass_csp=True` would test a page that production never serves.

The pages' HTML and styles do not depend on the store, so this runs on SQLite only;
the pages' queries and scopes are tested on both stores elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Cookie, Page, expect

from tests.browser.harness import Console, browser_required, sign_in
from tests.browser.pages import (
    DEMO_VIEWERS,
    PAGES,
    UNKNOWN_PHONE,
    ConsolePage,
    Visit,
    resolve,
)

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
FAILING = ("serious", "critical")
ENTRIES = [
    pytest.param(
        entry,
        id=entry.name.replace(" ", "-"),
        marks=[] if entry.ready else [pytest.mark.skip(reason="not built yet (ready=False)")],
    )
    for entry in PAGES
]
VIEWPORT = {"width": 360, "height": 740}


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        reason = "axe-core is not installed: `make test-install` (npm ci in tests/browser)"
        if browser_required():
            pytest.fail(reason)
        pytest.skip(reason)
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def signed_in() -> dict[tuple[str, str], list[Cookie]]:
    """Session cookies per (server, phone): sign in once each (codes are rate-limited)."""
    return {}


def open_as(
    entry: ConsolePage,
    browser: Browser,
    console: Console,
    cookies: dict[tuple[str, str], list[Cookie]],
) -> BrowserContext:
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB")  # type: ignore[arg-type]
    if entry.visit is Visit.signed_in:
        assert entry.role is not None
        phone = DEMO_VIEWERS[entry.role]
        key = (console.base, phone)
        if key not in cookies:
            sign_in(context.new_page(), console, phone)
            cookies[key] = context.cookies()
        context.add_cookies(cookies[key])  # type: ignore[arg-type]
    elif entry.visit is Visit.code_asked:
        page = context.new_page()
        page.goto(f"{console.base}/sign-in")
        page.locator("input[name=phone]").fill(UNKNOWN_PHONE)
        page.locator("form[action='/sign-in'] button[type=submit]").click()
        expect(page.locator("input[name=code]")).to_be_visible()
        page.close()
    return context


def violations(page: Page, axe_source: str) -> list[dict[str, Any]]:
    page.evaluate(axe_source)
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [v for v in found if v.get("impact") in FAILING]


def described(path: str, found: list[dict[str, Any]]) -> str:
    lines = [f"{len(found)} serious or critical accessibility violation(s) on {path}:"]
    for v in found:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            summary = " ".join(str(node.get("failureSummary", "")).split())
            lines.append(f"    {target}: {summary}")
    return "\n".join(lines)


@pytest.mark.parametrize("console", ["sqlite"], indirect=True)
@pytest.mark.parametrize("entry", ENTRIES)
def test_no_serious_or_critical_accessibility_violation(
    entry: ConsolePage,
    console: Console,
    browser: Browser,
    axe_source: str,
    signed_in: dict[tuple[str, str], list[Cookie]],
) -> None:
    context = open_as(entry, browser, console, signed_in)
    try:
        page = context.new_page()

        def fetch(path: str) -> str:
            answer = context.request.get(f"{console.base}{path}", max_redirects=0)
            assert answer.status == 200, f"{path} answered {answer.status}"
            return answer.text()

        path = resolve(entry, fetch)
        answer = page.goto(f"{console.base}{path}")
        assert answer is not None, path
        assert answer.status == entry.status, f"{path} answered {answer.status}"
        assert page.url == f"{console.base}{path}", f"{path} led to {page.url}"
        found = violations(page, axe_source)
        if found:
            pytest.fail(described(path, found), pytrace=False)
    finally:
        context.close()
