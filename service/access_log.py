"""One access line per HTTP request, naming the route (`/at/{token}/ussd`), never the path.

uvicorn's own access log prints the raw path, and ours carry the callback token: whoever
reads that log could fake every callback. The query string is left out for the same
reason (a GraphQL GET carries its variables there).
"""

from __future__ import annotations

import time

import structlog
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("copline.access")

UNMATCHED = "<no route>"


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
            log.info(
                "http.request",
                method=scope["method"],
                route=route_of(scope),
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
