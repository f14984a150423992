"""The console's pages on a 5,000-teacher programme on PostgreSQL (bench/reports.py's data).

For every ready page of tests/browser/pages.py, seen by a person of the role the list
names (four teachers of that data given console roles: an administrator, a staff
member, the head of school S0000 and the facilitator of C0000):

- page weight in real Chromium, bytes transferred (compressed, headers included, as
  DevTools counts them): a first visit with an empty cache, and a later page with the
  assets cached (after the overview, or the sign-in page before signing in);
- time until the overview is usable on emulated slow 3G (Chromium's network
  emulation: 400 ms latency, 400 kbit/s both ways), empty cache, median of 3;
- server time p50/p95 over sequential requests with httpx to `copline serve`.

Budgets (issue 11): first visit <= 150 KB, later page <= 30 KB, overview on slow 3G
<= 4 s to its load event, server p95 <= 250 ms. Baselines from the same run: `/healthz`
(the HTTP stack), and a bare static HTML page served by Python's http.server, weighed
and loaded on slow 3G the same way (the floor the emulation itself sets).

    python -m bench.console [--requests 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from playwright.async_api import Browser, BrowserContext, async_playwright
from sqlmodel import col, select

from bench import reports
from bench.graphql_dashboard import serve
from console.auth import SESSION_COOKIE
from console.pages.signing_in import PHONE_COOKIE
from service.config import Settings
from service.db import build_engine, build_session_factory
from service.domain.console_access import set_console_role
from service.domain.sign_in import open_session
from service.models import Community, Meeting, Membership, Person, Term
from service.models.enums import ConsoleRole, MeetingStatus
from tests.browser.harness import CHROMIUM_FLAGS, chromium_path
from tests.browser.pages import (
    UNKNOWN_PHONE,
    ConsolePage,
    NotFoundOnPage,
    Visit,
    measured_pages,
    resolve_async,
)

FIRST_VISIT_KB, LATER_PAGE_KB, SLOW_3G_S, SERVER_P95_MS = 150, 30, 4.0, 250
SLOW_3G = {
    "offline": False,
    "latency": 400,  # ms added to each request
    "downloadThroughput": 50_000,  # bytes/s: 400 kbit/s
    "uploadThroughput": 50_000,
}
# Teachers of bench/reports.py's data (Teacher 00000 facilitates C0000, at school S0000).
VIEWERS = {
    ConsoleRole.facilitator: 0,
    ConsoleRole.programme_admin: 1,
    ConsoleRole.programme_staff: 2,
    ConsoleRole.school_leader: 3,
}
BARE_HTML = (
    b"<!doctype html><html lang=en><meta charset=utf-8>"
    b"<meta name=viewport content='width=device-width'><title>Bare</title><p>A bare page.</p>"
)
VIEWPORT = {"width": 360, "height": 740}


# Pure helpers (tests/bench/test_console.py).


def p50_p95(ms: list[float]) -> tuple[float, float]:
    ordered = sorted(ms)
    return statistics.median(ordered), statistics.quantiles(ordered, n=20, method="inclusive")[18]


@dataclass
class Transfers:
    """What Chromium's Network domain said while a page loaded: bytes per request, and
    the requests answered from the cache (which cost nothing on the wire)."""

    urls: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    cached: set[str] = field(default_factory=set)

    def sent(self, event: dict[str, Any]) -> None:
        self.urls[event["requestId"]] = event["request"]["url"]

    def finished(self, event: dict[str, Any]) -> None:
        self.sizes[event["requestId"]] = int(event["encodedDataLength"])

    def from_cache(self, event: dict[str, Any]) -> None:
        self.cached.add(event["requestId"])

    def total(self) -> int:
        return sum(size for rid, size in self.sizes.items() if rid not in self.cached)

    def by_url(self) -> list[tuple[str, int]]:
        return [
            (self.urls.get(rid, "?"), size)
            for rid, size in self.sizes.items()
            if rid not in self.cached
        ]


def verdict(worst: float, budget: float) -> str:
    return "met" if worst <= budget else "NOT met"


# Data and server.


async def grant_viewers(url: str) -> dict[ConsoleRole, str]:
    """Console roles for four teachers of the data; a session cookie for each."""
    engine = build_engine(Settings(database_url=url, _env_file=None))
    tokens: dict[ConsoleRole, str] = {}
    now = datetime.now(UTC)
    async with build_session_factory(engine)() as s:
        for role, n in VIEWERS.items():
            stmt = select(Person).where(col(Person.phone) == f"+2547{n:08d}")
            person = (await s.exec(stmt)).one()
            await set_console_role(s, person, role, actor=reports.ACTOR, now=now)
            await s.commit()
            tokens[role] = (await open_session(s, person, now=now)).token
    await engine.dispose()
    return tokens


async def recent_meeting(url: str) -> None:
    """A meeting of the facilitator's community held yesterday: the data's term is in
    2025, and a register is kept only for meetings of the last 30 days."""
    engine = build_engine(Settings(database_url=url, _env_file=None))
    now = datetime.now(UTC)
    async with build_session_factory(engine)() as s:
        facilitator = (
            await s.exec(select(Person).where(col(Person.phone) == f"+2547{0:08d}"))
        ).one()
        membership = (
            await s.exec(select(Membership).where(col(Membership.person_id) == facilitator.id))
        ).first()
        assert membership is not None
        community = await s.get(Community, membership.community_id)
        assert community is not None
        s.add(
            Meeting(
                programme_id=community.programme_id,
                community_id=membership.community_id,
                starts_at=now - timedelta(days=1),
                ends_at=now - timedelta(days=1) + timedelta(minutes=90),
                status=MeetingStatus.held,
                code="99999",
            )
        )
        await s.commit()
    await engine.dispose()


async def term_id(url: str) -> int:
    """The id of the term bench/reports.py fills with meetings, marks and answers."""
    engine = build_engine(Settings(database_url=url, _env_file=None))
    async with build_session_factory(engine)() as s:
        term = (await s.exec(select(Term))).one()
    await engine.dispose()
    assert term.id is not None
    return term.id


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def bare_page() -> Iterator[str]:
    """A static HTML page from Python's own server: the baseline for weight and slow 3G."""

    class Bare(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(BARE_HTML)))
            self.end_headers()
            self.wfile.write(BARE_HTML)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Bare)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/bare.html"
    finally:
        server.shutdown()
        server.server_close()


