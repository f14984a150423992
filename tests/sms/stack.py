"""copline and the Africa's Talking simulator on real ports, with the `africastalking`
SDK between them and a worker under the test's clock: the stage of the end-to-end tests."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest_asyncio

from service.app import create_app
from service.config import Settings
from service.db import SessionFactory
from service.worker import DEFAULT_JOBS, Job, Worker, sms_job
from sms.gateway import SIMULATOR_API_KEY, AfricasTalkingGateway
from sms.sender import Sender, SendPolicy
from sms.simulator.app import create_simulator_app
from sms.simulator.config import SimulatorConfig
from sms.simulator.server import RunningServer, serve_in_background
from sms.texts import SmsTexts
from sms.whatsapp_gateway import AfricasTalkingWhatsApp

TEXTS = SmsTexts.load()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Stack:
    service: RunningServer
    simulator: RunningServer
    http: httpx.AsyncClient
    sessions: SessionFactory

    async def inbox(self, phone: str | None) -> list[dict[str, Any]]:
        answer = await self.http.get(f"{self.simulator.url}/sim/inbox/{phone}")
        return list(answer.json()["messages"])

    async def texts(self, phone: str | None) -> list[str]:
        return [m["text"] for m in await self.inbox(phone)]

    async def phone_sends(self, phone: str | None, text: str) -> None:
        answer = await self.http.post(
            f"{self.simulator.url}/sim/phones/{phone}/sms", json={"text": text, "to": "20880"}
        )
        assert answer.status_code == 200 and answer.json()["service_status"] == 200

    async def fault(self, **fault: Any) -> None:
        assert (await self.http.post(f"{self.simulator.url}/sim/faults", json=fault)).is_success

    async def requests_seen(self) -> dict[str, Any]:
        return dict((await self.http.get(f"{self.simulator.url}/sim/requests")).json())

    def sender(self, clock: Clock, *, via: str | None = None, **policy: Any) -> Sender:
        gateway = AfricasTalkingGateway(
            username="sandbox",
            api_key=SIMULATOR_API_KEY,
            base_url=via or self.simulator.url,
            timeout_s=1.0,
        )
        whatsapp = AfricasTalkingWhatsApp(
            username="sandbox",
            api_key=SIMULATOR_API_KEY,
            base_url=via or self.simulator.url,
            timeout_s=1.0,
        )
        return Sender(
            self.sessions,
            gateway,
            TEXTS,
            policy=SendPolicy(**policy),
            clock=clock,
            rng=random.Random(3),
            whatsapp=whatsapp,
        )

    def worker(self, clock: Clock, **policy: Any) -> Worker:
        jobs: list[Job] = [*DEFAULT_JOBS, sms_job(self.sender(clock, **policy))]
        return Worker(self.sessions, jobs, clock=clock)


@pytest_asyncio.fixture
async def stack(settings: Settings, sessions: SessionFactory) -> AsyncIterator[Stack]:
    # The worker runs under the test's clock, not inside the service.
    app = create_app(settings.model_copy(update={"worker_in_process": False}))
    service = await serve_in_background(app)
    simulator = await serve_in_background(
        create_simulator_app(
            SimulatorConfig(service_url=service.url, delivery_delay_s=0.05, seed=11)
        )
    )
    async with httpx.AsyncClient(timeout=10) as http:
        # The worker shares the service's engine, as it does inside `copline serve`.
        yield Stack(service, simulator, http, app.state.services.sessions)
    await simulator.stop()
    await service.stop()
