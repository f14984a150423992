"""Signing in: a code by SMS to a known number, one use, few tries, the same answer for all."""

from __future__ import annotations

import html
from datetime import timedelta

import httpx
import pytest
from sqlmodel import col, select

from service.db import SessionFactory
from service.models import AuditEntry, ConsoleSession, Message, SignInCode
from service.models.enums import ConsoleRole, MessageStatus
from tests import factories
from tests.console.support import ask_code, csrf_of, enter_code, grant, last_code, sign_in


@pytest.fixture
async def world(sessions: SessionFactory) -> factories.World:
    async with sessions() as session:
        made = await factories.world(session)
    await grant(sessions, made.facilitator, ConsoleRole.facilitator)
    return made


async def test_a_stranger_is_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/?district=Kisumu")
    assert page.status_code == 303
    assert page.headers["location"] == "/sign-in?next=%2F%3Fdistrict%3DKisumu"


async def test_the_code_arrives_by_sms_and_opens_the_console(
    client: httpx.AsyncClient, sessions: SessionFactory, world: factories.World
) -> None:
    home = await sign_in(client, sessions, world.facilitator)
    assert "Coach Achieng" in home
    cookie = client.cookies.get("copline_session")
    assert cookie is not None
    async with sessions() as session:
        stored = (await session.exec(select(ConsoleSession))).one()
        message = (await session.exec(select(Message).where(Message.kind == "sign_in"))).one()
        audit = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "console.sign_in"))
        ).one()
    assert cookie not in stored.token_hash  # only a hash of the token is kept
    assert message.send_after is None or message.send_after <= message.created_at  # no quiet hours
    assert audit.actor == f"person:{world.facilitator.id}"


async def test_a_code_is_single_use(
    client: httpx.AsyncClient, sessions: SessionFactory, world: factories.World
) -> None:
    assert world.facilitator.phone is not None
    await sign_in(client, sessions, world.facilitator)
    code = await last_code(sessions, world.facilitator.phone)
    assert code is not None
    other = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    async with other:
        await ask_code(other, world.facilitator.phone)  # asking again retires the old code
        again = await enter_code(other, code)
    assert again.status_code == 422
    assert "wrong, used or expired" in again.text


async def test_five_wrong_tries_spend_the_code(
    client: httpx.AsyncClient, sessions: SessionFactory, world: factories.World
) -> None:
    assert world.facilitator.phone is not None
    await ask_code(client, world.facilitator.phone)
    code = await last_code(sessions, world.facilitator.phone)
    assert code is not None
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert (await enter_code(client, wrong)).status_code == 422
    right = await enter_code(client, code)
    assert right.status_code == 422  # even the right code is refused now
    assert client.cookies.get("copline_session") is None


async def test_an_unknown_number_gets_the_same_answer_and_no_sms(
    client: httpx.AsyncClient, sessions: SessionFactory, world: factories.World
) -> None:
    assert world.members[0].phone is not None and world.facilitator.phone is not None
    unknown = await ask_code(client, world.members[0].phone)  # a teacher: no console role
    known = await ask_code(client, world.facilitator.phone)
    assert unknown.status_code == known.status_code == 303
    assert unknown.headers["location"] == known.headers["location"]
    assert await last_code(sessions, world.members[0].phone) is None
    code_page = await client.get("/sign-in/code")
    assert "If this number may use copline" in code_page.text


async def test_codes_are_stored_hashed_and_expire_after_ten_minutes(
    client: httpx.AsyncClient, sessions: SessionFactory, world: factories.World
) -> None:
    assert world.facilitator.phone is not None
    await ask_code(client, world.facilitator.phone)
    code = await last_code(sessions, world.facilitator.phone)
    async with sessions() as session:
        row = (
            await session.exec(
                select(SignInCode).where(col(SignInCode.phone) == world.facilitator.phone)
            )
        ).one()
        assert code is not None and code not in row.code_hash
        assert row.expires_at - row.created_at == timedelta(minutes=10)
        row.expires_at = row.created_at  # ten minutes later
        await session.commit()
    assert code is not None
    assert (await enter_code(client, code)).status_code == 422


