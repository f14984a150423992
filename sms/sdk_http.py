"""How copline's gateway adapters make the `africastalking` SDK's requests.

The SDK sends with module-level `requests.post`, hides the HTTP status of a failed
request in an exception's text, and returns the body as text unless the content
type is exactly `application/json`. `RawRequests` is mixed into an SDK service
class to override its `_make_request` for our instances only: the SDK still
validates and builds AT's request and headers, but the request goes through a
per-thread `requests.Session` (kept-alive connections) with our timeout, and the
adapter gets the whole response back.

Whether a failed request may be sent again is decided by one fact: did any of its
bytes leave for the gateway? Our connection class notes the moment it first writes
to the socket (`bytes_left()`). A failure before that (no route, DNS, refused, a
TLS handshake that failed, a connect timeout) provably sent nothing and may be
retried. A failure after it (a reset, a closed connection, no answer in time) may
have reached AT, which would then send the message while we send it again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# Servers close idle kept-alive connections (uvicorn after 5 s). A request written
# into a connection the server is closing at that moment fails after it "left", so
# it would count as maybe taken; connections idle for longer are not reused.
IDLE_REUSE_S = 2.0


class _Sent(threading.local):
    """Per thread: whether the request under way has written anything to its socket."""

    wrote = False


_SENT = _Sent()


def bytes_left() -> bool:
    """Whether this thread's latest request wrote anything to its socket."""
    return _SENT.wrote


class _NotingConnection(HTTPConnection):
    def send(self, data: Any) -> None:
        if self.sock is None:
            self.connect()  # a failure here happened before anything left
        _SENT.wrote = True
        super().send(data)


class _NotingTlsConnection(HTTPSConnection):
    def send(self, data: Any) -> None:
        if self.sock is None:
            self.connect()  # includes the TLS handshake
        _SENT.wrote = True
        super().send(data)


class _NotingPool(HTTPConnectionPool):
    ConnectionCls = _NotingConnection


class _NotingTlsPool(HTTPSConnectionPool):
    ConnectionCls = _NotingTlsConnection


class _NotingAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _NotingPool, "https": _NotingTlsPool}


class RawRequests:
    """Mixed in before an SDK service class: its requests, through noting sessions.

    Call `_init_raw(timeout_s)` after the SDK's own `__init__`.
    """

    def _init_raw(self, timeout_s: float) -> None:
        # requests has no overall deadline; (connect, read) bounds every wait on the socket.
        self._timeout = (timeout_s, timeout_s)
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    def _session(self) -> requests.Session:
        # Sessions are not documented as thread-safe; callers send from many threads.
        session: requests.Session | None = getattr(self._local, "session", None)
        last_used: float = getattr(self._local, "last_used", 0.0)
        if session is not None and time.monotonic() - last_used > IDLE_REUSE_S:
            session.close()  # drops its idle connections; the session stays usable
        if session is None:
            session = requests.Session()
            session.trust_env = False  # read once per host instead: see _environment
            adapter = _NotingAdapter()
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        self._local.last_used = time.monotonic()
        return session

    def _make_request(
        self,
        url: str,
        method: str,
        headers: Mapping[str, str],
        data: Any,
        params: Any,
        callback: Any = None,
        timeout: Any = None,
    ) -> requests.Response:
        # The SDK's own timeout argument is ignored on purpose: ours is per instance.
        session = self._session()
        _SENT.wrote = False
        # Straight to the session's transport adapter: the session's own layer (cookies,
        # hooks, redirects, auth) serves none of AT's requests, and cost a quarter of
        # each WhatsApp send's CPU. The adapter still turns urllib3's failures into
        # requests' exceptions, which the gateways read.
        prepared = requests.PreparedRequest()
        prepared.prepare(method=method, url=url, headers=dict(headers), data=data, params=params)
        try:
            response: requests.Response = session.get_adapter(url).send(
                prepared, timeout=self._timeout, **self._environment(url)
            )
            return response
        finally:
            self._local.last_used = time.monotonic()

    def _environment(self, url: str) -> dict[str, Any]:
        """What the environment says for this host (proxies, CA bundle), read once.

        requests reads it, and ~/.netrc, on every request: that cost more CPU than
        the rest of a WhatsApp send. A session's requests all go to one gateway host.
        """
        host = urlsplit(url)[:2]
        known: dict[tuple[str, str], dict[str, Any]] = self._local.__dict__.setdefault(
            "environment", {}
        )
        if host not in known:
            reader = requests.Session()  # trusts the environment, as requests does by default
            settings = reader.merge_environment_settings(url, {}, None, None, None)
            known[host] = {"proxies": settings["proxies"], "verify": settings["verify"]}
        return known[host]

    def close(self) -> None:
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()


def cause(exc: BaseException) -> str:
    """The innermost reason, short: `ConnectionRefusedError`, `ConnectionResetError`…"""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = exc.__context__ or exc.__cause__
        if inner is None:
            break
        exc = inner
    return f"{type(exc).__name__}: {snippet(str(exc), 120)}"


def snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
