"""On PostgreSQL a web instance hears attendance changes other processes commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import build_session_factory
from service.events import AttendanceHub, notification_payloads, parse_notification
from service.listening import listen
from service.models import Attendance
from service.models.enums import Rsvp
from tests import factories as f


@pytest.fixture
def postgres(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; on SQLite one process serves")
    return database_url


class Listening:
    def __init__(self, hub: AttendanceHub, ready: asyncio.Event) -> None:
        self.hub, self.ready = hub, ready


@pytest_asyncio.fixture
async def instance(postgres: str) -> AsyncIterator[Listening]:
    """An instance named "this", listening."""
    hub, stop, ready = AttendanceHub(), asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(listen(postgres, hub, "this", stop, listening=ready))
    await asyncio.wait_for(ready.wait(), 10)
    yield Listening(hub, ready)
    stop.set()
    await asyncio.wait_for(task, 10)


async def rsvp(engine: AsyncEngine, world: f.World, *, commit: bool, name: str = "worker") -> None:
    """Another process (a worker: no hub of its own) marks an RSVP."""
    meeting_id, person_id = world.meeting.id, world.members[0].id
    assert meeting_id is not None and person_id is not None
    async with build_session_factory(engine, instance=name)() as other:
        other.add(Attendance(meeting_id=meeting_id, person_id=person_id, rsvp=Rsvp.yes))
        await other.flush()
        if commit:
            await other.commit()
        else:
            await other.rollback()


async def next_meeting(queue: asyncio.Queue[int], within_s: float = 2.0) -> int | None:
    try:
        return await asyncio.wait_for(queue.get(), within_s)
    except TimeoutError:
        return None


async def test_another_process_s_committed_change_reaches_this_instance_s_subscribers(
    instance: Listening, engine: AsyncEngine, session: AsyncSession
) -> None:
    world = await f.world(session)
    async with instance.hub.subscribe(world.meeting.id or 0) as queue:
        await rsvp(engine, world, commit=True)
        assert await next_meeting(queue) == world.meeting.id


async def test_a_rolled_back_change_is_never_heard(
    instance: Listening, engine: AsyncEngine, session: AsyncSession
) -> None:
    world = await f.world(session)
    async with instance.hub.subscribe(world.meeting.id or 0) as queue:
        await rsvp(engine, world, commit=False)
        assert await next_meeting(queue, within_s=1.0) is None


async def test_an_instance_skips_its_own_notifications_it_has_published_already(
    instance: Listening, engine: AsyncEngine, session: AsyncSession
) -> None:
    world = await f.world(session)
    async with instance.hub.subscribe(world.meeting.id or 0) as queue:
        await rsvp(engine, world, commit=True, name="this")
        assert await next_meeting(queue, within_s=1.0) is None


async def test_a_lost_connection_is_opened_again_and_screens_read_the_state_afresh(
    instance: Listening, engine: AsyncEngine, session: AsyncSession
) -> None:
    world = await f.world(session)
    async with instance.hub.subscribe(world.meeting.id or 0) as queue:
        await session.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN%' AND datname = current_database()"
            )
        )
        # Back, and every subscribed meeting published once: a change made while it
        # was away would otherwise be missed.
        assert await next_meeting(queue, within_s=10) == world.meeting.id
        await asyncio.wait_for(instance.ready.wait(), 10)
        await rsvp(engine, world, commit=True)
        assert await next_meeting(queue) == world.meeting.id


def test_a_big_change_is_split_under_postgresql_s_payload_limit() -> None:
    payloads = notification_payloads("web-1/42/ab", set(range(1, 5001)))
    assert all(len(p.encode()) < 8000 for p in payloads)
    heard = [i for p in payloads for i in parse_notification(p)[1]]
    assert heard == list(range(1, 5001))
    assert {parse_notification(p)[0] for p in payloads} == {"web-1/42/ab"}