async def test_a_bad_number_is_explained_in_the_readers_language(
    client: httpx.AsyncClient, world: factories.World
) -> None:
    form = await client.get("/sign-in", headers={"Accept-Language": "fr"})
    answer = await client.post(
        "/sign-in",
        data={"phone": "12ab", "csrf": csrf_of(form.text)},
        headers={"Accept-Language": "fr"},
    )
    assert answer.status_code == 422
    assert "Ce n'est pas un numéro de mobile" in html.unescape(answer.text)
    assert 'value="12ab"' in answer.text  # what they typed stays in the box


async def test_too_many_codes_for_one_number_are_refused(
    client: httpx.AsyncClient, sessions: SessionFactory, world: factories.World
) -> None:
    assert world.facilitator.phone is not None
    answers = [(await ask_code(client, world.facilitator.phone)).status_code for _ in range(4)]
    assert answers == [303, 303, 303, 429]
    async with sessions() as session:
        sent = (await session.exec(select(Message).where(Message.kind == "sign_in"))).all()
    assert len(sent) == 3


async def test_a_form_without_its_token_is_refused(
    client: httpx.AsyncClient, sessions: SessionFactory, world: factories.World
) -> None:
    await client.get("/sign-in")
    assert world.facilitator.phone is not None
    answer = await client.post("/sign-in", data={"phone": world.facilitator.phone})
    assert answer.status_code == 403
    await sign_in(client, sessions, world.facilitator)
    forged = await client.post("/sign-out", data={"csrf": "not-the-token"})
    assert forged.status_code == 403
    from_elsewhere = await client.post(
        "/sign-out",
        data={"csrf": csrf_of((await client.get("/")).text)},
        headers={"Origin": "https://evil.example"},
    )
    assert from_elsewhere.status_code == 403
    assert (await client.get("/")).status_code == 200  # still signed in


async def test_signing_out_ends_the_session(
    client: httpx.AsyncClient, sessions: SessionFactory, world: factories.World
) -> None:
    home = await sign_in(client, sessions, world.facilitator)
    token = client.cookies.get("copline_session")
    out = await client.post("/sign-out", data={"csrf": csrf_of(home)})
    assert out.status_code == 303
    client.cookies.set("copline_session", token or "")
    assert (await client.get("/")).status_code == 303  # the old cookie opens nothing


async def test_an_idle_session_expires(
    client: httpx.AsyncClient, sessions: SessionFactory, world: factories.World
) -> None:
    await sign_in(client, sessions, world.facilitator)
    async with sessions() as session:
        row = (await session.exec(select(ConsoleSession))).one()
        row.last_seen_at = row.last_seen_at - timedelta(minutes=31)
        await session.commit()
    assert (await client.get("/")).status_code == 303


async def test_the_code_is_hidden_in_the_message_log_once_sent(
    client: httpx.AsyncClient, sessions: SessionFactory, world: factories.World
) -> None:
    from sms.claims import Claimed, store

    assert world.facilitator.phone is not None
    await ask_code(client, world.facilitator.phone)
    code = await last_code(sessions, world.facilitator.phone)
    assert code is not None
    async with sessions() as session:
        message = (await session.exec(select(Message).where(Message.kind == "sign_in"))).one()
        assert message.id is not None
        row = Claimed(
            id=message.id, programme_id=message.programme_id, person_id=message.person_id,
            meeting_id=None, community_id=None, kind="sign_in", phone=message.phone,
            template=message.template, params=message.params, language=message.language,
            body=None, attempts=1, token="t",
        )  # fmt: skip
        message.claim_token = "t"
        await session.commit()
        row.values = {"status": MessageStatus.sent, "body": f"Your code is {code}."}
        await store(session, [row], factories.now())
        await session.commit()
        session.expire_all()
        stored = await session.get(Message, row.id)
    assert stored is not None and stored.body is not None
    assert code not in stored.body and code not in str(stored.params)
    assert "******" in stored.body
