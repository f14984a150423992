"""`create_app(settings)`: the one place that composes storage, channels and the API."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Scope

from console.app import build_console
from service import db
from service.access_log import AccessLog
from service.api import cors, ide
from service.api.exports import routes as export_routes
from service.api.flow_results import routes as flow_results_routes
from service.api.schema import build_schema
from service.api.view import CoplineGraphQL
from service.backlog import BacklogProbe, Fixed
from service.config import Settings
from service.events import AttendanceHub, instance_name
from service.listening import listen
from service.metrics import process_exiting, registry
from service.services import Services
from service.worker import Worker, all_jobs
from sms.delivery import ReportSink
from sms.gateway import AfricasTalkingGateway
from sms.simulator import SimulatorConfig, serve_simulator_in_background
from sms.simulator.server import RunningServer
from sms.web import routes as sms_routes
from ussd_menus.engine import UssdEngine
from ussd_menus.web import routes as ussd_routes

log = structlog.get_logger(__name__)

READY_TIMEOUT_S = 2.0
GC_THRESHOLD = 5_000


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        await asyncio.wait_for(db.ping(services.engine), timeout=READY_TIMEOUT_S)
    except Exception as exc:  # any failure means "not ready"; the reason is logged, not shown
        log.warning("readyz.database_unreachable", error=type(exc).__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


async def metrics(request: Request) -> Response:
    """Every process's metrics (with `--workers N`, added up from their files) and the
    queues' backlog read from the database."""
    probe: BacklogProbe = request.app.state.backlog
    backlog = Fixed(await probe.families())
    return Response(generate_latest(registry(backlog)), media_type=CONTENT_TYPE_LATEST)


class ConsoleMount(Mount):
    """The console at `/`, for the paths no other route has. A path of the API or a
    channel asked with another method keeps its own answer (405, or a CORS preflight)
    instead of becoming the console's "not found"."""

    def __init__(self, app: ASGIApp, *, others: list[BaseRoute]) -> None:
        super().__init__("/", app=app)
        self.others = others

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and any(
            route.matches(scope)[0] is not Match.NONE for route in self.others
        ):
            return Match.NONE, {}
        return super().matches(scope)


def create_app(settings: Settings) -> Starlette:
    engine = db.build_engine(settings)
    hub = AttendanceHub()
    instance = instance_name()
    sessions = db.build_session_factory(engine, attendance_hub=hub, instance=instance)
    read_engine, read_sessions = engine, sessions
    if settings.database_read_url is not None:
        read_engine = db.build_read_engine(settings)
        read_sessions = db.build_read_session_factory(read_engine)
    services = Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        attendance_hub=hub,
        read_engine=read_engine,
        read_sessions=read_sessions,
    )
    ussd = UssdEngine(services.sessions)
    reports = ReportSink(services.sessions)
    graphql = CoplineGraphQL(
        build_schema(settings),
        services,
        graphql_ide="graphiql" if settings.serves_graphiql else None,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log.info(
            "app.start",
            environment=settings.environment,
            sqlite=settings.is_sqlite,
            reads_apart=services.reads_apart,
            worker_in_process=settings.runs_worker_in_process,
        )
        # Everything built so far (modules, schema, mappers) lives as long as the process.
        # Freezing it keeps the collector's full passes from walking it again and again:
        # without this a dashboard request stalled ~150 ms every fourth or fifth call.
        gc.collect()
        gc.freeze()
        # A dashboard answer allocates tens of thousands of short-lived objects; the
        # default threshold (700) runs the collector dozens of times per request.
        gc.set_threshold(GC_THRESHOLD, 10, 10)
        simulator = await _start_simulator(settings) if settings.runs_simulator_in_process else None
        stop = asyncio.Event()
        tracking = asyncio.create_task(ussd.tracker.run(stop))
        # Other instances' and workers' attendance changes, for this one's subscribers.
        hearing = None
        if not settings.is_sqlite:
            hearing = asyncio.create_task(listen(settings.database_url, hub, instance, stop))
        worker_task = None
        if settings.runs_worker_in_process:
            jobs = all_jobs(settings, services.sessions)
            worker_task = asyncio.create_task(Worker(services.sessions, jobs).run(stop))
        try:
            yield
        finally:
            stop.set()
            if worker_task is not None:
                await worker_task
            await tracking
            if hearing is not None:
                await hearing
            await ussd.tracker.flush()
            if simulator is not None:
                await simulator.stop()
            await reports.close()
            await engine.dispose()
            if services.reads_apart:
                await read_engine.dispose()
            process_exiting()

    own: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        cors.graphql_http_route(graphql, settings.cors_origins),
        WebSocketRoute("/graphql", graphql),
        *(ide.routes() if settings.serves_graphiql else []),
        *ussd_routes(services, ussd),
        *sms_routes(services, reports),
        *export_routes(services),
        *flow_results_routes(services),
    ]
    app = Starlette(
        # Last: the console answers every path the API and the channels do not have.
        routes=[*own, ConsoleMount(build_console(services), others=own)],
        middleware=[Middleware(AccessLog)],
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.ussd = ussd
    app.state.reports = reports
    app.state.backlog = BacklogProbe(engine)
    return app


async def _start_simulator(settings: Settings) -> RunningServer | None:
    """The AT simulator beside the service, where `at_base_url` points. With several
    web workers the first one binds the port; the others find it taken and go on."""
    where = urlsplit(settings.at_base_url)
    config = SimulatorConfig(
        service_url=settings.public_url or f"http://{settings.host}:{settings.port}",
        callback_token=settings.callback_token.get_secret_value(),
        # The key the gateway will send: copline's own, or the simulator's default.
        api_key=AfricasTalkingGateway.key_for(settings),
    )
    try:
        running = await serve_simulator_in_background(
            config, where.hostname or "127.0.0.1", where.port or 80
        )
    except OSError as exc:
        log.info("at_simulator.not_started", url=settings.at_base_url, reason=str(exc)[:120])
        return None
    log.info("at_simulator.start", url=running.url, phones=f"{running.url}/sim/phones/")
    return running


def create_app_from_env() -> Starlette:
    """Factory for `uvicorn --factory` and multi-worker serving: settings from the environment."""
    from service.logging import configure_logging

    settings = Settings()
    refusal = settings.production_refusal()
    if refusal is not None:  # `copline serve` refuses first; this covers plain uvicorn
        raise SystemExit(f"error: {refusal}")
    configure_logging(settings)
    return create_app(settings)
