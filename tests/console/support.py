"""Signing in to the console in-process, as a browser would: forms, cookies, the SMS code."""

from __future__ import annotations

import re

import httpx
from sqlmodel import col, select

from service.db import SessionFactory
from service.models import Message, Person
from service.models.enums import ConsoleRole

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


async def grant(sessions: SessionFactory, person: Person, role: ConsoleRole) -> None:
    async with sessions() as session:
        stored = await session.get(Person, person.id)
        assert stored is not None
        stored.console_role = role
        await session.commit()


async def last_code(sessions: SessionFactory, phone: str) -> str | None:
    """The code in the newest sign-in SMS queued to `phone` (what the phone would get)."""
    async with sessions() as session:
        stmt = (
            select(Message)
            .where(col(Message.phone) == phone, col(Message.kind) == "sign_in")
            .order_by(col(Message.id).desc())
        )
        message = (await session.exec(stmt)).first()
    return None if message is None else str((message.params or {})["code"])


async def ask_code(client: httpx.AsyncClient, phone: str) -> httpx.Response:
    form = await client.get("/sign-in")
    return await client.post("/sign-in", data={"phone": phone, "csrf": csrf_of(form.text)})


async def enter_code(client: httpx.AsyncClient, code: str) -> httpx.Response:
    form = await client.get("/sign-in/code")
    return await client.post("/sign-in/code", data={"code": code, "csrf": csrf_of(form.text)})


async def sign_in(client: httpx.AsyncClient, sessions: SessionFactory, person: Person) -> str:
    """Sign `person` in on `client`; returns the overview's HTML."""
    assert person.phone is not None
    asked = await ask_code(client, person.phone)
    assert asked.status_code == 303, asked.text
    code = await last_code(sessions, person.phone)
    assert code is not None
    entered = await enter_code(client, code)
    assert entered.status_code == 303, entered.text
    home = await client.get(entered.headers["location"])
    assert home.status_code == 200
    return home.text
