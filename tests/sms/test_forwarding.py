"""A teacher's own words reach their facilitator, once per conversation an hour, and
the facilitator answers with TO, in every language; opt-outs and floods respected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.communities import add_member
from service.models import Message, Person
from service.models.enums import Channel, Language, MembershipRole
from sms import forwarding
from sms.keywords import Keyword
from sms.lists import first_name
from tests import factories as f
from tests.sms.conversation import (
    audit_of,
    change,
    fresh,
    inbound_from,
    morning,
    reply_to,
    sent_to,
    shown,
    texts_in,
    word,
)
from tests.surveys import invited

LANGUAGES = list(Language)
QUESTION = "Habari, the meeting venue changed? I cannot find the staff room."


async def facilitating(session: AsyncSession, w: f.World, name: str) -> Person:
    """Another facilitator of the world's community."""
    person = await f.person(session, w.programme, name=name)
    assert person.id is not None and w.community.id is not None
    await add_member(
        w.pid, w.community.id, person.id, role=MembershipRole.facilitator,
        session=session, actor=f.OPERATOR,
    )  # fmt: skip
    await session.commit()
    return person


async def member(session: AsyncSession, w: f.World, name: str) -> Person:
    person = await f.person(session, w.programme, name=name)
    assert person.id is not None and w.community.id is not None
    await add_member(w.pid, w.community.id, person.id, session=session, actor=f.OPERATOR)
    await session.commit()
    return person


# --- a teacher's text, passed on --------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_teachers_text_reaches_the_facilitator_with_name_community_and_how_to_answer(
    session: AsyncSession, language: Language
) -> None:
    w = await f.world(session)
    teacher = await member(session, w, "Amina Mwangi")
    await change(session, [teacher, w.facilitator], language=language)

    asked = await texts_in(session, teacher, QUESTION, morning())

    [forwarded] = await sent_to(session, w.facilitator, forwarding.FORWARD)
    assert forwarded.language is language
    text = shown(forwarded, w.programme)
    assert "Amina Mwangi" in text and w.community.name in text and QUESTION in text
    assert f"{word(language, Keyword.to)} Amina" in text
    told = await reply_to(session, asked)
    assert told is not None
    assert (told.template, told.language) == ("forward_passed", language)
    assert first_name(w.facilitator.name) in shown(told, w.programme)
    [entry] = await audit_of(session, "message.forward")
    assert (entry.actor, entry.channel) == (f"person:{teacher.id}", Channel.sms)
    assert (entry.object_type, entry.object_id) == ("person", w.facilitator.id)
    assert "Habari" not in repr(entry.changes)  # who and where, never what


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_second_text_within_the_hour_is_kept_not_passed_on_and_the_teacher_is_told(
    session: AsyncSession, language: Language
) -> None:
    w = await f.world(session)
    teacher = w.members[0]
    await change(session, [teacher], language=language)
    now = morning()

    await texts_in(session, teacher, QUESTION, now)
    again = await texts_in(session, teacher, "Hello?? Please answer", now + timedelta(minutes=20))
    third = await texts_in(session, teacher, "Anyone there", now + timedelta(minutes=30))

    assert len(await sent_to(session, w.facilitator, forwarding.FORWARD)) == 1
    bodies = [m.body for m in await inbound_from(session, teacher)]
    assert bodies == [QUESTION, "Hello?? Please answer", "Anyone there"]  # all kept
    told = await reply_to(session, again)
    assert told is not None and (told.template, told.language) == ("forward_already", language)
    assert first_name(w.facilitator.name) in shown(told, w.programme)
    assert await reply_to(session, third) is None  # told once an hour, not per text

    later = await texts_in(session, teacher, "Still lost", now + timedelta(minutes=61))
    assert len(await sent_to(session, w.facilitator, forwarding.FORWARD)) == 2
    passed = await reply_to(session, later)
    assert passed is not None and passed.template == "forward_passed"


