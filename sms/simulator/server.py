"""Serve an ASGI app from inside a running event loop: the simulator beside `copline serve`,
or the simulator and a stand-in service in the tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from sms.simulator.app import create_simulator_app
from sms.simulator.config import SimulatorConfig

STARTUP_TIMEOUT_S = 10.0


class _BackgroundServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The process's own server owns SIGINT/SIGTERM; whoever started this one stops it.
        yield


@dataclass
class RunningServer:
    server: uvicorn.Server
    task: asyncio.Task[None]
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    try:
        await server.serve(sockets=[sock])
    except SystemExit as exc:
        # uvicorn exits the process when the app's startup fails; in a task that
        # would take the host process down with it.
        raise RuntimeError("the server's startup failed") from exc
    finally:
        sock.close()


async def serve_in_background(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, graceful_timeout_s: int = 2
) -> RunningServer:
    """Start serving `app` on this loop; port 0 picks a free port (see `.port`).

    Raises OSError when the address is taken, instead of uvicorn's exit.
    """
    # Binding here turns "address in use" into an OSError; uvicorn would sys.exit.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    config = uvicorn.Config(
        app,
        log_config=None,  # leave the host process's logging as it is
        access_log=False,
        lifespan="on",
        # A request held by the `timeout` fault must not hold up shutdown.
        timeout_graceful_shutdown=graceful_timeout_s,
    )
    server = _BackgroundServer(config)
    task = asyncio.create_task(_serve(server, sock), name=f"uvicorn-{host}:{port}")
    deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT_S
    while not server.started:
        if task.done() or asyncio.get_running_loop().time() > deadline:
            server.should_exit = True
            sock.close()
            await asyncio.gather(task, return_exceptions=True)
            raise RuntimeError(f"the server on {host}:{port} did not start")
        await asyncio.sleep(0.01)
    return RunningServer(server, task, host, int(sock.getsockname()[1]))


async def serve_simulator_in_background(
    config: SimulatorConfig, host: str = "127.0.0.1", port: int = 8790
) -> RunningServer:
    """The simulator on `host:port` in this loop, e.g. from `copline serve`'s lifespan
    when no AT API key is set. Stop it with `await running.stop()`."""
    return await serve_in_background(create_simulator_app(config), host, port)
