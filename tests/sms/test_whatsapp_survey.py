"""A teacher on WhatsApp answers the reflection survey with a tap where she can: the
options of a question come as quick replies (a list when there are more than three),
a typed answer works as by SMS, and every answer lands in the same rows with channel
`whatsapp`. Through the simulator over HTTP and the real SDK."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import surveys as sv
from service.domain.survey_dispatch import dispatch_surveys
from service.models import Answer, Message, SurveyResponse
from service.models.enums import Channel, Direction, Language, Reach, ResponseStatus
from service.models.types import utcnow
from tests import factories as f
from tests.sms.stack import TEXTS, Clock, Stack
from tests.surveys import held_meeting

WA_NUMBER = "+254711082000"  # the simulator's business number


async def chat(stack: Stack, phone: str) -> list[dict[str, Any]]:
    answer = await stack.http.get(f"{stack.simulator.url}/sim/whatsapp/{phone}")
    return list(answer.json()["messages"])


async def latest(stack: Stack, phone: str, clock: Clock) -> dict[str, Any]:
    """Send what is due, then the newest message in the phone's chat."""
    clock.now = utcnow()  # the replies were queued just now
    sender = stack.sender(clock)
    for _ in range(5):
        if (await sender.send_due()).claimed == 0:
            break
    return (await chat(stack, phone))[-1]


async def phone(stack: Stack, number: str, **body: Any) -> None:
    answer = await stack.http.post(f"{stack.simulator.url}/sim/phones/{number}/whatsapp", json=body)
    assert answer.status_code == 200 and answer.json()["service_status"] == 200, answer.text


async def test_a_whatsapp_teacher_answers_the_survey_with_taps_and_words(
    stack: Stack, session: AsyncSession
) -> None:
    w = await f.world(session)
    w.programme.whatsapp_number = WA_NUMBER
    w.programme.quiet_hours_start = w.programme.quiet_hours_end = time(0, 0)
    teacher = w.members[0]
    teacher.language = Language.sw
    teacher.reach, teacher.whatsapp_opt_in_at = Reach.whatsapp, f.now() - timedelta(days=3)
    await held_meeting(session, w, [teacher])
    assert await dispatch_surveys(session, utcnow()) == 1
    await session.commit()
    number = teacher.phone or ""
    clock = Clock(utcnow())

    # The invitation: an approved template, as she has not written for a day.
    invitation = await latest(stack, number, clock)
    assert invitation["template"] == "copline_survey_invite"
    await phone(stack, number, text="sawa")  # any reply starts it

    # A choice among six: a list, each option its label (shortened to WhatsApp's 20
    # characters, so the message names them in full); she taps the second.
    first = await latest(stack, number, clock)
    assert first["text"].startswith("1/5 ") and first["template"] is None
    assert first["buttons"] == [] and len(first["list"]) == 6
    assert all(len(option) <= 20 for option in first["list"])
    assert "\n1 Mahitaji ya wanafunzi" in first["text"]
    await phone(stack, number, button=first["list"][1], message=first["id"])

    # A rating from 1 to 5: a list of the five numbers; she taps 5.
    rating = await latest(stack, number, clock)
    assert rating["text"].startswith("2/5 ") and rating["list"] == ["1", "2", "3", "4", "5"]
    await phone(stack, number, button="5", message=rating["id"])

    # Yes or no: two quick-reply buttons in Kiswahili; she taps "Hapana".
    yes_no = await latest(stack, number, clock)
    assert yes_no["text"].startswith("3/5 ") and yes_no["buttons"] == ["Ndiyo", "Hapana"]
    await phone(stack, number, button="Hapana", message=yes_no["id"])

    # She types the next answer, as she would by SMS.
    typed = await latest(stack, number, clock)
    assert typed["text"].startswith("4/5 ")
    await phone(stack, number, text="NDIYO")
    words = await latest(stack, number, clock)
    assert words["text"].startswith("5/5 ") and words["buttons"] == words["list"] == []
    await phone(stack, number, text="Kusoma kwa sauti kwa vikundi")
    done = await latest(stack, number, clock)
    assert done["text"] == TEXTS.render("survey_done", Language.sw, {}, timezone="UTC")

    async with stack.sessions() as s:
        [response] = (
            await s.exec(select(SurveyResponse).where(col(SurveyResponse.person_id) == teacher.id))
        ).all()
        assert (response.status, response.channel) == (ResponseStatus.completed, Channel.whatsapp)
        assert await sv.answers_of(s, response.id or 0) == {
            1: "2", 2: "5", 3: "no", 4: "yes", 5: "Kusoma kwa sauti kwa vikundi"
        }  # fmt: skip
        answers = (await s.exec(select(Answer).where(Answer.response_id == response.id))).all()
        assert {a.channel for a in answers} == {Channel.whatsapp}
        # Every question went by WhatsApp, none by SMS as well.
        sent = (
            await s.exec(
                select(Message).where(
                    Message.person_id == teacher.id, Message.direction == Direction.outbound
                )
            )
        ).all()
        assert {m.reach for m in sent} == {Reach.whatsapp}
    assert await stack.texts(number) == []