def cookies_for(entry: ConsolePage, tokens: dict[ConsoleRole, str]) -> dict[str, str]:
    if entry.visit is Visit.signed_in:
        assert entry.role is not None
        return {SESSION_COOKIE: tokens[entry.role]}
    if entry.visit is Visit.code_asked:  # what /sign-in leaves after asking for a code
        return {PHONE_COOKIE: UNKNOWN_PHONE}
    return {}


async def resolve_paths(
    base: str, tokens: dict[ConsoleRole, str], pages: list[ConsolePage]
) -> dict[str, str]:
    paths = {}
    for entry in pages:
        async with httpx.AsyncClient(
            base_url=base, cookies=cookies_for(entry, tokens), timeout=30
        ) as client:

            async def fetch(path: str, client: httpx.AsyncClient = client) -> str:
                answer = await client.get(path)
                assert answer.status_code == 200, f"{path} answered {answer.status_code}"
                return answer.text

            try:
                paths[entry.name] = await resolve_async(entry, fetch)
            except NotFoundOnPage as missing:
                print(f"not measured: {missing}")
    return paths


async def server_times(
    base: str, cookies: dict[str, str], path: str, status: int, n: int
) -> list[float]:
    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=30) as client:
        out = []
        for i in range(n + 5):  # five to warm up
            started = time.perf_counter()
            answer = await client.get(path)
            elapsed = (time.perf_counter() - started) * 1000
            assert answer.status_code == status, f"{path} answered {answer.status_code}"
            if i >= 5:
                out.append(elapsed)
        return out


# The browser.


async def new_context(
    browser: Browser, base: str, cookies: dict[str, str] | None = None
) -> BrowserContext:
    context = await browser.new_context(viewport=VIEWPORT, locale="en-GB")  # type: ignore[arg-type]
    if cookies:
        await context.add_cookies(
            [{"name": k, "value": v, "url": base} for k, v in cookies.items()]
        )
    return context


