"""A trainer opens the simulator's phones in the browser and does what a teacher does on a
basic phone: dials the programme's USSD code and says she will come to a meeting, and
answers YES by SMS; and what a teacher does on a smartphone: taps "I'll come" under a
WhatsApp reminder. Each answer is read back through GraphQL, as a partner app would.
The page also passes axe-core, and says so plainly when the simulator has no WhatsApp.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.harness import Console
from tests.browser.test_accessibility import AXE, described, violations

OMONDI = "+254712100003"  # Omondi Were, teacher in Kisumu Central Cluster CoP (Kiswahili)
LILIAN = "+254712100016"  # Lilian Ouma, teacher in Kakamega North Cluster CoP (English)
# Everlyne Simiyu, teacher in Kisumu Central Cluster CoP (Kiswahili), on WhatsApp by her
# own choice (the demo records her opt-in).
EVERLYNE = "+254712100005"
SERVICE_CODE = "*384*2541#"  # ke-clusters

NEXT_MEETING = """
query ($search: String!) {
  people(filter: {search: $search}) {
    nodes { phone upcomingMeetings(first: 1) {
      id code attendance { rsvp rsvpChannel person { phone } } } }
  }
}
"""


@cache
def api_key(database_url: str, scopes: str = "read,read:pii") -> str:
    created = subprocess.run(
        [sys.executable, "-m", "service.cli.main", "apikey", "create",
         "--programme", "ke-clusters", "--scopes", scopes, "--name", "phones test"],
        env={**os.environ, "COPLINE_DATABASE_URL": database_url},
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return created.stdout.strip()


def graphql(
    console: Console, query: str, scopes: str = "read,read:pii", **variables: Any
) -> dict[str, Any]:
    answer = httpx.post(
        f"{console.base}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {api_key(console.database_url, scopes)}"},
        timeout=10,
    )
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


def next_meeting(console: Console, name: str, phone: str) -> tuple[str, dict[str, Any]]:
    """The code of the person's next meeting and their attendance row in it, by GraphQL."""
    data = graphql(console, NEXT_MEETING, search=name)
    [person] = [p for p in data["people"]["nodes"] if p["phone"] == phone]
    [meeting] = person["upcomingMeetings"]
    [row] = [a for a in meeting["attendance"] if a["person"]["phone"] == phone]
    return meeting["code"], row


def open_phones(page: Page, console: Console, phone: str) -> None:
    page.goto(f"{console.simulator}/sim/phones/")
    page.get_by_label("Basic phone number").fill(phone)
    page.get_by_role("button", name="Open the phones").click()
    expect(page.get_by_role("heading", name=re.compile("^Basic phone"))).to_contain_text(phone)


def test_a_teacher_dials_the_code_on_the_basic_phone_and_says_she_will_come(
    page: Page, console: Console
) -> None:
    code, before = next_meeting(console, "Omondi Were", OMONDI)
    assert before["rsvp"] != "yes"  # the demo has them say no (or nothing) so far
    open_phones(page, console, OMONDI)
    screen = page.get_by_role("status", name="Phone screen")

    page.get_by_role("button", name=SERVICE_CODE).click()  # types the code on the keypad
    page.get_by_role("button", name="Call or send").click()
    expect(screen).to_contain_text("Habari Omondi")
    expect(screen).to_contain_text("1 Mikutano ijayo")
    page.keyboard.press("1")  # the computer's keyboard works as the keypad
    page.keyboard.press("Enter")
    expect(screen).to_contain_text("Mikutano yako")
    page.get_by_role("button", name="1", exact=True).click()  # the first meeting
    page.get_by_role("button", name="Call or send").click()
    expect(screen).to_contain_text(f"Msimbo {code}")
    page.get_by_role("button", name="1", exact=True).click()  # 1 Nitahudhuria: I will come
    page.get_by_role("button", name="Call or send").click()
    expect(screen).to_contain_text("Asante!")

    _, after = next_meeting(console, "Omondi Were", OMONDI)
    assert (after["rsvp"], after["rsvpChannel"]) == ("yes", "ussd")


