"""The sender against a PostgreSQL that goes away: through a proxy that cuts every
connection and refuses new ones, with the real driver on the other side."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from sqlalchemy import make_url
from sqlmodel.ext.asyncio.session import AsyncSession

from service.config import Settings
from service.db import SessionFactory, build_engine, build_session_factory
from service.models.enums import MessageStatus
from sms.sender import Sender, SendPolicy
from tests.faults.proxy import FaultyProxy
from tests.sms.outbox import TEXTS, Script, queued_world, rows


@pytest_asyncio.fixture
async def database_proxy(settings: Settings) -> AsyncIterator[tuple[FaultyProxy, SessionFactory]]:
    """Sessions whose every connection goes through a proxy the test can cut."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite has no connection to cut")
    url = make_url(settings.database_url)
    proxy = await FaultyProxy(url.host or "127.0.0.1", url.port or 5432).start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    engine = build_engine(settings.model_copy(update={"database_url": proxied}))
    yield proxy, build_session_factory(engine)
    await engine.dispose()
    await proxy.stop()


def outage(proxy: FaultyProxy, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
    """From the sending thread: the database goes down now and is back after `seconds`."""

    async def down_for_a_while() -> None:
        await proxy.refuse()
        await asyncio.sleep(seconds)
        await proxy.resume()

    back = asyncio.run_coroutine_threadsafe(down_for_a_while(), loop)
    while not proxy.down:  # the answer comes back only once the database is gone
        if back.done():
            back.result()
        threading.Event().wait(0.01)


async def test_ids_in_hand_are_stored_once_the_database_is_back(
    session: AsyncSession,
    sessions: SessionFactory,
    database_proxy: tuple[FaultyProxy, SessionFactory],
) -> None:
    _, clock = await queued_world(session, members=4)
    proxy, cut_sessions = database_proxy
    loop = asyncio.get_running_loop()
    # AT takes the batch; while its answer comes back the database goes away for 2 s.
    gateway = Script(during=lambda: outage(proxy, loop, 2.0))
    sender = Sender(
        cut_sessions, gateway, TEXTS, policy=SendPolicy(store_retry_cap_s=0.3), clock=clock
    )

    report = await sender.send_due()

    assert report.sent == 5 and len(gateway.requests) == 1
    stored = await rows(sessions)
    assert {r.status for r in stored} == {MessageStatus.sent}
    assert all(r.provider_id and r.provider_id.startswith("ATXid_") for r in stored)


async def test_a_batch_the_database_would_not_let_go_out_waits_and_goes_once(
    session: AsyncSession,
    sessions: SessionFactory,
    database_proxy: tuple[FaultyProxy, SessionFactory],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, clock = await queued_world(session, members=4)
    proxy, cut_sessions = database_proxy
    policy = SendPolicy(lease=timedelta(seconds=30))
    # Claimed and rendered, then the database goes before the hand-over is written,
    # and comes back a second later.
    cut = Sender(cut_sessions, Script(), TEXTS, policy=policy, clock=clock)
    original = cut._send
    back: list[asyncio.Task[None]] = []

    async def back_in_a_second() -> None:
        await asyncio.sleep(1.0)
        await proxy.resume()

    async def down_first(*args: object) -> None:
        await proxy.refuse()
        back.append(asyncio.create_task(back_in_a_second()))
        return await original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(cut, "_send", down_first)
    report = await cut.send_due()
    await asyncio.gather(*back)
    assert (report.claimed, report.sent, report.released) == (5, 0, 5)
    assert cut.gateway.requests == []  # type: ignore[attr-defined]
    # Given back as soon as the database answered: not left for the lease to run out.
    assert {(r.status, r.handed_at) for r in await rows(sessions)} == {(MessageStatus.queued, None)}

    gateway = Script()
    again = await Sender(sessions, gateway, TEXTS, policy=policy, clock=clock).send_due()
    assert (again.requeued, again.sent) == (0, 5)
    assert len(gateway.sent_to()) == 5
