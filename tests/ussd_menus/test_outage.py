"""USSD while PostgreSQL refuses new connections: the real driver, a database of our own.

The shared test database is left alone: each test here makes a database (and a role)
of its own, makes PostgreSQL refuse it, and drives the HTTP callback as Africa's
Talking does.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from service import migrate
from service.app import create_app
from service.config import Settings
from service.db import build_engine, build_session_factory
from service.models.enums import Language
from tests import factories as f
from tests.databases import fresh_postgres_database, postgres_admin_url
from ussd_menus.catalog import Catalog
from ussd_menus.phone import Phone

pytestmark = pytest.mark.postgres

TOKEN = "dev-callback-token"
OUTAGE = "END " + Catalog.load().text(Language.sw, "common.outage")


async def admin(*statements: str) -> None:
    engine = create_async_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


@dataclass
class Refusing:
    """A migrated database with a world in it, the app on it, and a way to refuse it."""

    database: str
    role: str
    client: httpx.AsyncClient
    world: f.World

    def phone(self) -> Phone:
        assert self.world.members[0].phone is not None
        return Phone(
            self.client,
            number=self.world.members[0].phone,
            service_code=self.world.programme.service_code,
            token=TOKEN,
        )

    async def not_allowed(self) -> None:
        """As while the database is being restored or dropped: no new connection at all."""
        await admin(
            f'ALTER DATABASE "{self.database}" WITH ALLOW_CONNECTIONS false',
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{self.database}'",
        )

    async def too_many(self) -> None:
        """As when every connection slot is taken: `too many connections`."""
        await admin(
            f'ALTER ROLE "{self.role}" CONNECTION LIMIT 0',
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{self.role}'",
        )

    async def back(self) -> None:
        await admin(
            f'ALTER DATABASE "{self.database}" WITH ALLOW_CONNECTIONS true',
            f'ALTER ROLE "{self.role}" CONNECTION LIMIT -1',
        )


@pytest_asyncio.fixture
async def refusing() -> AsyncIterator[Refusing]:
    url = await fresh_postgres_database("copline_refusing")
    database = make_url(url).database or ""
    role = os.environ.get("COPLINE_TEST_DB_PREFIX", "") + "copline_refused"
    await admin(
        f'DROP ROLE IF EXISTS "{role}"',
        f'CREATE ROLE "{role}" LOGIN IN ROLE pg_read_all_data, pg_write_all_data',
    )
    owner = build_engine(Settings(database_url=url, _env_file=None))
    await migrate.upgrade(owner)
    async with build_session_factory(owner)() as session:
        w = await f.world(session)
        await session.commit()
    await owner.dispose()
    # The app connects as a role of its own, so that its connection limit can run out.
    settings = Settings(
        database_url=make_url(url).set(username=role).render_as_string(hide_password=False),
        at_simulator=False,
        _env_file=None,
    )
    app = create_app(settings)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://at.test"
        ) as client:
            yield Refusing(database, role, client, w)
    finally:
        await app.state.services.engine.dispose()
        await admin(
            f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true',
            f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
            f'DROP ROLE IF EXISTS "{role}"',
        )


REFUSALS: dict[str, Callable[[Refusing], Awaitable[None]]] = {
    "connections not allowed": Refusing.not_allowed,
    "too many connections": Refusing.too_many,
}


async def hop(r: Refusing, session_id: str, inputs: str) -> httpx.Response:
    assert r.world.members[0].phone is not None
    form = {
        "sessionId": session_id,
        "serviceCode": r.world.programme.service_code,
        "phoneNumber": r.world.members[0].phone,
        "networkCode": "63902",
        "text": inputs,
    }
    return await r.client.post(f"/at/{TOKEN}/ussd", data=form)


@pytest.mark.parametrize("refusal", list(REFUSALS))
async def test_while_postgresql_refuses_connections_every_hop_ends_politely_then_works_again(
    refusing: Refusing, refusal: str
) -> None:
    before = await hop(refusing, "ATUid_before", "1")  # the pool holds a connection now
    assert before.text.startswith("CON ")

    await REFUSALS[refusal](refusing)
    for session_id, inputs in [
        ("ATUid_before", "1*1"),  # mid-session: a meeting's details
        ("ATUid_before", "1*1*1"),  # a write: "I will attend"
        ("ATUid_new", ""),  # a fresh dial
    ]:
        response = await hop(refusing, session_id, inputs)
        assert (response.status_code, response.text) == (200, OUTAGE), inputs

    await refusing.back()
    teacher = refusing.phone()
    assert (await teacher.dial()).startswith("Habari")  # the app was not left broken
    await teacher.press("1")
    assert refusing.world.meeting.code in await teacher.press("1")


async def test_session_tracking_waits_out_an_outage_instead_of_dropping_its_batch(
    refusing: Refusing,
) -> None:
    teacher = refusing.phone()
    await teacher.dial()
    transport = refusing.client._transport
    assert isinstance(transport, httpx.ASGITransport)
    tracker = transport.app.state.ussd.tracker  # type: ignore[attr-defined]
    assert teacher.session_id in tracker.pending

    await refusing.not_allowed()
    with pytest.raises(DBAPIError):
        await tracker.flush()
    assert tracker.skipped == 0 and teacher.session_id in tracker.pending

    await refusing.back()
    assert await tracker.flush() == 1
