"""A facilitator's MSG and WHO by SMS, in every language: the members get the
facilitator's own words; WHO counts the answers and names who has not replied, in
one SMS."""

from __future__ import annotations

import re

import pytest
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import outbox
from service.domain.actor import Actor
from service.domain.attendance import record_rsvp
from service.domain.communities import add_member
from service.domain.segments import measure
from service.models import Attendance, Message
from service.models.enums import Channel, Encoding, Language, MembershipRole, Presence, Rsvp
from sms.keywords import Keyword
from tests import factories as f
from tests.sms.conversation import (
    TEXTS,
    audit_of,
    change,
    fresh,
    morning,
    reply_to,
    sent_to,
    shown,
    texts_in,
    word,
)

LANGUAGES = list(Language)


async def broadcasts(session: AsyncSession) -> list[Message]:
    return await fresh(session, Message, col(Message.kind) == outbox.BROADCAST)


# --- MSG ------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
async def test_msg_from_a_facilitator_reaches_the_members_in_their_own_words(
    session: AsyncSession, language: Language
) -> None:
    w = await f.world(session)
    stopped, reachable = w.members
    await change(session, [w.facilitator], language=language)
    await change(session, [stopped], opted_out_at=f.now())
    no_phone = await f.person(session, w.programme, name="Paper Only", phone=None)
    assert no_phone.id is not None and w.community.id is not None
    await add_member(w.pid, w.community.id, no_phone.id, session=session, actor=f.OPERATOR)
    await session.commit()
    words = "Leteni vitabu vya Darasa la 4 - asanteni!"

    asked = await texts_in(
        session, w.facilitator, f"{word(language, Keyword.msg)} {w.meeting.code} {words}", morning()
    )

    [out] = await broadcasts(session)
    assert (out.person_id, out.body, out.template) == (reachable.id, words, None)
    assert out.community_id == w.community.id
    confirmation = await reply_to(session, asked)
    assert confirmation is not None
    assert (confirmation.template, confirmation.language) == ("msg_sent", language)
    assert " 1 " in f" {shown(confirmation, w.programme)} ".replace(".", " ")
    assert w.meeting.code in shown(confirmation, w.programme)
    [entry] = await audit_of(session, "community.broadcast")
    assert entry.actor == f"person:{w.facilitator.id}" and entry.channel is Channel.sms


