"""Replying WHATSAPP (or WA) or SMS chooses the channel copline writes on, in any
language and case; WhatsApp chosen so is the person's opt-in; STOP stands."""

from __future__ import annotations

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Person
from service.models.enums import Channel, Language, Reach
from tests import factories as f
from tests.sms.conversation import audit_of, change, fresh, morning, reply_to, shown, texts_in


async def teacher(
    session: AsyncSession, language: Language = Language.en
) -> tuple[f.World, Person]:
    w = await f.world(session)
    person = w.members[0]
    await change(session, [person], language=language)
    return w, person


async def stored(session: AsyncSession, person: Person) -> Person:
    (found,) = await fresh(session, Person, Person.id == person.id)
    return found  # type: ignore[no-any-return]


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("text", ["WHATSAPP", "whatsapp", "WhatsApp", "Wa", " wa. "])
async def test_replying_whatsapp_switches_to_whatsapp_with_the_opt_in_and_confirms(
    session: AsyncSession, language: Language, text: str
) -> None:
    w, person = await teacher(session, language)
    sent = await texts_in(session, person, text, morning())
    now_stored = await stored(session, person)
    assert now_stored.reach is Reach.whatsapp and now_stored.whatsapp_opt_in_at is not None
    (entry,) = await audit_of(session, "person.reach")
    assert entry.channel is Channel.sms and entry.object_id == person.id
    reply = await reply_to(session, sent)
    assert reply is not None and reply.template == "reach_whatsapp"
    assert reply.language is language
    assert "WhatsApp" in shown(reply, w.programme)


@pytest.mark.parametrize("language", list(Language))
async def test_replying_sms_switches_back_and_keeps_the_opt_in_history(
    session: AsyncSession, language: Language
) -> None:
    w, person = await teacher(session, language)
    await texts_in(session, person, "WHATSAPP", morning())
    opted = (await stored(session, person)).whatsapp_opt_in_at
    sent = await texts_in(session, person, "sms", morning())
    back = await stored(session, person)
    assert back.reach is Reach.sms and back.whatsapp_opt_in_at == opted is not None
    reply = await reply_to(session, sent)
    assert reply is not None and reply.template == "reach_sms" and reply.language is language
    assert "WHATSAPP" in shown(reply, w.programme)


@pytest.mark.parametrize("text", ["SMS yako haijafika", "WA 4821", "whatsapp group link please"])
async def test_a_sentence_that_begins_with_the_word_is_not_a_choice(
    session: AsyncSession, text: str
) -> None:
    _, person = await teacher(session, Language.sw)
    sent = await texts_in(session, person, text, morning())
    assert (await stored(session, person)).reach is Reach.sms
    assert await audit_of(session, "person.reach") == []
    reply = await reply_to(session, sent)
    assert reply is None or not (reply.template or "").startswith("reach_")


async def test_someone_who_sent_stop_may_choose_whatsapp_but_stop_stands_and_nothing_is_sent(
    session: AsyncSession,
) -> None:
    _, person = await teacher(session)
    await texts_in(session, person, "STOP", morning())
    sent = await texts_in(session, person, "WHATSAPP", morning())
    after = await stored(session, person)
    assert after.reach is Reach.whatsapp and after.opted_out_at is not None
    assert await reply_to(session, sent) is None