def test_a_teacher_answers_yes_by_sms_from_the_phone_page(page: Page, console: Console) -> None:
    code, before = next_meeting(console, "Lilian Ouma", LILIAN)
    assert before["rsvp"] != "yes"  # the demo has them say no (or nothing) so far
    open_phones(page, console, LILIAN)

    expect(page.get_by_label("To", exact=True)).to_have_value("20880")
    page.get_by_label("Message", exact=True).fill(f"YES {code}")
    page.get_by_role("button", name="Send SMS").click()
    expect(page.locator("#sms-status")).to_contain_text(f"Sent to 20880: “YES {code}”")
    # The service's answer reaches the phone and the page shows it, newest first.
    expect(page.locator("#inbox li").first).to_contain_text(f"reply HERE {code}", timeout=20_000)

    _, after = next_meeting(console, "Lilian Ouma", LILIAN)
    assert (after["rsvp"], after["rsvpChannel"]) == ("yes", "sms")


FACILITATE = "read,read:pii,write,sms:send,admin"
COMMUNITY_OF = """
query ($search: String!) {
  people(filter: {search: $search}) { nodes { phone reach communities { id code } } }
}
"""
NO_QUIET_HOURS = """
mutation { updateProgramme(input: {quietHoursStart: "00:00:00", quietHoursEnd: "00:00:00"}) {
  __typename } }
"""
SCHEDULE = """
mutation ($input: ScheduleMeetingInput!) {
  scheduleMeeting(input: $input) {
    __typename ... on MeetingPayload { meeting { id code } } ... on Error { message } }
}
"""
REMIND = """
mutation ($id: ID!) { sendReminder(meetingId: $id) { __typename ... on Error { message } } }
"""
ATTENDANCE = """
query ($id: ID!) { meeting(id: $id) { attendance { rsvp rsvpChannel person { phone } } } }
"""


NAIROBI = ZoneInfo("Africa/Nairobi")


def clear_of_the_demo(days: int) -> datetime:
    """08:00 in Nairobi `days` from today: the demo's Kenyan CoPs meet at 14:00, so a
    meeting scheduled then (or a few hours later) never clashes with theirs, whatever
    the hour the test runs at."""
    day = datetime.now(NAIROBI).date() + timedelta(days=days)
    return datetime.combine(day, time(8), tzinfo=NAIROBI)


def schedule_and_remind(
    console: Console, community_id: str, starts: datetime, **details: str
) -> dict[str, str]:
    """A meeting scheduled through GraphQL and its members reminded now, as a facilitator
    does: the meeting's id and code."""
    scheduled = graphql(
        console, SCHEDULE, FACILITATE,
        input={"communityId": community_id, "startsAt": starts.isoformat(),
               "modality": "hybrid", "venue": "Cluster resource centre", **details},
    )["scheduleMeeting"]  # fmt: skip
    assert scheduled["__typename"] == "MeetingPayload", scheduled
    meeting: dict[str, str] = scheduled["meeting"]
    reminded = graphql(console, REMIND, FACILITATE, id=meeting["id"])["sendReminder"]
    assert reminded["__typename"] == "QueuedPayload", reminded
    return meeting


def rsvp_of(console: Console, meeting_id: str, phone: str) -> tuple[str, str | None]:
    attendance = graphql(console, ATTENDANCE, id=meeting_id)["meeting"]["attendance"]
    rows = [a for a in attendance if a["person"]["phone"] == phone]
    return (rows[0]["rsvp"], rows[0]["rsvpChannel"]) if rows else ("none", None)


