"""`/metrics` as an operator's Prometheus reads it: scraped over HTTP after a USSD dial,
a send through the Africa's Talking simulator and its delivery report, each metric
moves as it should, and no label carries a phone or the callback token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api.operation_label import operation_label
from service.api.schema import build_schema
from service.app import create_app
from service.backlog import BacklogProbe, families, read_backlog
from service.config import Settings
from service.db import SessionFactory
from service.demo import seed
from service.domain.actor import Actor
from service.domain.apikeys import create_api_key
from service.models import Message, Person, Programme
from service.models.enums import DeliveryStatus, Direction, MessageStatus, Reach, Scope
from service.models.types import utcnow
from service.models.webhook import WebhookDelivery, WebhookEndpoint
from service.worker import Job, Worker
from sms.gateway import SIMULATOR_API_KEY, AfricasTalkingGateway
from sms.sender import Sender
from sms.simulator.app import create_simulator_app
from sms.simulator.config import SimulatorConfig
from sms.simulator.server import RunningServer, serve_in_background
from sms.texts import SmsTexts
from tests import factories as f

TOKEN = "dev-callback-token"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 for one not exported yet (a counter never incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


@dataclass
class Running:
    service: RunningServer
    simulator: RunningServer
    http: httpx.AsyncClient
    sessions: SessionFactory

    async def scrape(self) -> tuple[str, Samples]:
        answer = await self.http.get(f"{self.service.url}/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        return answer.text, parse(answer.text)

    async def hop(self, session_id: str, code: str, phone: str, text: str) -> str:
        form = {"sessionId": session_id, "serviceCode": code, "phoneNumber": phone, "text": text}
        answer = await self.http.post(f"{self.service.url}/at/{TOKEN}/ussd", data=form)
        assert answer.status_code == 200
        return answer.text


@pytest_asyncio.fixture
async def running(settings: Settings, sessions: SessionFactory) -> AsyncIterator[Running]:
    app = create_app(settings.model_copy(update={"worker_in_process": False}))
    # Read the backlog afresh on every scrape: the test changes it between scrapes.
    app.state.backlog = BacklogProbe(app.state.services.engine, ttl_s=0)
    service = await serve_in_background(app)
    simulator = await serve_in_background(
        create_simulator_app(SimulatorConfig(service_url=service.url, delivery_delay_s=0.05))
    )
    async with httpx.AsyncClient(timeout=10) as http:
        yield Running(service, simulator, http, app.state.services.sessions)
    await simulator.stop()
    await service.stop()


async def eventually(check: Callable[[], Any], within: float = 5.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.05)


async def demo_teacher(session: AsyncSession, slug: str) -> tuple[Programme, Person]:
    programme = (await session.exec(select(Programme).where(Programme.slug == slug))).one()
    person = (
        await session.exec(
            select(Person)
            .where(Person.programme_id == programme.id, Person.reach == Reach.sms)
            .order_by(col(Person.id))
        )
    ).first()
    assert person is not None
    return programme, person


async def test_a_dial_a_send_and_its_report_move_the_metrics_and_leak_no_phone_or_token(
    running: Running, session: AsyncSession
) -> None:
    await seed(session)
    programme, teacher = await demo_teacher(session, "ke-clusters")
    assert programme.id is not None and teacher.phone is not None
    # A broadcast due two minutes ago, by SMS: in the outbox's backlog until sent.
    now = utcnow()
    message = Message(
        programme_id=programme.id,
        person_id=teacher.id,
        direction=Direction.outbound,
        kind="broadcast",
        phone=teacher.phone,
        body="Karibu kwenye mkutano",
        send_after=now - timedelta(minutes=2),
    )
    session.add(message)
    await session.commit()
    _, before = await running.scrape()

    # A USSD dial: home, then a menu, then a choice no screen has.
    code, phone = programme.service_code, teacher.phone
    assert (await running.hop("m-1", code, phone, "")).startswith("CON ")
    assert (await running.hop("m-1", code, phone, "1")).startswith("CON ")
    assert (await running.hop("m-1", code, phone, "1*77")).startswith("CON ")
    bad = await running.http.post(f"{running.service.url}/at/{TOKEN}/ussd", data={"text": ""})
    assert bad.status_code == 400
    _, dialled = await running.scrape()

    hops = "copline_ussd_hops_total"
    assert (
        value(dialled, hops, outcome="continued", screen="home")
        == value(before, hops, outcome="continued", screen="home") + 1
    )
    assert total(dialled, hops, outcome="continued") - total(before, hops, outcome="continued") == 2
    assert total(dialled, hops, outcome="invalid") - total(before, hops, outcome="invalid") == 1
    assert (
        total(dialled, hops, outcome="bad_request") - total(before, hops, outcome="bad_request")
        == 1
    )
    latency = "copline_ussd_hop_duration_seconds_count"
    assert value(dialled, latency) == value(before, latency) + 3
    assert value(dialled, "copline_ussd_hop_duration_seconds_bucket", le="+Inf") == value(
        dialled, latency
    )
    # The backlog, read from the database: the broadcast (and the demo's own rows) due.
    assert value(dialled, "copline_backlog_up") == 1
    assert value(dialled, "copline_outbox_due_messages", channel="sms") >= 1
    assert value(dialled, "copline_outbox_oldest_due_age_seconds", channel="sms") >= 120
    queued = value(dialled, "copline_outbox_messages", status="queued", channel="sms")
    assert queued >= 1

    # A send through the simulator, by the worker's job, and the simulator's report.
    gateway = AfricasTalkingGateway(
        username="sandbox", api_key=SIMULATOR_API_KEY, base_url=running.simulator.url
    )
    sender = Sender(running.sessions, gateway, SmsTexts.load())

    async def send(_session: AsyncSession, _now: datetime) -> int:
        return (await sender.send_until_idle()).sent

    async def fail(_session: AsyncSession, _now: datetime) -> int:
        raise RuntimeError("broken")

    jobs = [Job("send_sms", timedelta(seconds=2), send, everywhere=True)]
    jobs.append(Job("always_fails", timedelta(seconds=2), fail, everywhere=True))
    await Worker(running.sessions, jobs).tick({})

    async def delivered() -> bool:
        async with running.sessions() as s:
            row = await s.get(Message, message.id)
            return row is not None and row.status is MessageStatus.delivered

    assert await eventually(delivered)
    text, after = await running.scrape()

    sends = "copline_sends_total"
    sent = dict(channel="sms", status="sent", error_kind="none")
    assert value(after, sends, **sent) - value(before, sends, **sent) >= 1
    assert value(after, "copline_outbox_oldest_due_age_seconds", channel="sms") < 120
    assert value(after, "copline_outbox_messages", status="queued", channel="sms") < queued
    lag = "copline_delivery_report_lag_seconds_count"
    assert value(after, lag, channel="sms", status="delivered") > value(
        before, lag, channel="sms", status="delivered"
    )
    reports = "copline_delivery_reports_total"
    assert value(after, reports, result="moved") > value(before, reports, result="moved")
    runs = "copline_job_runs_total"
    assert (
        value(after, runs, job="send_sms", outcome="ok")
        == value(before, runs, job="send_sms", outcome="ok") + 1
    )
    assert (
        value(after, runs, job="always_fails", outcome="failed")
        == value(before, runs, job="always_fails", outcome="failed") + 1
    )
    assert value(after, "copline_job_last_success_timestamp_seconds", job="send_sms") > 0
    callbacks = "copline_http_request_duration_seconds_count"
    ussd = dict(face="callbacks", operation="/at/{token}/ussd")
    assert value(after, callbacks, **ussd) - value(before, callbacks, **ussd) == 4

    # Nothing a caller typed or owns: no phone of the demo in any form, nor the token.
    phones = [p for p in (await session.exec(select(Person.phone))).all() if p]
    assert len(phones) > 20
    for number in phones:
        assert number not in text and number.lstrip("+") not in text
    assert TOKEN not in text


async def test_graphql_and_console_requests_are_timed_by_root_field_and_route(
    running: Running, session: AsyncSession
) -> None:
    await seed(session)
    programme = (await session.exec(select(Programme).where(Programme.slug == "rw-sbi"))).one()
    issued = await create_api_key(
        programme, "metrics", [Scope.read], session=session, actor=Actor.system()
    )
    await session.commit()
    _, before = await running.scrape()
    headers = {"Authorization": f"Bearer {issued.secret}"}
    graphql = f"{running.service.url}/graphql"
    # The operation's name is the client's free text: never a label.
    query = "query Whatever_The_Client_Likes_4821 { programme { name } }"
    answer = await running.http.post(graphql, json={"query": query}, headers=headers)
    assert answer.status_code == 200 and "errors" not in answer.json()
    await running.http.post(graphql, json={"query": "{ noSuchField }"}, headers=headers)
    await running.http.get(f"{running.service.url}/")
    text, after = await running.scrape()

    count = "copline_http_request_duration_seconds_count"
    for labels in (
        {"face": "graphql", "operation": "query.programme"},
        {"face": "graphql", "operation": "other"},
        {"face": "console", "operation": "/"},
    ):
        assert value(after, count, **labels) == value(before, count, **labels) + 1, labels
    assert "Whatever_The_Client_Likes" not in text and "noSuchField" not in text
    assert issued.secret not in text
    responses = "copline_http_responses_total"
    assert value(after, responses, face="graphql", status="2xx") >= 2


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("{ programme { name } }", "query.programme"),
        ("query A { __typename programme { name } }", "query.programme"),
        ("query A { a: programme { name } }", "query.programme"),  # an alias is the client's
        ("{ __schema { types { name } } }", "query.introspection"),
        ("mutation { nothingLikeThis }", "other"),
        ("query A { programme { name } } query B { me }", "other"),  # which one? not said
        ("{ ...F } fragment F on Query { programme { name } }", "other"),
    ],
)
def test_a_graphql_request_is_labelled_by_a_root_field_of_the_schema(
    query: str, label: str
) -> None:
    from graphql import parse as parse_graphql

    schema = build_schema()._schema
    assert operation_label(schema, parse_graphql(query), None) == label


async def test_the_backlog_is_left_out_when_the_database_does_not_answer_in_time(
    running: Running,
) -> None:
    class Stalled(BacklogProbe):
        async def _read(self) -> Any:
            await asyncio.sleep(5)

    probe = Stalled(None, ttl_s=0, timeout_s=0.1)  # type: ignore[arg-type]
    found = {family.name: family for family in await probe.families()}
    assert found["copline_backlog_up"].samples[0].value == 0
    assert "copline_outbox_messages" not in found


async def test_the_webhook_queue_s_pending_deliveries_and_oldest_due_age_are_read(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    now = utcnow()
    w = await f.world(session)
    endpoint = WebhookEndpoint(
        programme_id=w.pid, url="https://partner.example/hook", events=["attendance.marked"],
        secret="whsec_x", created_by="tests",
    )  # fmt: skip
    session.add(endpoint)
    await session.flush()
    assert endpoint.id is not None
    for n, (status, due) in enumerate(
        [
            (DeliveryStatus.pending, now - timedelta(minutes=3)),
            (DeliveryStatus.pending, now + timedelta(minutes=5)),  # retrying later
            (DeliveryStatus.delivered, now - timedelta(hours=1)),
        ]
    ):
        session.add(
            WebhookDelivery(
                endpoint_id=endpoint.id, programme_id=w.pid, message_id=f"msg_{n}",
                event="attendance.marked", subject=f"meeting:{n}", body="{}",
                status=status, next_attempt_at=due,
            )
        )  # fmt: skip
    await session.commit()
    async with engine.connect() as connection:
        backlog = await read_backlog(connection, now)
    found = {m.name: m.samples[0].value for m in families(backlog, 0.0) if m.samples}
    assert found["copline_webhook_pending_deliveries"] == 2
    assert 179 <= found["copline_webhook_oldest_due_age_seconds"] <= 181
