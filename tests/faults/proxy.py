"""A TCP proxy that fails on purpose: between copline and the AT simulator, or PostgreSQL.

- `reset_share`: that share of requests is forwarded, the server's answer is read,
  and then the client's connection is reset instead of given the answer. The server
  did the work (AT took the SMS); the client saw "Connection reset by peer". With
  `reset_taken_only`, only answers that say the server took the request (2xx) are
  lost this way: the case where resending would send twice.
- `refuse()`: every open connection is cut and the port stops listening, so new
  connections are refused, as a database that is restarting refuses them;
  `resume()` listens again on the same port.

HTTP/1.1 without pipelining alternates request and answer on a connection, so a
burst from the client after the server has answered is the next request: no
parsing is needed to fail one request in N.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from dataclasses import dataclass, field


@dataclass
class ProxyCounters:
    connections: int = 0
    requests: int = 0
    resets: int = 0


@dataclass(eq=False)  # links are kept in a set, by identity
class _Link:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    doomed: bool = False
    answered: bool = True  # the last request was answered (or none was made)


@dataclass
class FaultyProxy:
    upstream_host: str
    upstream_port: int
    reset_share: float = 0.0
    answer_delay_s: float = 0.0  # each answer waits this long: a slow link to AT
    reset_taken_only: bool = False
    seed: int = 1
    host: str = "127.0.0.1"
    port: int = 0
    counters: ProxyCounters = field(default_factory=ProxyCounters)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        """Requests forwarded and not yet answered."""
        return sum(1 for link in self._links if not link.answered)

    @property
    def down(self) -> bool:
        return self._server is None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> FaultyProxy:
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def refuse(self) -> None:
        """Cut every connection and stop listening: the database is down."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for link in list(self._links):
            _reset(link.client)
            _reset(link.server)
        self._links.clear()

    async def resume(self) -> None:
        if self._server is None:
            await self.start()

    async def stop(self) -> None:
        await self.refuse()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.counters.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except OSError:
            _reset(writer)
            return
        link = _Link(writer, up_writer)
        self._links.add(link)
        upward = asyncio.create_task(self._client_to_server(link, reader))
        downward = asyncio.create_task(self._server_to_client(link, up_reader))
        self._tasks |= {upward, downward}
        try:
            await asyncio.wait({upward, downward}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (upward, downward):
                task.cancel()
            await asyncio.gather(upward, downward, return_exceptions=True)
            self._tasks -= {upward, downward}
            self._links.discard(link)
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    w.close()

    async def _client_to_server(self, link: _Link, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                if link.answered:  # the first bytes of a new request
                    link.answered = False
                    self.counters.requests += 1
                    link.doomed = self._rng.random() < self.reset_share
                link.server.write(data)
                await link.server.drain()

    async def _server_to_client(self, link: _Link, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                if not link.answered and self.answer_delay_s:
                    await asyncio.sleep(self.answer_delay_s)
                link.answered = True
                if link.doomed and self.reset_taken_only and not data.startswith(b"HTTP/1.1 2"):
                    link.doomed = False
                if link.doomed:
                    self.counters.resets += 1
                    _reset(link.client)
                    _reset(link.server)
                    return
                link.client.write(data)
                await link.client.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST, not FIN: the peer reads ECONNRESET, as from a dropped link."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
