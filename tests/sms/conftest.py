"""The simulator on a real port, the real SDK sending to it, a stand-in service behind it.

Fixture names carry `at_` or `receiver`: other SMS tests share this folder.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio

from sms.simulator import (
    RunningServer,
    SimulatorConfig,
    serve_in_background,
    serve_simulator_in_background,
)
from tests.sms.stack import stack  # noqa: F401 (copline and the simulator, end to end)
from tests.sms.support import AT_KEY, TOKEN, RunningSimulator, StandInService, StartSimulator


@pytest_asyncio.fixture(scope="session")
async def _receiver_server() -> AsyncIterator[tuple[StandInService, RunningServer]]:
    stand_in = StandInService()
    running = await serve_in_background(stand_in.app())
    yield stand_in, running
    await running.stop()


@pytest_asyncio.fixture
async def receiver(
    _receiver_server: tuple[StandInService, RunningServer],
) -> AsyncIterator[StandInService]:
    """The copline service as the simulator sees it: it records every callback."""
    stand_in, _ = _receiver_server
    stand_in.reset()
    yield stand_in
    stand_in.reset()


@pytest_asyncio.fixture
async def receiver_url(_receiver_server: tuple[StandInService, RunningServer]) -> str:
    return _receiver_server[1].url


@pytest_asyncio.fixture
async def start_at_sim(
    receiver: StandInService, receiver_url: str
) -> AsyncIterator[StartSimulator]:
    """Start a simulator aimed at the receiver; keyword arguments override its config."""
    started: list[RunningSimulator] = []
    base = SimulatorConfig(
        service_url=receiver_url,
        callback_token=TOKEN,
        api_key=AT_KEY,
        delivery_delay_s=0.0,
        seed=1,
    )

    async def start(**overrides: Any) -> RunningSimulator:
        server = await serve_simulator_in_background(dataclasses.replace(base, **overrides), port=0)
        at_sim = RunningSimulator(server, httpx.AsyncClient(base_url=server.url, timeout=5))
        started.append(at_sim)
        return at_sim

    yield start
    for at_sim in started:
        await at_sim.http.aclose()
        await at_sim.server.stop()


@pytest_asyncio.fixture
async def at_sim(start_at_sim: StartSimulator) -> RunningSimulator:
    return await start_at_sim()