async def test_msg_in_quiet_hours_waits_and_the_facilitator_is_told_until_when(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    evening = morning().replace(hour=21)
    asked = await texts_in(session, w.facilitator, f"MSG {w.meeting.code} Karibuni", evening)
    confirmation = await reply_to(session, asked)
    assert confirmation is not None and confirmation.template == "msg_held"
    assert "07:00" in shown(confirmation, w.programme)
    assert {m.send_after for m in await broadcasts(session)} == {morning(2).replace(hour=7)}


@pytest.mark.parametrize("language", LANGUAGES)
async def test_msg_from_a_member_is_refused_in_their_language(
    session: AsyncSession, language: Language
) -> None:
    w = await f.world(session)
    member = w.members[0]
    await change(session, [member], language=language)
    asked = await texts_in(
        session, member, f"{word(language, Keyword.msg)} {w.meeting.code} Hello all", morning()
    )
    refusal = await reply_to(session, asked)
    assert refusal is not None
    assert (refusal.template, refusal.language) == ("not_facilitator", language)
    assert w.meeting.code in shown(refusal, w.programme)
    assert await broadcasts(session) == []


@pytest.mark.parametrize(
    ("text", "template"),
    [("MSG 99999 Hello", "unknown_code"), ("MSG {code}", "msg_usage"), ("MSG", "msg_usage")],
    ids=["no meeting with that code", "no text", "no code"],
)
async def test_msg_that_names_no_meeting_or_says_nothing_sends_nothing(
    session: AsyncSession, text: str, template: str
) -> None:
    w = await f.world(session)
    asked = await texts_in(session, w.facilitator, text.format(code=w.meeting.code), morning())
    answer = await reply_to(session, asked)
    assert answer is not None and answer.template == template
    assert await broadcasts(session) == []


# --- WHO ------------------------------------------------------------------------------


async def answer(session: AsyncSession, w: f.World, person_id: int | None, rsvp: Rsvp) -> None:
    assert person_id is not None and w.meeting.id is not None
    await record_rsvp(
        w.pid, w.meeting.id, person_id, rsvp, session=session,
        actor=Actor.person(person_id, Channel.sms),
    )  # fmt: skip


@pytest.mark.parametrize("language", LANGUAGES)
async def test_who_counts_the_answers_and_names_who_has_not_replied(
    session: AsyncSession, language: Language
) -> None:
    w = await f.world(session)
    assert w.community.id is not None
    await change(session, [w.facilitator], language=language)
    coming, away = w.members
    silent = []
    for name in ("Zawadi Otieno", "Brian Kiprop"):
        person = await f.person(session, w.programme, name=name)
        assert person.id is not None
        await add_member(w.pid, w.community.id, person.id, session=session, actor=f.OPERATOR)
        silent.append(person)
    await answer(session, w, coming.id, Rsvp.yes)
    await answer(session, w, away.id, Rsvp.no)
    [attendance] = await fresh(session, Attendance, col(Attendance.person_id) == coming.id)
    attendance.presence = Presence.present
    session.add(attendance)
    await session.commit()

    asked = await texts_in(
        session, w.facilitator, f"{word(language, Keyword.who)} {w.meeting.code}", morning()
    )

    reply = await reply_to(session, asked)
    assert reply is not None and (reply.template, reply.language) == ("who", language)
    assert reply.params is not None
    counts = {k: reply.params[k] for k in ("yes", "no", "waiting", "present")}
    assert counts == {"yes": 1, "no": 1, "waiting": 2, "present": 1}
    text = shown(reply, w.programme)
    assert text.endswith("Brian, Zawadi")  # first names, by name
    assert "Coach" not in text  # the facilitator runs the meeting, and is not counted


async def test_who_when_everyone_replied_says_so(session: AsyncSession) -> None:
    w = await f.world(session)
    for member in w.members:
        await answer(session, w, member.id, Rsvp.yes)
    await session.commit()
    asked = await texts_in(session, w.facilitator, f"WHO {w.meeting.code}", morning())
    reply = await reply_to(session, asked)
    assert reply is not None and reply.template == "who_all"
    assert reply.params is not None and (reply.params["yes"], reply.params["no"]) == (2, 0)


LONG_FIRST_NAMES = ["Jean-Baptiste", "Bernadette", "Immaculee", "Christophe", "Emmanuella"]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("first_sms", [True, False], ids=["with the opt-out line", "later"])
async def test_who_with_many_members_fits_one_sms_and_counts_the_names_left_out(
    session: AsyncSession, language: Language, first_sms: bool
) -> None:
    w = await f.world(session)
    assert w.community.id is not None
    told = None if first_sms else f.now()
    await change(session, [w.facilitator], language=language, told_how_to_stop_at=told)
    for n in range(40):
        name = f"{LONG_FIRST_NAMES[n % 5]} Nyirahabimana-{n:02d}"
        person = await f.person(session, w.programme, name=name)
        assert person.id is not None
        await add_member(w.pid, w.community.id, person.id, session=session, actor=f.OPERATOR)
    await session.commit()

    asked = await texts_in(
        session, w.facilitator, f"{word(language, Keyword.who)} {w.meeting.code}", morning()
    )

    reply = await reply_to(session, asked)
    assert reply is not None and reply.params is not None
    text = shown(reply, w.programme, footer=first_sms)
    size = measure(text)
    assert (size.encoding, size.segments) == (Encoding.gsm7, 1), text
    shown_names, left_out = split_more(str(reply.params["names"]))
    assert len(shown_names) + left_out == reply.params["waiting"] == 42
    assert shown_names == sorted(shown_names)  # by name, first names only
    assert all(" " not in name for name in shown_names)
    # As many as fit: one more name, and the SMS would take two.
    one_more = ", ".join([*shown_names, shown_names[-1]])
    one_more += " " + TEXTS.render("who_more", language, {"count": left_out - 1}, timezone="UTC")
    longer = TEXTS.render(
        "who", language, reply.params | {"names": one_more}, timezone="UTC", footer=first_sms
    )
    assert measure(longer).segments == 2


def split_more(names: str) -> tuple[list[str], int]:
    """ "Bernadette, Christophe +38 more" → (["Bernadette", "Christophe"], 38)."""
    found = re.fullmatch(r"(?:(?P<listed>.*) )?\+(?P<more>\d+) \S+", names)
    assert found is not None, names
    listed = found.group("listed")
    return (listed.split(", ") if listed else []), int(found.group("more"))


async def test_who_from_a_member_is_refused(session: AsyncSession) -> None:
    w = await f.world(session)
    asked = await texts_in(session, w.members[0], f"WHO {w.meeting.code}", morning())
    refusal = await reply_to(session, asked)
    assert refusal is not None and refusal.template == "not_facilitator"


async def test_who_from_a_facilitator_of_another_community_is_refused(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    other = await f.community(session, w.programme, code="CLUSTER-2")
    assert other.id is not None and w.outsider.id is not None
    await add_member(
        w.pid, other.id, w.outsider.id, role=MembershipRole.facilitator,
        session=session, actor=f.OPERATOR,
    )  # fmt: skip
    await session.commit()
    asked = await texts_in(session, w.outsider, f"WHO {w.meeting.code}", morning())
    refusal = await reply_to(session, asked)
    assert refusal is not None and refusal.template == "not_facilitator"
    assert await sent_to(session, w.outsider, outbox.BROADCAST) == []


async def test_a_word_like_who_from_a_member_without_a_code_is_their_own_question(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    asked = await texts_in(session, w.members[0], "Who is bringing the chalk?", morning())
    told = await reply_to(session, asked)
    assert told is not None and told.template == "forward_passed"
    [forwarded] = await sent_to(session, w.facilitator, "forward")
    assert forwarded.params is not None
    assert forwarded.params["text"] == "Who is bringing the chalk?"
