"""A partner's webhook receiver on a real port: it verifies every request with the
Standard Webhooks reference library, processes each `webhook-id` once, and can be told
to fail (HTTP 500) or be stopped (connection refused) for a while."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sms.simulator.server import RunningServer, serve_in_background


@dataclass
class Received:
    message_id: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    secret: str = ""
    failing: bool = False
    requests: list[Received] = field(default_factory=list)  # every request that came
    processed: list[Received] = field(default_factory=list)  # each id once, as taken
    refused_signatures: int = 0
    server: RunningServer | None = None
    port: int = 0

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        got = Received(headers.get("webhook-id", ""), headers, body)
        self.requests.append(got)
        if self.failing:
            return Response("down for maintenance", status_code=500)
        try:
            Webhook(self.secret).verify(body, headers)
        except Exception:
            self.refused_signatures += 1
            return Response("bad signature", status_code=400)
        if got.message_id not in {p.message_id for p in self.processed}:
            self.processed.append(got)
        return Response(status_code=204)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hooks", self.handle, methods=["POST"])])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> None:
        self.server = await serve_in_background(self.app(), port=self.port)
        self.port = self.server.port

    async def stop(self) -> None:
        """Down: connections to its port are refused until it starts again."""
        if self.server is not None:
            await self.server.stop()
            self.server = None

    def events(self) -> list[tuple[str, str]]:
        """(type, subject-ish id) of what was processed, in order."""
        return [(r.payload["type"], _subject(r.payload)) for r in self.processed]


def _subject(payload: dict[str, Any]) -> str:
    data = payload["data"]
    for key in ("meeting", "message", "person"):
        if data.get(key):
            return str(data[key])
    return ""
