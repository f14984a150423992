"""The overview in a phone-sized Chromium: charts with their numbers, and the filter form."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.harness import Console, sign_in

ADMIN = "+250788300001"  # Jeanne Uwase, programme admin of rw-sbi (English)


def planned(page: Page) -> int:
    """The Meetings chart's 'Planned' figure, read from its table (closed or not)."""
    cell = page.locator("table:has(caption:text-is('Meetings')) tr:has(th:text-is('Planned')) td")
    return int((cell.text_content() or "").replace(",", ""))


def test_the_overview_shows_charts_with_their_numbers_and_filters_by_community(
    page: Page, console: Console
) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, console, ADMIN)
    expect(page.locator("h1")).to_have_text("Overview")
    charts = page.locator("figure.chart svg[role=img]")
    expect(charts.first).to_be_visible()
    assert charts.count() >= 4
    for i in range(charts.count()):  # each named by its title, for screen readers
        label = charts.nth(i).get_attribute("aria-labelledby")
        assert label and page.locator(f"#{label}").text_content()
    numbers = page.locator("figure.chart details").first
    numbers.locator("summary").click()
    expect(numbers.locator("table caption")).to_be_visible()
    whole = planned(page)
    assert whole > 4  # six CoPs, three meetings each this term

    page.select_option("#f-community", label="GS Gasaka English CoP")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"[?&]community=\d+"))
    expect(page.locator("#f-community option:checked")).to_have_text("GS Gasaka English CoP")
    assert 0 < planned(page) < whole
    assert not [e for e in errors if "Content Security Policy" in e], errors
