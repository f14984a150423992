"""The Africa's Talking simulator: AT's SMS API for the service, and phones for the tests.

AT's side:  POST /version1/messaging (form, `apiKey` header), as the SDK sends it;
WhatsApp's requests and callbacks are `sms.simulator.whatsapp`'s.
The phones: /sim/… (JSON) to read inboxes, inject faults, and make a phone send
an SMS, dial USSD or opt out, which the simulator forwards to the service's
`/at/{token}/…` callbacks with AT's form fields.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from random import Random
from typing import Any

import httpx
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sms.simulator.config import SimulatorConfig
from sms.simulator.messaging import MessagingDesk, network_code
from sms.simulator.phones import Seen, phone_routes
from sms.simulator.reports import DeliveryReporter
from sms.simulator.state import Counters, Fault, FaultMode, Faults, Inbox
from sms.simulator.whatsapp import WhatsAppDesk
from sms.simulator.whatsapp import routes as whatsapp_routes

log = structlog.get_logger(__name__)

AT_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # what AT writes in an inbound SMS's `date`
CALLBACK_TIMEOUT_S = 15.0  # AT gives up on a USSD answer after 10-15 s


class Simulator:
    """Everything the simulator holds; `app.state.sim` in a running app.

    Assigning `config` retargets a running simulator (e.g. at a service that got its
    port after the simulator started): the service URL, token, delivery delay,
    failure share and prices apply to the next request or report; the seed, the
    report concurrency and the inbox size stay as they were at the start.
    """

    def __init__(self, config: SimulatorConfig) -> None:
        self._config = config
        self.inbox = Inbox(config.inbox_per_phone)
        self.counters = Counters()
        self.faults = Faults(rng=Random(config.seed))
        self.reports = DeliveryReporter(config)
        self.seen = Seen()  # phones and USSD codes met, for the phones in the browser
        self.desk = MessagingDesk(
            config, self.inbox, self.counters, Random(config.seed), self.reports.schedule
        )
        self.whatsapp = WhatsAppDesk(config, self.reports, Random(config.seed))

    @property
    def config(self) -> SimulatorConfig:
        return self._config

    @config.setter
    def config(self, config: SimulatorConfig) -> None:
        self._config = self.desk.config = self.reports.config = config
        self.whatsapp.config = config

    def reset_counters(self) -> None:
        self.counters = self.desk.counters = Counters()


def create_simulator_app(config: SimulatorConfig) -> Starlette:
    sim = Simulator(config)
    callbacks: dict[str, httpx.AsyncClient] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        sim.reports.start()
        callbacks["client"] = httpx.AsyncClient(timeout=CALLBACK_TIMEOUT_S)
        log.info("at_sim.start", service_url=sim.config.service_url)
        try:
            yield
        finally:
            await sim.reports.stop()
            await callbacks.pop("client").aclose()

    async def forward(path: str, form: dict[str, str]) -> httpx.Response | Response:
        """POST a callback to the service; a JSON 502 if the service cannot be reached."""
        try:
            return await callbacks["client"].post(sim.config.callback_base + path, data=form)
        except httpx.HTTPError as exc:
            return JSONResponse(
                {"error": f"cannot reach the service at {sim.config.service_url}: {exc!r}"},
                status_code=502,
            )

    async def messaging(request: Request) -> Response:
        form = await request.form()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        fault = sim.faults.take()
        if fault is not None and fault.mode is FaultMode.timeout:
            # Hang past the client's timeout, then accept: AT did send it, the client
            # just never heard. That is the case that must not become a resend.
            await asyncio.sleep(
                fault.delay_s if fault.delay_s is not None else sim.config.fault_timeout_s
            )
        elif fault is not None and fault.mode is FaultMode.slow:
            await asyncio.sleep(fault.delay_s or 0.0)
        answer = sim.desk.answer(fields, request.headers.get("apikey"), fault)
        if isinstance(answer.body, str):
            return PlainTextResponse(answer.body, status_code=answer.status_code)
        return JSONResponse(answer.body, status_code=answer.status_code)

    async def set_faults(request: Request) -> Response:
        try:
            fault = Fault.from_json(await request.json())
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        sim.faults.set(fault)
        return JSONResponse(fault.as_json())

    async def reset_faults(_: Request) -> Response:
        sim.faults.reset()
        return JSONResponse(sim.faults.current.as_json())

    async def get_faults(_: Request) -> Response:
        return JSONResponse(sim.faults.current.as_json())

    async def inbox_of(request: Request) -> Response:
        phone = request.path_params["phone"]
        return JSONResponse(
            {"phone": phone, "messages": [m.as_json() for m in sim.inbox.of(phone)]}
        )

    async def clear_inbox(_: Request) -> Response:
        sim.inbox.clear()
        return JSONResponse({"cleared": True})

    async def requests_seen(_: Request) -> Response:
        return JSONResponse(sim.counters.as_json() | {"delivery_reports": sim.reports.as_json()})

    async def reset_requests(_: Request) -> Response:
        sim.reset_counters()
        return JSONResponse(sim.counters.as_json())

    async def phone_sends_sms(request: Request) -> Response:
        body = await _json_object(request)
        if isinstance(body, Response):
            return body
        text, to = body.get("text"), body.get("to")
        if not isinstance(text, str) or not isinstance(to, str) or not to:
            return JSONResponse({"error": "expected {text, to}"}, status_code=400)
        phone = request.path_params["phone"]
        sim.seen.phone(phone)
        message_id = str(uuid.uuid4())
        form = {
            "from": phone,
            "to": to,
            "text": text,
            "date": str(body.get("date") or datetime.now(UTC).strftime(AT_DATE_FORMAT)),
            "id": message_id,
            "linkId": str(body.get("link_id") or uuid.uuid4()),
            "networkCode": network_code(phone),
        }
        answer = await forward("/sms/inbound", form)
        if not isinstance(answer, httpx.Response):
            return answer
        return JSONResponse({"id": message_id, "service_status": answer.status_code})

    async def phone_dials(request: Request) -> Response:
        body = await _json_object(request)
        if isinstance(body, Response):
            return body
        service_code = body.get("service_code")
        if not isinstance(service_code, str) or not service_code:
            return JSONResponse({"error": "expected {service_code, text}"}, status_code=400)
        session_id = str(body.get("session_id") or "ATUid_" + secrets.token_hex(8))
        phone = request.path_params["phone"]
        sim.seen.dialled(phone, service_code)
        form = {
            "sessionId": session_id,
            "serviceCode": service_code,
            "phoneNumber": phone,
            "networkCode": network_code(phone),
            "text": str(body.get("text") or ""),
        }
        answer = await forward("/ussd", form)
        if not isinstance(answer, httpx.Response):
            return answer
        return JSONResponse(
            {
                "session_id": session_id,
                "service_status": answer.status_code,
                "text": answer.text,
                "ended": not answer.text.startswith("CON "),
            }
        )

    async def phone_opts_out(request: Request) -> Response:
        body = await _json_object(request, optional=True)
        if isinstance(body, Response):
            return body
        form = {
            "senderId": str(body.get("sender_id") or sim.config.default_sender_id),
            "phoneNumber": request.path_params["phone"],
        }
        answer = await forward("/sms/optout", form)
        if not isinstance(answer, httpx.Response):
            return answer
        return JSONResponse({"service_status": answer.status_code})

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/version1/messaging", messaging, methods=["POST"]),
            Route("/healthz", healthz),
            Route("/sim/faults", get_faults, methods=["GET"]),
            Route("/sim/faults", set_faults, methods=["POST"]),
            Route("/sim/faults", reset_faults, methods=["DELETE"]),
            Route("/sim/inbox", clear_inbox, methods=["DELETE"]),
            Route("/sim/inbox/{phone}", inbox_of, methods=["GET"]),
            Route("/sim/requests", requests_seen, methods=["GET"]),
            Route("/sim/requests", reset_requests, methods=["DELETE"]),
            Route("/sim/phones/{phone}/sms", phone_sends_sms, methods=["POST"]),
            Route("/sim/phones/{phone}/ussd", phone_dials, methods=["POST"]),
            Route("/sim/optout/{phone}", phone_opts_out, methods=["POST"]),
            *whatsapp_routes(sim.whatsapp, forward),
            *phone_routes(sim.inbox, sim.seen),
        ],
        lifespan=lifespan,
    )
    app.state.sim = sim
    return app


async def _json_object(request: Request, *, optional: bool = False) -> dict[str, Any] | Response:
    raw = await request.body()
    if not raw and optional:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return JSONResponse({"error": "expected a JSON object"}, status_code=400)
    return body