def test_a_teacher_taps_ill_come_under_a_whatsapp_reminder(page: Page, console: Console) -> None:
    # A trainer's workshop may run into the evening: the programme lifts its quiet hours,
    # which would otherwise hold every reminder until the morning.
    lifted = graphql(console, NO_QUIET_HOURS, FACILITATE)["updateProgramme"]
    assert lifted["__typename"] == "ProgrammePayload"
    [everlyne] = graphql(console, COMMUNITY_OF, search="Everlyne Simiyu")["people"]["nodes"]
    assert (everlyne["phone"], everlyne["reach"]) == (EVERLYNE, "whatsapp")
    [community] = everlyne["communities"]
    # Three days out, beyond the policy's 48-hour round: the only reminders are the
    # facilitator's, so each meeting has exactly one reminder bubble.
    soon = clear_of_the_demo(3)

    tapped = schedule_and_remind(console, community["id"], soon)
    open_phones(page, console, EVERLYNE)
    chat = page.get_by_role("log", name="WhatsApp chat")
    # Her reminder, as the service sent it by WhatsApp: in Kiswahili, with its buttons.
    reminder = chat.locator(".bubble").filter(has_text=f"NDIYO {tapped['code']}")
    expect(reminder).to_contain_text("template copline_reminder", timeout=30_000)
    # A reminder of another meeting arrives after it, so hers is no longer the latest.
    later = schedule_and_remind(console, community["id"], soon + timedelta(hours=3))
    expect(chat.locator(".bubble").filter(has_text=f"NDIYO {later['code']}")).to_have_count(
        1, timeout=30_000
    )

    replies = reminder.get_by_role("group", name="Quick replies")
    expect(replies.get_by_role("button")).to_have_text(["Nitakuja", "Sitaweza kuja"])
    replies.get_by_role("button", name="Nitakuja").click()
    expect(page.locator("#wa-status")).to_have_text("Sent “Nitakuja”.")
    # The service's answer comes back in the chat, free text now that she wrote.
    expect(chat.locator(".bubble").last).to_contain_text(
        f"jibu NIPO {tapped['code']}", timeout=20_000
    )

    assert rsvp_of(console, tapped["id"], EVERLYNE) == ("yes", "whatsapp")
    assert rsvp_of(console, later["id"], EVERLYNE)[0] != "yes"  # the button is the bubble's


def test_the_toolkit_page_of_a_reminder_is_a_document_on_the_smartphone(
    page: Page, console: Console
) -> None:
    graphql(console, NO_QUIET_HOURS, FACILITATE)
    [everlyne] = graphql(console, COMMUNITY_OF, search="Everlyne Simiyu")["people"]["nodes"]
    [community] = everlyne["communities"]
    starts = clear_of_the_demo(4)
    pdf = "https://toolkit.example.org/maths/p12.pdf"
    meeting = schedule_and_remind(
        console, community["id"], starts, activity="Fractions with bottle tops", activityLink=pdf
    )

    open_phones(page, console, EVERLYNE)
    chat = page.get_by_role("log", name="WhatsApp chat")
    reminder = chat.locator(".bubble").filter(has_text=f"NDIYO {meeting['code']}")
    expect(reminder).to_contain_text("Fractions with bottle tops", timeout=30_000)
    expect(reminder.get_by_role("link", name=pdf)).to_have_attribute("href", pdf)


def test_the_smartphone_shows_the_chat_or_says_the_simulator_has_no_whatsapp(
    page: Page, console: Console
) -> None:
    open_phones(page, console, LILIAN)
    chat_route = httpx.get(f"{console.simulator}/sim/whatsapp/{LILIAN}", timeout=5)
    notice = page.get_by_text("WhatsApp not available in this simulator.")
    if chat_route.status_code == 404 and "json" not in chat_route.headers.get("content-type", ""):
        expect(notice).to_be_visible()
        expect(page.get_by_role("button", name="Send WhatsApp message")).to_be_disabled()
    else:
        expect(notice).to_be_hidden()
        expect(page.get_by_role("log", name="WhatsApp chat")).to_be_visible()