async def test_an_answer_from_the_facilitator_lets_the_teachers_next_text_through(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    teacher = await member(session, w, "Amina Mwangi")
    now = morning()
    await texts_in(session, teacher, QUESTION, now)
    await texts_in(session, w.facilitator, "TO Amina It is in Block B", now + timedelta(minutes=5))
    await texts_in(session, teacher, "Thanks! Which floor?", now + timedelta(minutes=10))
    forwards = await sent_to(session, w.facilitator, forwarding.FORWARD)
    assert [m.params["text"] for m in forwards if m.params] == [QUESTION, "Thanks! Which floor?"]


async def test_an_opted_out_facilitator_gets_nothing_and_the_others_do(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    other = await facilitating(session, w, "Grace Wanjiru")
    await change(session, [w.facilitator], opted_out_at=f.now())
    asked = await texts_in(session, w.members[0], QUESTION, morning())
    assert await sent_to(session, w.facilitator, forwarding.FORWARD) == []
    assert len(await sent_to(session, other, forwarding.FORWARD)) == 1
    told = await reply_to(session, asked)
    assert told is not None and told.params == {"names": "Grace"}


async def test_with_no_facilitator_who_can_get_sms_the_teacher_is_told(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    await change(session, [w.facilitator], opted_out_at=f.now())
    asked = await texts_in(session, w.members[0], QUESTION, morning())
    assert await fresh(session, Message, col(Message.kind) == forwarding.FORWARD) == []
    told = await reply_to(session, asked)
    assert told is not None and told.template == "forward_nobody"


async def test_an_opted_out_teacher_is_not_written_to_and_nothing_is_passed_on(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    teacher = w.members[0]
    await change(session, [teacher], opted_out_at=f.now())
    asked = await texts_in(session, teacher, QUESTION, morning())
    assert await reply_to(session, asked) is None
    assert await fresh(session, Message, col(Message.kind) == forwarding.FORWARD) == []
    assert len(await inbound_from(session, teacher)) == 1  # kept all the same


async def test_someone_in_no_community_gets_the_help_reply(session: AsyncSession) -> None:
    w = await f.world(session)
    asked = await texts_in(session, w.outsider, QUESTION, morning())
    told = await reply_to(session, asked)
    assert told is not None and told.template == "unknown"
    assert await fresh(session, Message, col(Message.kind) == forwarding.FORWARD) == []


async def test_words_during_an_open_survey_answer_it_and_are_not_passed_on(
    session: AsyncSession,
) -> None:
    w, _ = await invited(session, Language.en)
    teacher = w.members[0]
    asked = await texts_in(session, teacher, "ok, I can answer now", f.now())
    assert await fresh(session, Message, col(Message.kind) == forwarding.FORWARD) == []
    first_question = await reply_to(session, asked)
    assert first_question is not None and first_question.kind == "survey"


async def test_a_flood_from_one_phone_does_not_fan_out(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forwarding, "MAX_FORWARDS_PER_HOUR", 4)
    w = await f.world(session)
    for name in ("Grace Wanjiru", "Peter Ouma"):
        await facilitating(session, w, name)
    teacher = await member(session, w, "Amina Mwangi")
    facilitators = [
        w.facilitator,
        *await fresh(session, Person, col(Person.name).in_(["Grace Wanjiru", "Peter Ouma"])),
    ]
    now = morning()
    replies = []
    for minute in range(0, 40, 10):
        replies.append(
            await texts_in(session, teacher, f"Question {minute}", now + timedelta(minutes=minute))
        )
        for facilitator in facilitators:  # every one answers, so no conversation waits
            await texts_in(
                session, facilitator, "TO Amina Noted", now + timedelta(minutes=minute + 5)
            )

    forwards = await fresh(session, Message, col(Message.kind) == forwarding.FORWARD)
    assert len(forwards) == 4  # three, then one; then none
    templates = [(await reply_to(session, r)) for r in replies]
    assert [t.template if t else None for t in templates] == [
        "forward_passed", "forward_passed", "forward_later", None,
    ]  # fmt: skip
    assert len(await inbound_from(session, teacher)) == 4


# --- TO: the facilitator answers ----------------------------------------------------------


async def answers(session: AsyncSession, teacher: Person) -> list[Message]:
    return await sent_to(session, teacher, forwarding.ANSWER)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    "written",
    ["{to} amina mwangi {text}", "{to} AMINA: {text}", "{to} Àmína {text}"],
    ids=["full name", "first name", "accents"],
)
async def test_to_by_name_goes_back_to_the_teacher_as_written(
    session: AsyncSession, language: Language, written: str
) -> None:
    w = await f.world(session)
    teacher = await member(session, w, "Amina Mwangi")
    await change(session, [w.facilitator], language=language)
    text = "It is in Block B, first floor."

    asked = await texts_in(
        session, w.facilitator, written.format(to=word(language, Keyword.to), text=text), morning()
    )

    [answer] = await answers(session, teacher)
    assert answer.params == {"name": w.facilitator.name, "text": text}
    assert text in shown(answer, w.programme)
    confirmation = await reply_to(session, asked)
    assert confirmation is not None
    assert (confirmation.template, confirmation.language) == ("to_sent", language)
    assert "Amina Mwangi" in shown(confirmation, w.programme)
    [entry] = await audit_of(session, "message.answer")
    assert (entry.actor, entry.object_id) == (f"person:{w.facilitator.id}", teacher.id)


@pytest.mark.parametrize(
    "number", ["{local}", "{e164}", "{spaced}"], ids=["0712…", "+254712…", "0712 345 678"]
)
async def test_to_by_number_in_any_format(session: AsyncSession, number: str) -> None:
    w = await f.world(session)
    teacher = w.members[0]
    assert teacher.phone is not None
    local = "0" + teacher.phone.removeprefix("+254")
    spaced = f"{local[:4]} {local[4:7]} {local[7:]}"
    typed = number.format(local=local, e164=teacher.phone, spaced=spaced)
    await texts_in(session, w.facilitator, f"TO {typed} See you Friday", morning())
    [answer] = await answers(session, teacher)
    assert answer.params is not None and answer.params["text"] == "See you Friday"


async def test_to_a_name_two_members_share_lists_them_and_sends_nothing(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    first = await member(session, w, "Amina Mwangi")
    second = await member(session, w, "Amina Otieno")
    asked = await texts_in(session, w.facilitator, "TO Amina See you", morning())
    reply = await reply_to(session, asked)
    assert reply is not None and reply.template == "to_ambiguous"
    assert reply.params == {"names": "Amina Mwangi, Amina Otieno"}
    assert await answers(session, first) == await answers(session, second) == []
    # The full name settles it.
    await texts_in(session, w.facilitator, "TO Amina Otieno See you", morning())
    assert len(await answers(session, second)) == 1 and await answers(session, first) == []


@pytest.mark.parametrize(
    ("written", "who"),
    [("TO Zebedee Hello", "Zebedee"), ("TO 0799 999 999 Hello", "0799 999 999")],
    ids=["unknown name", "unknown number"],
)
async def test_to_nobody_it_can_mean_is_a_clear_error(
    session: AsyncSession, written: str, who: str
) -> None:
    w = await f.world(session)
    asked = await texts_in(session, w.facilitator, written, morning())
    reply = await reply_to(session, asked)
    assert reply is not None and reply.params == {"who": who}
    assert reply.template == "to_unknown"
    assert await fresh(session, Message, col(Message.kind) == forwarding.ANSWER) == []


@pytest.mark.parametrize("by", ["name", "number"])
async def test_to_someone_outside_the_facilitators_communities_is_refused(
    session: AsyncSession, by: str
) -> None:
    w = await f.world(session)  # the outsider is "Not A Member", in the programme
    assert w.outsider.phone is not None
    typed = "Not A Member" if by == "name" else w.outsider.phone
    asked = await texts_in(session, w.facilitator, f"TO {typed} Hello", morning())
    reply = await reply_to(session, asked)
    assert reply is not None and reply.template == "to_unknown"
    assert await answers(session, w.outsider) == []


async def test_to_a_teacher_who_stopped_sms_is_not_sent(session: AsyncSession) -> None:
    w = await f.world(session)
    teacher = await member(session, w, "Amina Mwangi")
    await change(session, [teacher], opted_out_at=f.now())
    asked = await texts_in(session, w.facilitator, "TO Amina Hello", morning())
    reply = await reply_to(session, asked)
    assert reply is not None and reply.template == "to_cannot"
    assert await answers(session, teacher) == []


async def test_to_from_a_teacher_is_their_own_words_passed_on(session: AsyncSession) -> None:
    w = await f.world(session)
    teacher = w.members[0]
    await texts_in(session, teacher, "To be honest I may be late", morning())
    [forwarded] = await sent_to(session, w.facilitator, forwarding.FORWARD)
    assert forwarded.params is not None
    assert forwarded.params["text"] == "To be honest I may be late"
