"""The programme admin imports a roster from a phone-sized browser: one bad row is refused
with its line and reason in the preview, and the rest is imported after confirming."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.harness import Console, sign_in

ADMIN = "+250788300001"  # Jeanne Uwase, programme admin (rw-sbi), English
# Numbers of the demo's own range that no demo person has: the server is shared.
PEOPLE = """name,phone,school,roles,subjects,gender
Browser Teacher One,+250788900001,RW-BUG-001,teacher,Mathematics,female
Browser Teacher Two,0788900002,NOPE-404,teacher,Mathematics,male
Browser Teacher Three,250788900003,RW-BUG-001,teacher,English,female
"""


def test_an_admin_uploads_people_sees_the_bad_row_refused_and_imports_the_rest(
    page: Page, console: Console, tmp_path: Path
) -> None:
    sign_in(page, console, ADMIN)
    page.goto(f"{console.base}/people/import")
    roster = tmp_path / "people.csv"
    roster.write_text(PEOPLE, encoding="utf-8")
    page.set_input_files("#file-people", str(roster))
    page.get_by_role("button", name="Check the files").click()

    expect(page.locator("h1")).to_have_text("Check before importing")
    refused = page.locator("table.refused tbody tr")
    expect(refused).to_have_count(1)
    expect(refused.first.locator("td").first).to_have_text("3")
    expect(refused.first).to_contain_text("unknown school 'NOPE-404'; import schools first")

    expect(page.locator("main")).to_contain_text("Rows to import: 2")
    page.get_by_role("button", name="Confirm the import").click()
    # The page refreshes itself while the import runs, then shows the report.
    expect(page.locator("h1")).to_have_text("Roster imported", timeout=20_000)
    expect(refused).to_have_count(1)
    expect(page.locator("table.counts")).to_contain_text("Created")

    page.goto(f"{console.base}/people?q=browser+teacher")
    expect(page.locator("table.people tbody tr")).to_have_count(2)
    expect(page.locator("table.people")).to_contain_text("+250788900003")
