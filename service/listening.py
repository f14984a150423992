"""A web instance hears the attendance changes other processes commit (PostgreSQL).

One connection of its own per instance, outside the pool, LISTENs on the channel
`service.events` notifies; each notification from another process is published into
this instance's hub. The connection is checked every half minute and opened again
when lost, with a growing pause while the database is away. What was committed while
it was away is not replayed: each subscribed meeting is published once on
reconnecting, so screens read the state afresh rather than miss a check-in.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import structlog
from sqlalchemy.engine import make_url

from service.events import CHANNEL, AttendanceHub, parse_notification

log = structlog.get_logger()

CHECK_EVERY_S = 30.0
FIRST_PAUSE_S, LONGEST_PAUSE_S = 0.5, 5.0


def asyncpg_dsn(database_url: str) -> str:
    """The same database for asyncpg itself: SQLAlchemy's URL without its driver name."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


async def _until(*events: asyncio.Event, at_most_s: float) -> None:
    waits = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, timeout=at_most_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()


async def listen(
    database_url: str,
    hub: AttendanceHub,
    me: str,
    stop: asyncio.Event,
    *,
    connect_timeout_s: float = 5.0,
    listening: asyncio.Event | None = None,
) -> None:
    """Until `stop`: publish into `hub` what other processes notify. `listening` is
    set each time the LISTEN is in place (tests wait for it)."""
    dsn = asyncpg_dsn(database_url)
    pause = FIRST_PAUSE_S
    reconnecting = False

    def heard(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
        sender, meeting_ids = parse_notification(payload)
        if sender == me:
            return  # published already, after our own commit
        for meeting_id in meeting_ids:
            hub.publish(meeting_id)

    while not stop.is_set():
        try:
            connection = await asyncpg.connect(dsn, timeout=connect_timeout_s)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            log.warning("events.listen_unavailable", error=type(exc).__name__, retry_s=pause)
            await _until(stop, at_most_s=pause)
            pause = min(pause * 2, LONGEST_PAUSE_S)
            reconnecting = True
            continue
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _c, lost=lost: lost.set())
        try:
            await connection.add_listener(CHANNEL, heard)
            log.info("events.listening", channel=CHANNEL)
            pause = FIRST_PAUSE_S
            if listening is not None:
                listening.set()
            if reconnecting:
                hub.refresh_all()
            while not (stop.is_set() or lost.is_set()):
                await _until(stop, lost, at_most_s=CHECK_EVERY_S)
                if not (stop.is_set() or lost.is_set()):
                    await connection.execute("SELECT 1", timeout=connect_timeout_s)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("events.listen_lost", error=type(exc).__name__)
        finally:
            if listening is not None:
                listening.clear()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout=connect_timeout_s)
        reconnecting = True
