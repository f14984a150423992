"""`copline at-sim` serves the simulator with the callback token from the settings."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from sms.gateway import SIMULATOR_API_KEY, AfricasTalkingGateway
from tests.sms.support import TOKEN, WANJIRU, StandInService, eventually, send


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_copline_at_sim_accepts_sms_and_reports_to_the_service(
    receiver: StandInService, receiver_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = os.environ | {"COPLINE_CALLBACK_TOKEN": TOKEN, "COPLINE_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "service.cli.main", "at-sim", "--port", str(port)]
    command += ["--service-url", receiver_url, "--delivery-delay", "0"]
    process = await asyncio.create_subprocess_exec(
        *command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url) as client:

            async def answers() -> bool:
                try:
                    return (await client.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            for _ in range(100):
                if process.returncode is not None or await answers():
                    break
                await asyncio.sleep(0.1)
            if process.returncode is not None:
                assert process.stderr is not None
                raise AssertionError((await process.stderr.read()).decode())

            gateway = AfricasTalkingGateway(
                username="sandbox", api_key=SIMULATOR_API_KEY, base_url=url
            )
            [result] = await send(gateway, "Hello from the CLI", WANJIRU)
            await eventually(lambda: len(receiver.delivery_reports) == 1, what="the report")

        assert receiver.delivery_reports[0]["id"] == result.message_id
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)
