"""A person signs in on a phone-sized screen with the code the simulator's phone got."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.harness import Console, sign_in

FACILITATOR = "+250788200001"  # Alice Mukeshimana, subject lead (rw-sbi)
HEAD_TEACHER = "+254712100001"  # Brian Nyongesa (ke-clusters)


def test_a_facilitator_signs_in_with_the_code_from_her_inbox(page: Page, console: Console) -> None:
    sign_in(page, console, FACILITATOR, fresh=True)
    expect(page.locator("footer")).to_contain_text("Alice Mukeshimana")
    expect(page.locator("footer")).to_contain_text("Umworohereza")  # in Kinyarwanda, hers


def test_the_console_speaks_the_persons_language_and_can_switch(
    page: Page, console: Console
) -> None:
    sign_in(page, console, HEAD_TEACHER)  # Kiswahili in the roster
    expect(page.locator("nav")).to_contain_text("Muhtasari")
    page.select_option("#lang-switch", "fr")
    page.locator("form[action='/language'] button").click()
    expect(page.locator("nav")).to_contain_text("Vue d'ensemble")
    expect(page.locator("html")).to_have_attribute("lang", "fr")


def test_signing_out_returns_to_the_sign_in_page(page: Page, console: Console) -> None:
    sign_in(page, console, FACILITATOR, fresh=True)
    page.locator("form[action='/sign-out'] button").click()
    expect(page).to_have_url(f"{console.base}/sign-in")
    page.goto(f"{console.base}/")
    expect(page).to_have_url(f"{console.base}/sign-in")