async def weigh(
    context: BrowserContext, url: str, *, slow: bool = False
) -> tuple[Transfers, dict[str, float]]:
    """Load `url` in a new tab of `context`; what went over the wire, and navigation timing
    (ms from the start: domContentLoaded, firstContentfulPaint, load)."""
    page = await context.new_page()
    cdp = await context.new_cdp_session(page)
    seen = Transfers()
    cdp.on("Network.requestWillBeSent", seen.sent)
    cdp.on("Network.loadingFinished", seen.finished)
    cdp.on("Network.requestServedFromCache", seen.from_cache)
    await cdp.send("Network.enable")
    if slow:
        await cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    await page.goto(url, wait_until="load")
    await page.wait_for_load_state("networkidle")  # the icon, anything fetched late
    timing: dict[str, float] = await page.evaluate(
        """() => {
          const n = performance.getEntriesByType('navigation')[0];
          const fcp = performance.getEntriesByName('first-contentful-paint')[0];
          return {dcl: n.domContentLoadedEventEnd, fcp: fcp ? fcp.startTime : NaN,
                  load: n.loadEventEnd, status: n.responseStatus || 0};
        }"""
    )
    await cdp.detach()
    await page.close()
    return seen, timing


async def first_and_later(
    browser: Browser, base: str, entry: ConsolePage, path: str, tokens: dict[ConsoleRole, str]
) -> tuple[Transfers, Transfers]:
    cookies = cookies_for(entry, tokens)
    context = await new_context(browser, base, cookies)
    try:
        first, _ = await weigh(context, base + path)
    finally:
        await context.close()
    context = await new_context(browser, base, cookies)
    try:  # a page the person saw before, then this one with the assets cached
        await weigh(context, base + ("/" if entry.visit is Visit.signed_in else "/sign-in"))
        later, _ = await weigh(context, base + path)
    finally:
        await context.close()
    return first, later


async def slow_3g(
    browser: Browser, base: str, url: str, cookies: dict[str, str], runs: int = 3
) -> dict[str, float]:
    """Median navigation timing of `runs` empty-cache loads on slow 3G."""
    timings = []
    for _ in range(runs):
        context = await new_context(browser, base, cookies)
        try:
            _, timing = await weigh(context, url, slow=True)
        finally:
            await context.close()
        timings.append(timing)
    return {k: statistics.median(t[k] for t in timings) for k in ("dcl", "fcp", "load")}


def kb(n: int) -> float:
    return n / 1000


