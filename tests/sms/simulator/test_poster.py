"""The delivery-report client copes with what real servers do to kept-alive connections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from sms.simulator.poster import FormPoster, PosterError

CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n"
SIZED = b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nOK"


@pytest_asyncio.fixture
async def forgetful_server() -> AsyncIterator[tuple[int, list[bytes]]]:
    """Answers one request per connection, then hangs up without saying so."""
    bodies: list[bytes] = []
    answers = iter([CHUNKED, SIZED, SIZED])

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        bodies.append(await reader.readexactly(length))
        writer.write(next(answers))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], bodies
    server.close()
    await server.wait_closed()


async def test_a_connection_the_server_dropped_is_replaced_without_losing_the_post(
    forgetful_server: tuple[int, list[bytes]],
) -> None:
    port, bodies = forgetful_server
    poster = FormPoster(f"http://127.0.0.1:{port}/at/token")

    first = await poster.post("/sms/delivery", {"id": "ATXid_1", "status": "Success"})
    await asyncio.sleep(0.05)  # the server has hung up by now
    second = await poster.post("/sms/delivery", {"id": "ATXid_2", "status": "Failed"})
    await poster.aclose()

    assert (first, second) == (200, 201)
    assert bodies == [b"id=ATXid_1&status=Success", b"id=ATXid_2&status=Failed"]


async def test_nobody_listening_is_an_error_to_retry_later() -> None:
    poster = FormPoster("http://127.0.0.1:9/at/token", timeout_s=1)

    with pytest.raises(PosterError):
        await poster.post("/sms/delivery", {"id": "ATXid_1"})
