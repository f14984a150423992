"""One access line per HTTP request, naming the route (`/at/{token}/ussd`), never the path.

uvicorn's own access log prints the raw path, and ours carry the callback token: whoever
reads that log could fake every callback. The query string is left out for the same
reason (a GraphQL GET carries its variables there).

The same middleware times each request for the metrics, labelled by face and operation:
the route's template, or for GraphQL the root field its extension left in the scope
(service/api/operation_label.py), never the path or the client's operation name.
"""

from __future__ import annotations

import time

import structlog
from prometheus_client import Counter, Histogram
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.operation_label import OTHER, SCOPE_KEY
from service.metrics import HTTP_RESPONSES, HTTP_SECONDS

log = structlog.get_logger("copline.access")

UNMATCHED = "<no route>"
OPS = frozenset({"/healthz", "/readyz", "/metrics"})
# The USSD hop has its own histogram (copline_ussd_hop_duration_seconds); timed here too.


def face_of(route: str) -> str:
    """Which of copline's faces answered: graphql, callbacks (Africa's Talking), api
    (exports, Flow Results), ops (health, metrics) or the console (every other page)."""
    if route == "/graphql":
        return "graphql"
    if route.startswith("/at/"):
        return "callbacks"
    if route.startswith(("/exports/", "/flow-results/")):
        return "api"
    if route in OPS:
        return "ops"
    return "console"


_timers: dict[tuple[str, str], Histogram] = {}
_responses: dict[tuple[str, int], Counter] = {}


def observe(scope: Scope, route: str, status: int, seconds: float) -> None:
    """Time and count the request; each labelled child looked up once per process (on
    the USSD hop's path, `labels()` each time cost as much as the writes)."""
    face = face_of(route)
    operation = scope.get(SCOPE_KEY, OTHER) if face == "graphql" else route
    timer = _timers.get((face, operation))
    if timer is None:
        timer = _timers[(face, operation)] = HTTP_SECONDS.labels(face, operation)
    timer.observe(seconds)
    counter = _responses.get((face, status))
    if counter is None:
        counter = _responses[(face, status)] = HTTP_RESPONSES.labels(face, f"{status // 100}xx")
    counter.inc()


def route_of(scope: Scope) -> str:
    """The template of the route that answered; a path no route matched is not shown."""
    route = scope.get("route")
    path = getattr(route, "path", None) if isinstance(route, BaseRoute) else None
    return path or UNMATCHED


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            route = route_of(scope)
            observe(scope, route, status, seconds)
            log.info(
                "http.request",
                method=scope["method"],
                route=route,
                status=status,
                ms=round(seconds * 1000, 1),
            )
