"""A minimal HTTP/1.1 client for one thing: form POSTs over one kept-alive connection.

Delivery reports are the simulator's hot path (100,000 of them in a benchmark
that expects the service to ingest ≥ 2,000/s). In a side-by-side run here, against
the same small Starlette receiver with 16 kept-alive connections, httpx posted
about 1,300 forms/s and this client 8,000-15,000/s; the CPU httpx would burn is
taken from the service under test when both share a machine. (Part of httpx's
cost here is httpcore retrying a failed `import sniffio` on every request, see
encode/httpcore#1103.) The low-volume callbacks (inbound SMS, USSD, opt-out) use
httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit

MAX_BODY = 1 << 20  # a callback's answer is a word or two; more is not a copline service


_BROKEN = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


class PosterError(Exception):
    """The exchange failed: no connection, a broken answer, or no answer in time."""


class FormPoster:
    def __init__(self, base_url: str, *, timeout_s: float = 10.0) -> None:
        self.base_url = base_url
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._host = parts.hostname
        self._tls = parts.scheme == "https"
        self._port = parts.port or (443 if self._tls else 80)
        self._prefix = parts.path.rstrip("/")
        default_port = self._port == (443 if self._tls else 80)
        self._host_header = parts.hostname if default_port else f"{parts.hostname}:{self._port}"
        self._timeout_s = timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, form: Mapping[str, str]) -> int:
        """POST `form` to `base_url + path`; the answer's status code."""
        body = urlencode(form).encode()
        head = (
            f"POST {self._prefix}{path} HTTP/1.1\r\n"
            f"Host: {self._host_header}\r\n"
            "User-Agent: copline-at-simulator\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
        for attempt in (1, 2):
            reused = self._writer is not None
            try:
                async with asyncio.timeout(self._timeout_s):
                    return await self._exchange(head + body)
            except TimeoutError as exc:  # before OSError: TimeoutError is one
                await self.aclose()
                raise PosterError(f"no answer within {self._timeout_s:g}s") from exc
            except _BROKEN as exc:
                await self.aclose()
                # A kept-alive connection the server closed between two requests
                # fails at once: that one is worth a second try on a fresh one.
                if not reused or attempt == 2:
                    raise PosterError(f"{type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")

    async def _exchange(self, request: bytes) -> int:
        if self._writer is None:
            context = ssl.create_default_context() if self._tls else None
            self._reader, self._writer = await asyncio.open_connection(
                self._host, self._port, ssl=context
            )
        reader, writer = self._reader, self._writer
        assert reader is not None
        writer.write(request)
        await writer.drain()
        status, keep_alive = await _read_response(reader)
        if not keep_alive:
            await self.aclose()
        return status

    async def aclose(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):  # the peer went first; nothing to flush
                await writer.wait_closed()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one whole answer; (status, whether the connection may be used again)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head[:-4].split(b"\r\n")
    version, code, *_ = status_line.split(b" ", 2)
    headers: dict[bytes, bytes] = {}
    for line in header_lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    keep_alive = version == b"HTTP/1.1" and headers.get(b"connection") != b"close"
    if headers.get(b"transfer-encoding", b"").endswith(b"chunked"):
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size > MAX_BODY:
                raise ValueError("answer too long")
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif b"content-length" in headers:
        length = int(headers[b"content-length"])
        if length > MAX_BODY:
            raise ValueError("answer too long")
        await reader.readexactly(length)
    else:
        await reader.read(MAX_BODY)  # the body runs to the end of the connection
        keep_alive = False
    return int(code), keep_alive
