"""What the SMS tests share: a stand-in copline service, the simulator as a test sees it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from sms.gateway import AfricasTalkingGateway, RecipientResult
from sms.simulator import RunningServer
from sms.simulator.app import Simulator

TOKEN = "test-callback-token"
AT_KEY = "test-key"  # the key the tests' simulators expect
WANJIRU = "+254712345678"
KAMANZI = "+250788123456"
USSD_MENU = "CON Welcome\n1. Next meeting\n2. Check in"


@dataclass(frozen=True)
class Callback:
    path: str  # after /at/{token}/, e.g. "sms/delivery"
    form: dict[str, str]


@dataclass
class StandInService:
    """Answers AT's callbacks under /at/{TOKEN}/… and remembers each one."""

    callbacks: list[Callback] = field(default_factory=list)
    # The next N delivery reports are answered 503, as a service restarting would.
    fail_next_reports: int = 0
    refused_reports: int = 0

    def reset(self) -> None:
        self.callbacks.clear()
        self.fail_next_reports = 0
        self.refused_reports = 0

    def received(self, path: str) -> list[dict[str, str]]:
        return [c.form for c in self.callbacks if c.path == path]

    @property
    def delivery_reports(self) -> list[dict[str, str]]:
        return self.received("sms/delivery")

    def app(self) -> Starlette:
        async def callback(request: Request) -> Response:
            if request.path_params["token"] != TOKEN:
                return PlainTextResponse("Not Found", status_code=404)
            path = request.path_params["path"]
            form = await request.form()
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            if path == "sms/delivery" and self.fail_next_reports > 0:
                self.fail_next_reports -= 1
                self.refused_reports += 1
                return PlainTextResponse("restarting", status_code=503)
            self.callbacks.append(Callback(path, fields))
            if path == "ussd":
                return PlainTextResponse(USSD_MENU if not fields.get("text") else "END Thank you")
            return PlainTextResponse("OK")

        async def answers_with(request: Request) -> Response:
            """Not AT: whatever status the path names, for base URLs that point wrong."""
            code = int(request.path_params["code"])
            if code == 200:
                return HTMLResponse("<html><body>Wi-Fi login</body></html>")
            return PlainTextResponse(f"status {code}", status_code=code)

        return Starlette(
            routes=[
                Route("/at/{token}/{path:path}", callback, methods=["POST"]),
                Route("/status/{code:int}/version1/messaging", answers_with, methods=["POST"]),
            ]
        )


async def eventually(
    condition: Callable[[], bool], *, timeout_s: float = 3.0, what: str = "condition"
) -> None:
    """Wait for something the simulator does in the background."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s:g}s")
        await asyncio.sleep(0.02)


async def send(
    gateway: AfricasTalkingGateway, message: str, *numbers: str, sender_id: str | None = None
) -> list[RecipientResult]:
    # As the worker will: the SDK blocks, so it runs off the event loop.
    return await asyncio.to_thread(gateway.send, message, list(numbers), sender_id)


@dataclass
class RunningSimulator:
    server: RunningServer
    http: httpx.AsyncClient  # for the /sim/… endpoints, as a test or trainer uses them

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def state(self) -> Simulator:
        app: Any = self.server.server.config.app
        state: Simulator = app.state.sim
        return state

    def gateway(self, *, timeout_s: float = 2.0) -> AfricasTalkingGateway:
        return AfricasTalkingGateway(
            username="sandbox",
            api_key=self.state.config.api_key,
            base_url=self.url,
            timeout_s=timeout_s,
        )

    async def seen(self) -> dict[str, Any]:
        answer = await self.http.get("/sim/requests")
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body

    async def inbox(self, phone: str) -> list[dict[str, Any]]:
        answer = await self.http.get(f"/sim/inbox/{phone}")
        answer.raise_for_status()
        messages: list[dict[str, Any]] = answer.json()["messages"]
        return messages

    async def fault(self, **fault: Any) -> None:
        (await self.http.post("/sim/faults", json=fault)).raise_for_status()


StartSimulator = Callable[..., Awaitable[RunningSimulator]]
