"""A programme officer writes a broadcast on a phone-sized screen, watches its preview
count as she types, sends it, and a member's phone gets it (or quiet hours hold it,
and the log says until when)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.browser.harness import Console, sign_in

ADMIN = "+250788300001"  # Jeanne Uwase, programme admin of rw-sbi (English)
COMMUNITY = "GS Sainte Bernadette de Kamembe English CoP"  # RW-RUS-027-ENG: 6 members
MEMBER = "+250788100028"  # Francine Iradukunda, one of them
KIGALI = ZoneInfo("Africa/Kigali")  # rw-sbi's time; quiet hours 19:00-07:00 (the default)


def quiet_in_kigali(slack_minutes: int = 2) -> bool | None:
    """Whether it is quiet hours in Kigali now; None within a few minutes of either end."""
    local = datetime.now(KIGALI)
    minute = local.hour * 60 + local.minute
    if any(abs(minute - edge) <= slack_minutes for edge in (7 * 60, 19 * 60)):
        return None
    return minute >= 19 * 60 or minute < 7 * 60


def test_a_broadcast_previews_as_she_types_and_reaches_a_members_phone(
    page: Page, console: Console
) -> None:
    token = secrets.token_hex(3).upper()
    sign_in(page, console, ADMIN, next_path="/messages/new")
    expect(page.locator("h1")).to_have_text("Write a broadcast")
    page.get_by_label("To", exact=True).select_option(label=COMMUNITY)
    expect(page.locator('[data-figure="recipients"]')).to_have_text("6")

    text = page.get_by_label("Message", exact=True)
    opening = f"Lesson study {token}: bring one English lesson plan you taught this week"
    text.fill(opening.ljust(155, "."))
    expect(page.locator('[data-figure="segments"]')).to_contain_text("1 (160 characters each)")
    expect(page.locator('[data-figure="left"]')).to_have_text("5")
    text.press_sequentially(" Thanks")  # 162 characters: a second segment
    expect(page.locator('[data-figure="segments"]')).to_contain_text("2 (153 characters each)")
    expect(page.locator('[data-figure="encoding"]')).to_have_text("GSM-7")
    expect(page.locator('[data-figure="warning"]')).to_have_count(0)
    text.press_sequentially(" \u2019")  # a curly quote, as phones' keyboards type it
    expect(page.locator('[data-figure="encoding"]')).to_have_text("UCS-2")
    expect(page.locator('[data-figure="warning"]')).to_contain_text(
        "\u2019 (curly quote) makes this SMS UCS-2: 70 characters per segment instead of 160."
    )
    expect(page.locator('[data-figure="segments"]')).to_contain_text("3 (67 characters each)")
    expect(page.locator('[data-figure="cost"]')).to_contain_text(
        "270.00 RWF"
    )  # 15 RWF x 3 segments x 6 people

    seen = len(console.inbox(MEMBER))
    page.get_by_role("button", name="Send").click()
    notice = page.locator(".notice")
    expect(notice).to_contain_text("6 SMS queued.")
    if "Quiet hours hold them" in (notice.text_content() or ""):
        # Night in Kigali: the log lists what is held and says until when.
        assert quiet_in_kigali() is not False
        expect(page).to_have_url(re.compile(r"/messages\?held=1$"))
        expect(page.locator(".notice")).to_contain_text("until")
        expect(page.locator("table.log")).to_contain_text("Held until")
    else:
        assert quiet_in_kigali() is not True
        found = console.wait_for_sms(MEMBER, seen, re.compile(rf"Lesson study {token}\b.*"))
        assert "\u2019" in found.group(0)  # sent as written, in UCS-2
        expect(page.locator("table.log")).to_contain_text(f"Lesson study {token}")
