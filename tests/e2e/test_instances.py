"""Two `copline serve` processes on one PostgreSQL: a facilitator's screen on one hears a
check-in made through the other."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
import websockets
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from tests import factories as f
from tests.e2e.conftest import running_server
from tests.service.api.conftest import ALL, issue_key

SUBSCRIBE = """subscription($m: ID!) { attendanceChanged(meetingId: $m) {
    summary { rsvpYes } attendance { rsvp person { name } } } }"""
RECORD = """mutation($m: ID!, $p: ID!) { recordAttendance(meetingId: $m, marks: [{personId: $p, rsvp: yes}]) {
    __typename } }"""


async def follow(base: str, key: str, meeting: str, heard: asyncio.Queue[float]) -> None:
    """Subscribe on `base`; put the time each change arrives after the first state."""
    url = base.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}
        await socket.send(json.dumps(init))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        payload = {"query": SUBSCRIBE, "variables": {"m": meeting}}
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        first = json.loads(await socket.recv())
        assert first["payload"]["data"]["attendanceChanged"]["summary"]["rsvpYes"] == 0
        await heard.put(0.0)  # subscribed
        while True:
            message = json.loads(await socket.recv())
            summary = message["payload"]["data"]["attendanceChanged"]["summary"]
            await heard.put(time.monotonic() if summary["rsvpYes"] == 1 else -1.0)


async def test_a_subscriber_on_one_instance_hears_a_check_in_made_through_another(
    database_url: str, session: AsyncSession, workdir: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several instances share PostgreSQL; SQLite serves one process")
    world = await f.world(session)
    key = await issue_key(session, world.programme, *ALL)
    meeting = ids.encode("Meeting", world.meeting.id)
    member = ids.encode("Person", world.members[0].id)
    with (
        running_server(database_url, workdir, "--no-migrate") as one,
        running_server(database_url, workdir, "--no-migrate") as other,
    ):
        heard: asyncio.Queue[float] = asyncio.Queue()
        following = asyncio.create_task(follow(one, key, meeting, heard))
        try:
            assert await asyncio.wait_for(heard.get(), 10) == 0.0
            async with httpx.AsyncClient(base_url=other, timeout=10) as client:
                answer = await client.post(
                    "/graphql",
                    json={"query": RECORD, "variables": {"m": meeting, "p": member}},
                    headers={"Authorization": f"Bearer {key}"},
                )
                committed = time.monotonic()
            assert answer.json()["data"]["recordAttendance"]["__typename"] == "AttendancePayload"
            arrived = await asyncio.wait_for(heard.get(), 5)
            assert arrived > 0, "the change arrived, but without the check-in in it"
            assert arrived - committed < 1.0
        finally:
            following.cancel()
