"""The meeting's toolkit activity reaches a WhatsApp member whole: a document (a PDF
page of the toolkit) comes as a document, under a template's header outside the 24-hour
window or with the reminder as its caption inside it; a web page comes as its link,
which WhatsApp previews, even where the SMS had no room for it. Through the simulator
over HTTP and the real SDK."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Person
from service.models.enums import Language, Reach
from sms.whatsapp_sender import is_document
from tests import factories as f
from tests.sms.stack import TEXTS, Clock, Stack

WA_NUMBER = "+254711082000"  # the simulator's business number
PDF = "https://toolkit.example.org/maths/p12.pdf"
PAGE = "https://toolkit.example.org/maths/fractions-with-bottle-tops"


async def chat(stack: Stack, phone: str | None) -> list[dict[str, Any]]:
    answer = await stack.http.get(f"{stack.simulator.url}/sim/whatsapp/{phone}")
    return list(answer.json()["messages"])


async def reminders_with(
    stack: Stack, session: AsyncSession, link: str
) -> tuple[Person, Person, str]:
    """Two WhatsApp members, the first of whom has just written (her window is open), and
    the 48-hour reminder of a meeting whose activity is at `link`, sent."""
    w = await f.world(session)
    w.programme.whatsapp_number = WA_NUMBER
    w.programme.quiet_hours_start = w.programme.quiet_hours_end = time(0, 0)
    writing, silent = w.members
    for person in (writing, silent):
        person.language = Language.en
        person.reach, person.whatsapp_opt_in_at = Reach.whatsapp, f.now() - timedelta(days=3)
    meeting = w.meeting  # in two days
    meeting.activity, meeting.activity_link = "Fractions with bottle tops", link
    await session.commit()
    wrote = await stack.http.post(
        f"{stack.simulator.url}/sim/phones/{writing.phone}/whatsapp", json={"text": "Habari"}
    )
    assert wrote.status_code == 200 and wrote.json()["service_status"] == 200

    clock = Clock(meeting.starts_at - timedelta(hours=48))
    clock.now = max(clock.now, f.now())  # after her message: her window is open
    await stack.worker(clock).tick({})
    sender = stack.sender(clock)
    for _ in range(5):
        if (await sender.send_due()).claimed == 0:
            break
    return writing, silent, meeting.code


def test_a_pdf_is_a_document_and_a_web_page_is_not() -> None:
    assert is_document(PDF) and is_document("https://x.org/A/Toolkit.DOCX?v=2")
    assert not is_document(PAGE) and not is_document("https://x.org/pdf")


async def test_a_toolkit_pdf_comes_as_a_document_in_and_out_of_the_window(
    stack: Stack, session: AsyncSession
) -> None:
    writing, silent, code = await reminders_with(stack, session, PDF)

    # Inside her window: the document itself, the reminder its caption, with its buttons.
    [*_, document] = await chat(stack, writing.phone)
    assert (document["kind"], document["url"], document["template"]) == ("document", PDF, None)
    # Its whole title: one SMS segment had room for "Fractions with b." only.
    assert f"YES {code}" in document["text"]
    assert "Activity: Fractions with bottle tops" in document["text"]
    yes = TEXTS.render("button_yes", writing.language, {}, timezone="UTC")
    assert yes in document["buttons"]

    # Outside his: the approved template, the document in its header.
    [template] = await chat(stack, silent.phone)
    assert (template["kind"], template["url"]) == ("template", PDF)
    assert template["template"] == "copline_reminder" and f"YES {code}" in template["text"]
    assert "Fractions with bottle tops" in template["text"]
    assert await stack.texts(writing.phone) == await stack.texts(silent.phone) == []


# The second is too long for an SMS beside the title: the SMS reminder leaves it out.
@pytest.mark.parametrize("link", [PAGE, PAGE + "/and-how-to-run-it-with-large-classes"])
async def test_a_toolkit_web_page_comes_as_its_link_for_whatsapp_to_preview(
    stack: Stack, session: AsyncSession, link: str
) -> None:
    writing, silent, code = await reminders_with(stack, session, link)

    [*_, text] = await chat(stack, writing.phone)
    assert (text["kind"], text["url"]) == ("text", None)
    assert f"Fractions with bottle tops {link}" in text["text"] and f"YES {code}" in text["text"]
    [template] = await chat(stack, silent.phone)
    assert template["url"] is None and link in template["text"]
