"""Whatever a network or a handset sends as `text`, the answer is a valid screen, written once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.app import create_app
from service.config import Settings
from service.db import SessionFactory
from service.gsm7 import is_gsm7, septets
from service.models import AuditEntry, UssdAction
from tests import factories as f

TOKEN = "dev-callback-token"
KEYS = st.sampled_from(
    ["1", "2", "3", "4", "5", "6", "0", "00", "98", "", " ", "**", "99", "1234", "0000"]
)
PART = st.one_of(KEYS, st.text(max_size=25), st.text(alphabet="0123456789", max_size=8))
TEXT = st.one_of(st.lists(PART, max_size=10).map("*".join), st.text(max_size=300))
FEW = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@dataclass(frozen=True)
class Setup:
    client: httpx.AsyncClient
    service_code: str
    member_phone: str
    member_id: int

    def form(self, who: str, text: str, session_id: str) -> dict[str, str]:
        phone = self.member_phone if who == "member" else "+254799000111"
        return {
            "sessionId": session_id,
            "serviceCode": self.service_code,
            "phoneNumber": phone,
            "text": text,
        }


@pytest_asyncio.fixture
async def setup(
    settings: Settings, sessions: SessionFactory, session: AsyncSession
) -> AsyncIterator[Setup]:
    w = await f.world(session)
    member = w.members[0]
    assert member.phone is not None and member.id is not None
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://at.test"
    ) as client:
        yield Setup(client, w.programme.service_code, member.phone, member.id)
    await app.state.services.engine.dispose()


@FEW
@given(text=TEXT, who=st.sampled_from(["member", "stranger"]))
async def test_any_text_gets_a_valid_screen(setup: Setup, text: str, who: str) -> None:
    response = await setup.client.post(f"/at/{TOKEN}/ussd", data=setup.form(who, text, "prop"))
    if any(ch not in "\n\r" and (ch < " " or ch == "\x7f") for ch in text):
        # No handset types a control character other than a line break: not AT's.
        assert response.status_code == 400 and "text" in response.text
        return
    assert response.status_code == 200
    kind, body = response.text[:4], response.text[4:]
    assert kind in ("CON ", "END ")
    assert body and is_gsm7(body) and septets(body) <= 160, body
    assert "{" not in body


@settings(FEW, max_examples=40)
@given(
    path=st.lists(st.sampled_from(["1", "2", "3", "98", "0"]), min_size=1, max_size=5),
    n=st.integers(0, 10**9),
)
async def test_replaying_a_hop_never_writes_twice(
    setup: Setup, session: AsyncSession, path: list[str], n: int
) -> None:
    text = "*".join(path)
    session_id = f"replay-{n}-{text}"
    changes = (
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.actor == f"person:{setup.member_id}")
    )
    await session.rollback()
    before = (await session.exec(changes)).one()
    answers = [
        (
            await setup.client.post(
                f"/at/{TOKEN}/ussd", data=setup.form("member", text, session_id)
            )
        ).text
        for _ in range(3)
    ]
    assert answers[0] == answers[1] == answers[2]
    await session.rollback()
    actions = (
        select(func.count()).select_from(UssdAction).where(UssdAction.session_id == session_id)
    )
    assert (await session.exec(actions)).one() <= 1
    # Three tries of one hop make one change at most.
    assert (await session.exec(changes)).one() - before <= 1
