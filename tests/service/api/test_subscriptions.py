"""A facilitator's screen follows a meeting's attendance live over graphql-transport-ws."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from service.api import ids
from service.app import create_app
from service.config import Settings
from tests.service.api.conftest import Two

SUBSCRIBE = """subscription($m: ID!) { attendanceChanged(meetingId: $m) {
    meetingId summary { members rsvpYes rsvpNo } attendance { rsvp rsvpChannel person { name } } } }"""
RECORD = """mutation($m: ID!, $p: ID!) { recordAttendance(meetingId: $m, marks: [{personId: $p, rsvp: yes}]) {
    __typename } }"""


def client_for(settings: Settings) -> TestClient:
    return TestClient(create_app(settings.model_copy(update={"worker_in_process": False})))


def open_socket(client: TestClient, key: str | None) -> Any:
    socket = client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"])
    return socket, {
        "type": "connection_init",
        "payload": {"Authorization": f"Bearer {key}"} if key else {},
    }


def subscribe(socket: Any, meeting: str) -> None:
    socket.send_json(
        {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": SUBSCRIBE, "variables": {"m": meeting}},
        }
    )


def run_scenario(settings: Settings, two: Two) -> list[dict[str, Any]]:
    meeting = ids.encode("Meeting", two.a.meeting.id)
    member = ids.encode("Person", two.a.members[0].id)
    outsider = ids.encode("Person", two.a.outsider.id)
    headers = {"Authorization": f"Bearer {two.admin_a}"}
    messages = []
    with client_for(settings) as client:
        connection, init = open_socket(client, two.reader_a)
        with connection as socket:
            socket.send_json(init)
            assert socket.receive_json()["type"] == "connection_ack"
            subscribe(socket, meeting)
            messages.append(socket.receive_json())  # the state now
            refused = client.post(
                "/graphql",
                json={"query": RECORD, "variables": {"m": meeting, "p": outsider}},
                headers=headers,
            )
            assert refused.json()["data"]["recordAttendance"]["__typename"] == "NotAMember"
            done = client.post(
                "/graphql",
                json={"query": RECORD, "variables": {"m": meeting, "p": member}},
                headers=headers,
            )
            assert done.json()["data"]["recordAttendance"]["__typename"] == "AttendancePayload"
            messages.append(socket.receive_json())  # after the committed change only
            socket.send_json({"id": "1", "type": "complete"})
    return messages


async def test_the_screen_gets_the_state_then_each_committed_change(
    settings: Settings, two: Two
) -> None:
    first, second = await asyncio.to_thread(run_scenario, settings, two)
    assert first["type"] == "next" and second["type"] == "next"
    assert first["payload"]["data"]["attendanceChanged"]["summary"] == {
        "members": 3,
        "rsvpYes": 0,
        "rsvpNo": 0,
    }
    after = second["payload"]["data"]["attendanceChanged"]
    # Had the refused RSVP been announced, this message would still show no yes.
    assert after["summary"] == {"members": 3, "rsvpYes": 1, "rsvpNo": 0}
    assert after["attendance"] == [
        {"rsvp": "yes", "rsvpChannel": "api", "person": {"name": two.a.members[0].name}}
    ]


def connect_without_key(settings: Settings) -> int:
    with client_for(settings) as client:
        connection, init = open_socket(client, None)
        with connection as socket:
            socket.send_json(init)
            with pytest.raises(WebSocketDisconnect) as closed:
                socket.receive_json()
        return closed.value.code


async def test_a_socket_without_a_key_is_closed(settings: Settings, two: Two) -> None:
    assert await asyncio.to_thread(connect_without_key, settings) == 4403


def subscribe_to(settings: Settings, key: str, meeting: str) -> dict[str, Any]:
    with client_for(settings) as client:
        connection, init = open_socket(client, key)
        with connection as socket:
            socket.send_json(init)
            assert socket.receive_json()["type"] == "connection_ack"
            subscribe(socket, meeting)
            message: dict[str, Any] = socket.receive_json()
        return message


async def test_another_programmes_meeting_cannot_be_followed(settings: Settings, two: Two) -> None:
    message = await asyncio.to_thread(
        subscribe_to, settings, two.reader_a, ids.encode("Meeting", two.b.meeting.id)
    )
    # Strawberry sends a refusal before the first event as a result carrying errors.
    assert message["payload"]["data"] is None
    assert message["payload"]["errors"][0]["message"] == f"meeting {two.b.meeting.id} not found"
