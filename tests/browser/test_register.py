"""A facilitator fills a paper register on a phone-sized screen and finds her marks after a
reload; an export downloads in Chromium as the CLI writes it (byte-order mark first)."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect
from sqlmodel import select

from service.config import Settings
from service.db import build_engine, build_session_factory
from service.domain.actor import Actor
from service.domain.exports import ATTENDANCE_COLUMNS
from service.domain.meetings import MeetingInput, schedule_meeting
from service.domain.programmes import get_programme
from service.models import Community
from tests.browser.harness import Console, sign_in

FACILITATOR = "+250788200001"  # Alice Mukeshimana, facilitator of RW-BUG-001-MATH (rw)
COMMUNITY = "RW-BUG-001-MATH"


def paper_meeting(console: Console) -> int:
    """A meeting of Alice's community three days ago, early in the morning, that nobody
    marked: filling it changes none of the demo's own meetings other tests rely on."""

    async def make() -> int:
        engine = build_engine(Settings(database_url=console.database_url, _env_file=None))
        try:
            async with build_session_factory(engine)() as session:
                programme = await get_programme(session, "rw-sbi")
                stmt = select(Community).where(
                    Community.programme_id == programme.id, Community.code == COMMUNITY
                )
                community = (await session.exec(stmt)).one()
                assert community.id is not None
                zone = ZoneInfo(programme.timezone)
                day = datetime.now(UTC).astimezone(zone).date() - timedelta(days=3)
                starts = datetime.combine(day, time(6, 40), tzinfo=zone)
                meeting = await schedule_meeting(
                    programme,
                    MeetingInput(community_id=community.id, starts_at=starts, duration_minutes=60),
                    session=session,
                    actor=Actor.cli("browser-test"),
                    now=starts - timedelta(days=1),
                )
                await session.commit()
                assert meeting.id is not None
                return meeting.id
        finally:
            await engine.dispose()

    # Playwright's sync API runs an event loop in this thread: use another.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, make()).result()


def test_a_facilitator_fills_a_register_and_finds_it_after_a_reload(
    page: Page, console: Console
) -> None:
    meeting_id = paper_meeting(console)
    register = f"/meetings/{meeting_id}/register"
    sign_in(page, console, FACILITATOR, next_path="/register")
    page.locator(f"a[href='{register}']").click()  # one tap from the list
    expect(page).to_have_url(f"{console.base}{register}")
    names = page.locator("fieldset.mark input[value=present]").evaluate_all(
        "inputs => inputs.map(i => i.name)"
    )
    assert len(names) >= 3, names
    first, second, third = names[:3]
    page.locator(f"label[for={first}-present]").click()
    page.locator(f"label[for={second}-absent]").click()
    page.locator(f"label[for={third}-present]").click()
    # Every control fits the phone's width: nothing to scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.locator(".savebar button[type=submit]").click()
    expect(page.locator(".notice")).to_contain_text("3")

    page.reload()
    expect(page.locator(f"#{first}-present")).to_be_checked()
    expect(page.locator(f"#{second}-absent")).to_be_checked()
    expect(page.locator(f"#{third}-present")).to_be_checked()
    expect(page.locator(f"#{names[3]}-unknown")).to_be_checked()
    page.goto(f"{console.base}/register")
    expect(page.locator(f"a[href='{register}'] .count")).to_have_text(re.compile(r"(^|\D)3(\D|$)"))


def test_an_export_downloads_with_a_byte_order_mark_and_only_her_community(
    page: Page, console: Console
) -> None:
    sign_in(page, console, FACILITATOR, next_path="/exports")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    with page.expect_download() as download:
        page.locator("form[action='/exports/attendance'] button[type=submit]").click()
    got = download.value
    assert got.suggested_filename == "rw-sbi-attendance.csv"
    path = got.path()
    assert path is not None
    content = path.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    text = content.decode("utf-8-sig")
    assert next(csv.reader(io.StringIO(text))) == ATTENDANCE_COLUMNS
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and {r["community_code"] for r in rows} == {COMMUNITY}
