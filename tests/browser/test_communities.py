"""A facilitator plans her community's term on a phone-sized screen, and cannot reach a
community she does not facilitate by editing the address."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlalchemy.ext.asyncio import create_async_engine

from service.domain.meetings import spread_dates
from tests.browser.harness import Console, sign_in

# One facilitator of each demo programme: Kenya's plans, Rwanda's is refused.
WINNIE = "+254712200001"  # Winnie Onyango, coach, facilitator of KSM-CEN (Kiswahili)
ALICE = "+250788200001"  # Alice Mukeshimana, facilitator of RW-BUG-001-MATH (Kinyarwanda)
NAIROBI = ZoneInfo("Africa/Nairobi")
SATURDAY = 5
AT = time(8, 0)  # the demo's meetings are on weekdays in the afternoon: nothing to clash with


def ids(console: Console, table: str, **where: object) -> list[int]:
    """Ids from the demo's store (read in a thread: Playwright holds this one's loop)."""

    async def read() -> list[int]:
        engine = create_async_engine(console.database_url)
        try:
            async with engine.connect() as connection:
                conditions = " AND ".join(f"{column} = :{column}" for column in where)
                sql = f"SELECT id FROM {table} WHERE {conditions} ORDER BY id"
                return list((await connection.execute(sa.text(sql), where)).scalars())
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result()


def community_id(console: Console, code: str) -> int:
    return ids(console, "community", code=code)[0]


def test_a_facilitator_schedules_a_terms_meetings_around_a_holiday(
    page: Page, console: Console
) -> None:
    mine = community_id(console, "KSM-CEN")
    sign_in(page, console, WINNIE)
    page.goto(f"{console.base}/communities")
    page.locator(f"a[href='/communities/{mine}']").click()
    page.locator(f"a[href='/communities/{mine}/schedule']").click()

    term = page.locator("input[name=term]:checked")  # the demo term, under way
    starts = date.fromisoformat(str(term.get_attribute("data-starts")))
    ends = date.fromisoformat(str(term.get_attribute("data-ends")))
    now = datetime.now(NAIROBI)
    saturdays = [
        starts + timedelta(days=n)
        for n in range((ends - starts).days + 1)
        if (starts + timedelta(days=n)).weekday() == SATURDAY
        and datetime.combine(starts + timedelta(days=n), AT, tzinfo=NAIROBI) > now
    ]
    holiday = spread_dates(saturdays, 2)[0]  # where the first meeting would have fallen
    expected = spread_dates([d for d in saturdays if d != holiday], 2)

    page.select_option("#weekday", str(SATURDAY))
    page.fill("#time", AT.strftime("%H:%M"))
    page.fill("#count", "2")
    page.fill("#venue", "Library")
    page.fill("#closed_days", holiday.strftime("%d/%m/%Y"))
    page.locator(f"form[action='/communities/{mine}/schedule'] button[type=submit]").click()

    expect(page).to_have_url(f"{console.base}/communities/{mine}")
    expect(page.locator(".notice")).to_contain_text("2")
    for day in expected:
        stamp = datetime.combine(day, AT, tzinfo=NAIROBI).isoformat(timespec="minutes")
        expect(page.locator(f"#main time[datetime='{stamp}']")).to_have_count(1)
    closed = datetime.combine(holiday, AT, tzinfo=NAIROBI).isoformat(timespec="minutes")
    expect(page.locator(f"#main time[datetime='{closed}']")).to_have_count(0)


def test_a_facilitator_cannot_open_another_community_by_editing_the_address(
    page: Page, console: Console
) -> None:
    english = community_id(console, "RW-BUG-001-ENG")  # her school's, not hers
    kenyan = community_id(console, "KSM-CEN")  # another programme's
    their_meeting = ids(console, "meeting", community_id=english)[0]
    sign_in(page, console, ALICE)
    page.goto(f"{console.base}/communities")
    expect(page.locator(f"a[href='/communities/{english}']")).to_have_count(0)
    for path in (f"/communities/{english}", f"/communities/{kenyan}", f"/meetings/{their_meeting}"):
        answer = page.goto(f"{console.base}{path}")
        assert answer is not None and answer.status == 404, path
        expect(page.locator("main .error")).to_contain_text("Nta kintu kiri hano kikugenewe.")
