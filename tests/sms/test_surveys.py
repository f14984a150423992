"""A teacher answers the reflection survey by SMS in every language: digits and words,
a re-ask, a gap, and the answers read back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import surveys as sv
from service.domain.people import opt_out
from service.domain.survey_dispatch import dispatch_surveys, remind_unfinished
from service.models import Message, Person, SurveyResponse
from service.models.enums import Channel, Direction, Language, ResponseStatus
from service.models.types import utcnow
from sms.texts import SmsTexts
from tests import factories as f
from tests.surveys import answers_through_graphql, held_meeting, invited

TOKEN = "dev-callback-token"
TEXTS = SmsTexts.load()
YES = {
    Language.en: "yes",
    Language.sw: "Ndiyo",
    Language.rw: "YEGO",
    Language.fr: "oui",
    Language.ny: "Inde",
}
# The first word of option 2 ("inclusive teaching") in each language.
INCLUSIVE = {
    Language.en: "inclusive",
    Language.sw: "ufundishaji",
    Language.rw: "kwigisha",
    Language.fr: "enseignement",
    Language.ny: "kuphunzitsa",
}


_ids = iter(range(1, 1_000_000))


async def texts_in(client: httpx.AsyncClient, person: Person, text: str) -> None:
    form = {"from": person.phone or "", "to": "20880", "text": text, "id": f"ATIn_{next(_ids)}",
            "date": "2026-11-22 10:00:00", "linkId": "x", "networkCode": "63902"}  # fmt: skip
    assert (await client.post(f"/at/{TOKEN}/sms/inbound", data=form)).status_code == 200


async def last_sent(session: AsyncSession, person: Person) -> Message:
    await session.rollback()
    session.expunge_all()
    rows = await session.exec(
        select(Message)
        .where(col(Message.person_id) == person.id, col(Message.direction) == Direction.outbound)
        .order_by(col(Message.id).desc())
    )
    return rows.first()  # type: ignore[return-value]


def body(message: Message, language: Language) -> str:
    if message.body is not None:
        return message.body
    assert message.template is not None
    return TEXTS.render(message.template, language, message.params or {}, timezone="Africa/Nairobi")


@pytest.mark.parametrize("language", list(Language))
async def test_the_reflection_survey_by_sms_with_digits_and_words(
    client: httpx.AsyncClient, session: AsyncSession, language: Language
) -> None:
    w, _ = await invited(session, language)
    teacher = w.members[0]
    invite = await last_sent(session, teacher)
    assert (invite.template, invite.language) == ("survey_invite", language)
    assert invite.params is not None and invite.params["questions"] == 5

    await texts_in(client, teacher, "ok")  # any reply starts it
    q1 = body(await last_sent(session, teacher), language)
    assert q1.startswith("1/5 ") and "2 " in q1

    await texts_in(client, teacher, INCLUSIVE[language])  # a word for option 2
    q2 = body(await last_sent(session, teacher), language)
    assert q2.startswith("2/5 ")
    await texts_in(client, teacher, "9")  # no rating
    reask = body(await last_sent(session, teacher), language)
    assert reask.startswith(TEXTS.render("survey_reask", language, {}, timezone="UTC"))
    assert "2/5 " in reask
    await texts_in(client, teacher, " 5 ")
    await texts_in(client, teacher, YES[language])  # a word for yes
    await texts_in(client, teacher, "1")  # a yes/no question wants a word, not a digit
    again = body(await last_sent(session, teacher), language)
    assert "4/5 " in again  # re-asked: a yes/no wants a word
    await texts_in(client, teacher, YES[language].upper())
    await texts_in(client, teacher, "Group reading aloud")
    done = body(await last_sent(session, teacher), language)
    assert done == TEXTS.render("survey_done", language, {}, timezone="UTC")

    await session.rollback()
    [response] = (
        await session.exec(
            select(SurveyResponse).where(col(SurveyResponse.person_id) == teacher.id)
        )
    ).all()
    assert response.status is ResponseStatus.completed
    assert await sv.answers_of(session, response.id or 0) == {
        1: "2", 2: "5", 3: "yes", 4: "yes", 5: "Group reading aloud"
    }  # fmt: skip
    assert [a["value"] for a in await answers_through_graphql(client, session, w)] == [
        "2", "5", "yes", "yes", "Group reading aloud"
    ]  # fmt: skip


async def test_an_rsvp_with_a_code_mid_survey_is_still_an_rsvp(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w, _ = await invited(session, Language.en)
    teacher = w.members[0]
    await texts_in(client, teacher, "start")
    await texts_in(client, teacher, f"YES {w.meeting.code}")
    reply = await last_sent(session, teacher)
    assert reply.template == "rsvp_yes"


async def test_opted_out_attendees_get_no_invitation_and_one_reminder_reaches_the_rest(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    a, b = w.members
    await opt_out(b, channel=Channel.sms, session=session, actor=f.OPERATOR)
    await held_meeting(session, w, [a, b])
    assert await dispatch_surveys(session, f.now()) == 1
    assert await dispatch_surveys(session, f.now()) == 0  # once per meeting
    later = f.now() + timedelta(hours=25)
    assert await remind_unfinished(session, later) == 1
    await session.flush()
    assert await remind_unfinished(session, later + timedelta(hours=1)) == 0  # once
    invites = (
        await session.exec(select(Message).where(col(Message.template) == "survey_invite"))
    ).all()
    assert {m.person_id for m in invites} == {a.id}
    assert {m.dedupe_key.split(":")[0] for m in invites if m.dedupe_key} == {
        "survey_invite", "survey_reminder"
    }  # fmt: skip


async def test_a_conversation_lapses_after_the_window(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    w, _ = await invited(session, Language.en)
    teacher = w.members[0]
    response = (await session.exec(select(SurveyResponse))).one()
    response.updated_at = utcnow() - sv.ANSWER_WINDOW - timedelta(minutes=1)
    await session.commit()
    await texts_in(client, teacher, "3")
    reply: Any = await last_sent(session, teacher)
    assert reply.template == "unknown"  # no survey to answer any more