@pytest.mark.parametrize("console", ["sqlite"], indirect=True)
@pytest.mark.parametrize("width", [360, 1280])
def test_the_phones_page_has_no_serious_accessibility_violation(
    browser: Browser, console: Console, width: int
) -> None:
    if not AXE.exists():
        pytest.skip("axe-core is not installed: `make test-install` (npm ci in tests/browser)")
    context = browser.new_context(viewport={"width": width, "height": 800}, locale="en-GB")
    try:
        page = context.new_page()
        for path in ("/sim/phones/", f"/sim/phones/{LILIAN}/view"):
            page.goto(f"{console.simulator}{path}")
            page.get_by_role("button", name=SERVICE_CODE).or_(page.locator("h1")).first.wait_for()
            found = violations(page, AXE.read_text(encoding="utf-8"))
            if found:
                pytest.fail(described(path, found), pytrace=False)
    finally:
        context.close()


# A chat in the shape of `GET /sim/whatsapp/{phone}` (sms/simulator/whatsapp.py).
SAMPLE_CHAT = {
    "phone": LILIAN,
    "on_whatsapp": True,
    "window_open": True,
    "messages": [
        {
            "id": "wa-1",
            "direction": "out",
            "kind": "template",
            "template": "rsvp_reminder",
            "text": "Kakamega North Cluster CoP meets on Thursday at 14:00. Will you come?",
            "buttons": ["I'll come", "I can't come"],
            "status": "read",
            "at": "2026-12-02T09:00:00+00:00",
        },
        {
            "id": "wa-2",
            "direction": "in",
            "kind": "text",
            "text": "Asante",
            "buttons": [],
            "status": "received",
        },
        {
            "id": "wa-3",
            "direction": "out",
            "kind": "text",
            "text": "How useful was the meeting?",
            "buttons": [],
            "list": ["Very useful", "A little"],
            "status": "delivered",
        },
    ],
}


@pytest.mark.parametrize("console", ["sqlite"], indirect=True)
def test_the_smartphone_shows_the_chat_and_a_tapped_button_is_sent(
    page: Page, console: Console
) -> None:
    """The page against a simulator that speaks WhatsApp (its two routes stood in for)."""
    posted: list[Any] = []
    page.route(
        f"**/sim/whatsapp/{LILIAN.replace('+', '%2B')}",
        lambda route: route.fulfill(json=SAMPLE_CHAT),
    )

    def reply(route: Any) -> None:
        posted.append(route.request.post_data_json)
        route.fulfill(json={"id": "wa-in-1"})

    page.route(f"**/sim/phones/{LILIAN.replace('+', '%2B')}/whatsapp", reply)
    open_phones(page, console, LILIAN)
    chat = page.get_by_role("log", name="WhatsApp chat")

    expect(chat).to_contain_text("Will you come?")
    expect(chat.get_by_role("img", name="read")).to_have_count(1)
    expect(chat.get_by_role("img", name="delivered")).to_have_count(2)  # and her own
    expect(chat).to_contain_text("template rsvp_reminder")
    expect(chat.locator(".bubble.out")).to_have_text(re.compile("Asante"))
    expect(chat.get_by_role("listitem")).to_have_text(["Very useful", "A little"])
    chat.get_by_role("button", name="I'll come").click()
    expect(page.locator("#wa-status")).to_have_text("Sent “I'll come”.")
    page.get_by_label("WhatsApp message", exact=True).fill("NDIYO")
    page.get_by_role("button", name="Send WhatsApp message").click()
    expect(page.locator("#wa-status")).to_have_text("Sent “NDIYO”.")
    assert posted == [{"button": "I'll come", "message": "wa-1"}, {"text": "NDIYO"}]
    expect(page.get_by_text("This number is not on WhatsApp")).to_be_hidden()
    expect(page.get_by_text("WhatsApp not available in this simulator.")).to_be_hidden()