async def main(requests: int = 50) -> None:
    from tests.databases import fresh_postgres_database

    executable = chromium_path()
    if executable is None:
        print("bench/console.py needs chromium: apt-get install chromium")
        return
    pages = measured_pages()
    url = await fresh_postgres_database("copline_bench_console")
    started = time.perf_counter()
    _, rows = await reports.build(url)
    tokens = await grant_viewers(url)
    await recent_meeting(url)
    print(
        f"Console on PostgreSQL: bench/reports.py's programme ({reports.COMMUNITIES} communities "
        f"x {reports.MEMBERS} members, {rows:,} rows; built in "
        f"{time.perf_counter() - started:.0f}s); {len(pages)} ready pages, "
        f"{requests} sequential requests each; Chromium at 360 px"
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder, bare_page() as bare:
        process = serve(url, port, folder)
        try:
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                for _ in range(150):
                    try:
                        await client.get("/healthz")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.2)
            paths = await resolve_paths(base, tokens, pages)
            # The data's term is in 2025: without it the overview would show the last 90
            # days, which hold nothing, and time an empty page.
            term = await term_id(url)
            overview_path = f"/?term={term}"
            if "overview" in paths:
                paths["overview"] = overview_path
            health = await server_times(base, {}, "/healthz", 200, requests)
            pages = [e for e in pages if e.name in paths]
            times = {
                e.name: await server_times(
                    base, cookies_for(e, tokens), paths[e.name], e.status, requests
                )
                for e in pages
            }
            # The overview keeps its figures 30 s per filter; each request here asks
            # another page of members at risk, so every one computes them afresh.
            fresh: list[float] = []
            if "overview" in paths:
                admin_cookies = {SESSION_COOKIE: tokens[ConsoleRole.programme_admin]}
                async with httpx.AsyncClient(
                    base_url=base, cookies=admin_cookies, timeout=30
                ) as client:
                    for i in range(requests):
                        started = time.perf_counter()
                        answer = await client.get(f"{overview_path}&risk={i + 2}")
                        fresh.append((time.perf_counter() - started) * 1000)
                        assert answer.status_code == 200
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=executable, args=CHROMIUM_FLAGS
                )
                weights = {
                    e.name: await first_and_later(browser, base, e, paths[e.name], tokens)
                    for e in pages
                }
                context = await browser.new_context()
                bare_weight, _ = await weigh(context, bare)
                await context.close()
                bare_3g = await slow_3g(browser, base, bare, {})
                admin = {SESSION_COOKIE: tokens[ConsoleRole.programme_admin]}
                overview_3g = await slow_3g(browser, base, base + overview_path, admin)
                await browser.close()
        finally:
            process.terminate()
            process.wait(timeout=10)

    base_p50, base_p95 = p50_p95(health)
    print("KB = 1,000 bytes over the wire (compressed, with headers), as DevTools counts them")
    print(
        f"{'page (viewer)':<40} {'first KB':>8} {'later KB':>8} {'p50 ms':>7} {'p95 ms':>7}"
        f" {'p50 vs /healthz':>15}"
    )
    print(f"{'bare static HTML (baseline)':<40} {kb(bare_weight.total()):>8.1f} {'':>8}")
    print(
        f"{'/healthz (baseline)':<40} {'':>8} {'':>8} {base_p50:>7.1f} {base_p95:>7.1f} {1:>14.1f}x"
    )
    for e in pages:
        first, later = weights[e.name]
        p50, p95 = p50_p95(times[e.name])
        who = e.role.value if e.role else e.visit.value
        label = f"{paths[e.name]} ({who})"
        print(
            f"{label:<40} {kb(first.total()):>8.1f} {kb(later.total()):>8.1f} "
            f"{p50:>7.1f} {p95:>7.1f} {p50 / base_p50:>14.1f}x"
        )
    if fresh:
        p50, p95 = p50_p95(fresh)
        label = "overview computed afresh (admin)"
        print(f"{label:<40} {'':>8} {'':>8} {p50:>7.1f} {p95:>7.1f} {p50 / base_p50:>14.1f}x")
    overview = weights["overview"][0] if "overview" in weights else None
    if overview is not None:
        parts = ", ".join(
            f"{u.replace(base, '').split('?')[0]} {kb(n):.1f}" for u, n in overview.by_url()
        )
        print(f"first visit to the overview, KB per request: {parts}")
    print(
        f"slow 3G (400 ms, 400 kbit/s), empty cache, median of 3, ms to DOMContentLoaded / "
        f"first paint / load: overview {overview_3g['dcl']:.0f} / {overview_3g['fcp']:.0f} / "
        f"{overview_3g['load']:.0f}; bare page {bare_3g['dcl']:.0f} / {bare_3g['fcp']:.0f} / "
        f"{bare_3g['load']:.0f}"
    )
    worst_first = max(kb(w[0].total()) for w in weights.values())
    worst_later = max(kb(w[1].total()) for w in weights.values())
    worst_p95 = max(p50_p95(ms)[1] for ms in [*times.values(), *([fresh] if fresh else [])])
    load_s = overview_3g["load"] / 1000
    for budget, limit, worst, shown in [
        (f"first visit <= {FIRST_VISIT_KB} KB", FIRST_VISIT_KB, worst_first, "largest %.1f KB"),
        (f"later page <= {LATER_PAGE_KB} KB", LATER_PAGE_KB, worst_later, "largest %.1f KB"),
        (f"overview on slow 3G <= {SLOW_3G_S:.0f} s", SLOW_3G_S, load_s, "%.2f s to load"),
        (f"server p95 <= {SERVER_P95_MS} ms", SERVER_P95_MS, worst_p95, "worst %.0f ms"),
    ]:
        print(f"budget {budget}: {verdict(worst, limit)} ({shown % worst})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.requests))
