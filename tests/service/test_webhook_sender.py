"""Posting webhooks: signed per Standard Webhooks, retried until the endpoint takes them,
each event once and in order per subject, across a worker restart and a crash mid-post."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from service.config import Settings
from service.db import SessionFactory
from service.domain import webhooks
from service.domain.attendance import record_rsvp
from service.domain.meetings import cancel_meeting, reschedule_meeting
from service.domain.people import opt_out
from service.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from service.models.enums import Channel, DeliveryStatus, Rsvp
from service.models.types import utcnow
from service.webhook_sender import WebhookPolicy, WebhookSender, headers, sign
from service.worker import Worker, webhook_job
from tests import factories as f
from tests.service.webhook_receiver import Receiver

# Retries at once: the tests wait for the receiver, not for the backoff.
AT_ONCE = WebhookPolicy(backoff=(timedelta(0),), timeout_s=2.0)


async def _happenings(session: AsyncSession, w: f.World) -> dict[str, list[str]]:
    """Changes on three subjects; returns the event types each subject should get, in order."""
    assert w.meeting.id is not None and w.members[0].id is not None and w.members[1].id is not None
    second = await f.meeting(session, w.programme, w.community, starts_in=timedelta(days=5))
    for member, answer in ((w.members[0], Rsvp.yes), (w.members[1], Rsvp.no)):
        assert member.id is not None
        await record_rsvp(
            w.pid, w.meeting.id, member.id, answer, "sick", session=session, actor=f.OPERATOR
        )
    await session.commit()
    await reschedule_meeting(
        w.programme, w.meeting.id, w.meeting.starts_at + timedelta(hours=3),
        session=session, actor=f.OPERATOR,
    )  # fmt: skip
    assert second.id is not None
    await cancel_meeting(w.programme, second.id, "rain", session=session, actor=f.OPERATOR)
    await record_rsvp(
        w.pid, w.meeting.id, w.members[0].id, Rsvp.no, "rain", session=session, actor=f.OPERATOR
    )
    await opt_out(w.members[1], channel=Channel.sms, session=session, actor=f.OPERATOR)
    await session.commit()
    return {
        f"meeting:{w.meeting.id}": ["rsvp.given", "rsvp.given", "meeting.moved", "rsvp.given"],
        f"meeting:{second.id}": ["meeting.scheduled", "meeting.cancelled"],
        f"person:{w.members[1].id}": ["person.opted_out"],
    }


async def _endpoint(session: AsyncSession, w: f.World, url: str, **kw: object) -> WebhookEndpoint:
    endpoint = await webhooks.create_endpoint(
        w.pid,
        url,
        webhooks.EVENTS,
        session=session,
        actor=f.OPERATOR,
        **kw,  # type: ignore[arg-type]
    )
    await session.commit()
    return endpoint


async def _order_by_subject(sessions: SessionFactory, endpoint_id: int) -> dict[str, list[str]]:
    async with sessions() as s:
        rows = (
            await s.exec(
                select(WebhookDelivery)
                .where(WebhookDelivery.endpoint_id == endpoint_id)
                .order_by(col(WebhookDelivery.id))
            )
        ).all()
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row.subject, []).append(row.message_id)
    return found


async def _until(check: Callable[[], bool]) -> None:
    for _ in range(400):  # 20 s at most
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("gave up waiting")


def _worker(sessions: SessionFactory, policy: WebhookPolicy = AT_ONCE) -> Worker:
    sender = WebhookSender(sessions, policy=policy)
    return Worker(sessions, [webhook_job(sender, every=timedelta(milliseconds=50))])


async def test_an_endpoint_that_fails_for_a_while_gets_every_event_once_in_order_after_a_restart(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w = await f.world(session)
    receiver = Receiver()
    await receiver.start()
    await receiver.stop()  # down: its port refuses connections
    endpoint = await _endpoint(session, w, receiver.url)
    receiver.secret = endpoint.secret
    expected = await _happenings(session, w)

    # The first worker meets a refused connection, then HTTP 500s, and is stopped.
    stop = asyncio.Event()
    first = asyncio.create_task(_worker(sessions).run(stop))
    await asyncio.sleep(0.3)
    receiver.failing = True
    await receiver.start()
    await _until(lambda: len(receiver.requests) >= 6)
    stop.set()
    await first
    assert receiver.processed == []

    # A new worker (a restart) continues from the database once the endpoint recovers.
    receiver.failing = False
    before = len(receiver.requests)
    stop = asyncio.Event()
    second = asyncio.create_task(_worker(sessions).run(stop))
    try:
        await _until(lambda: len(receiver.processed) == 7)
        await asyncio.sleep(0.3)  # and nothing more comes
    finally:
        stop.set()
        await second
        await receiver.stop()

    assert endpoint.id is not None
    order = await _order_by_subject(sessions, endpoint.id)
    processed = [r.message_id for r in receiver.processed]
    for subject, types in expected.items():
        got = [r for r in receiver.processed if r.message_id in order[subject]]
        assert [r.message_id for r in got] == order[subject]
        assert [r.payload["type"] for r in got] == types
    assert len(processed) == len(set(processed)) == 7
    assert receiver.refused_signatures == 0
    # After recovering, each id came once: no duplicate in the normal path.
    after = [r.message_id for r in receiver.requests[before:]]
    assert sorted(after) == sorted(processed)
    async with sessions() as s:
        statuses = (await s.exec(select(WebhookDelivery.status))).all()
        assert set(statuses) == {DeliveryStatus.delivered}


async def test_a_later_event_of_a_subject_waits_while_an_earlier_one_is_retried(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w = await f.world(session)
    receiver = Receiver()
    await receiver.start()
    endpoint = await _endpoint(session, w, receiver.url)
    receiver.secret = endpoint.secret
    expected = await _happenings(session, w)
    receiver.failing = True
    sender = WebhookSender(sessions, policy=AT_ONCE)
    try:
        await sender.send_once()
        # Only the head of each subject was tried: the rest wait their turn.
        assert sorted(r.payload["type"] for r in receiver.requests) == sorted(
            types[0] for types in expected.values()
        )
        receiver.failing = False
        assert await sender.send_until_idle() == 7
    finally:
        await receiver.stop()
    assert len(receiver.processed) == 7


async def test_a_worker_that_dies_mid_post_loses_nothing_and_the_id_lets_the_receiver_dedupe(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w = await f.world(session)
    receiver = Receiver()
    await receiver.start()
    endpoint = await _endpoint(session, w, receiver.url)
    receiver.secret = endpoint.secret
    await _happenings(session, w)
    policy = WebhookPolicy(backoff=(timedelta(0),), lease=timedelta(seconds=60))
    dying = WebhookSender(sessions, policy=policy)
    later = timedelta(0)
    successor = WebhookSender(sessions, policy=policy, clock=lambda: utcnow() + later)
    try:
        _, claimed = await dying.claim(dying.clock())
        async with httpx.AsyncClient() as client:
            await dying.post(client, claimed[0])  # posted, then the worker dies: nothing stored
        assert len(receiver.processed) == 1
        # Its rows are leased: no one else takes them until the lease ends…
        assert await successor.send_once() == 0
        later = timedelta(seconds=61)  # …a minute later (well within the receiver's tolerance)
        assert await successor.send_until_idle() == 7
    finally:
        await receiver.stop()
    ids = [r.message_id for r in receiver.requests]
    assert len(ids) == 8 and len(set(ids)) == 7  # the one in flight came twice, same id
    assert len(receiver.processed) == 7  # and was processed once


async def test_signatures_verify_with_the_standard_library_and_a_replay_is_detectable() -> None:
    secret = webhooks.new_secret()
    body = '{"type":"rsvp.given","data":{}}'
    now = int(datetime.now().timestamp())
    sent = headers(secret, "msg_1", now, body)
    assert Webhook(secret).verify(body, sent) == {"type": "rsvp.given", "data": {}}
    # By hand, with nothing but the standard library.
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"msg_1.{now}.{body}".encode(), hashlib.sha256).digest()
    assert sent["webhook-signature"] == "v1," + base64.b64encode(mac).decode()
    # A request captured and replayed later carries its old timestamp: refused.
    old = now - 6 * 60
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, headers(secret, "msg_1", old, body))
    # Refreshing the timestamp breaks the signature; so does changing the body.
    forged = {**headers(secret, "msg_1", old, body), "webhook-timestamp": str(now)}
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(secret).verify(body, forged)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("rsvp", "meeting"), sent)
    # Another endpoint's secret does not verify.
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.new_secret()).verify(body, sent)
    assert sign(secret, "msg_1", now, body) == sent["webhook-signature"]


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


async def test_a_refused_delivery_is_retried_with_backoff_for_a_day_then_failed(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w = await f.world(session)
    endpoint = await _endpoint(session, w, "https://partner.example.org/hooks")
    assert w.members[0].id is not None
    await opt_out(w.members[0], channel=Channel.sms, session=session, actor=f.OPERATOR)
    await session.commit()
    calls: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503)

    clock = Clock(f.now())
    sender = WebhookSender(sessions, clock=clock, transport=httpx.MockTransport(refuse))
    started = clock.now
    waits: list[timedelta] = []
    while True:
        assert await sender.send_once() == 0
        async with sessions() as s:
            delivery = (await s.exec(select(WebhookDelivery))).one()
        if delivery.status is not DeliveryStatus.pending:
            break
        waits.append(delivery.next_attempt_at - clock.now)
        clock.now = delivery.next_attempt_at
    assert delivery.status is DeliveryStatus.failed
    assert clock.now - started >= timedelta(hours=24)
    assert waits[:6] == [timedelta(seconds=s) for s in (5, 30, 120, 600, 1800, 3600)]
    assert max(waits) == timedelta(hours=4)
    assert delivery.attempts == len(calls) and delivery.last_status_code == 503
    # One webhook-id on every attempt; the last few attempts are kept to be seen.
    assert {c.headers["webhook-id"] for c in calls} == {delivery.message_id}
    async with sessions() as s:
        kept = (await s.exec(select(WebhookAttempt))).all()
    assert len(kept) == 10 and {a.error for a in kept} == {"http_503"}
    assert endpoint.id is not None


async def test_a_disabled_endpoint_is_sent_nothing_until_enabled_again(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w = await f.world(session)
    endpoint = await _endpoint(session, w, "https://partner.example.org/hooks")
    assert endpoint.id is not None
    await webhooks.update_endpoint(
        w.pid, endpoint.id, enabled=False, session=session, actor=f.OPERATOR
    )
    await session.commit()
    calls: list[httpx.Request] = []

    def take(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200)

    sender = WebhookSender(sessions, transport=httpx.MockTransport(take))
    await opt_out(w.members[0], channel=Channel.sms, session=session, actor=f.OPERATOR)
    await session.commit()
    assert await sender.send_until_idle() == 0  # a disabled endpoint is owed nothing new
    await webhooks.update_endpoint(
        w.pid, endpoint.id, enabled=True, session=session, actor=f.OPERATOR
    )
    await opt_out(w.members[1], channel=Channel.sms, session=session, actor=f.OPERATOR)
    await session.commit()
    assert await sender.send_until_idle() == 1
    assert len(calls) == 1
    async with sessions() as s:
        count = (await s.execute(sa.select(sa.func.count()).select_from(WebhookDelivery))).scalar()
    assert count == 1


async def test_after_a_rotation_the_old_secret_still_verifies_for_a_day(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w = await f.world(session)
    endpoint = await _endpoint(session, w, "https://partner.example.org/hooks")
    assert endpoint.id is not None
    old = endpoint.secret
    rotated = await webhooks.rotate_secret(w.pid, endpoint.id, session=session, actor=f.OPERATOR)
    new = rotated.secret
    await opt_out(w.members[0], channel=Channel.sms, session=session, actor=f.OPERATOR)
    await session.commit()
    taken: list[httpx.Request] = []

    def partner(request: httpx.Request) -> httpx.Response:
        taken.append(request)
        return httpx.Response(200)

    sender = WebhookSender(sessions, transport=httpx.MockTransport(partner))
    assert await sender.send_until_idle() == 1
    for secret in (new, old):
        Webhook(secret).verify(taken[0].content, dict(taken[0].headers))
    # A day later only the new secret signs.
    rotated.previous_secret_until = f.now() - timedelta(seconds=1)
    await opt_out(w.members[1], channel=Channel.sms, session=session, actor=f.OPERATOR)
    await session.commit()
    assert await sender.send_until_idle() == 1
    Webhook(new).verify(taken[1].content, dict(taken[1].headers))
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(taken[1].content, dict(taken[1].headers))


def test_the_readmes_standard_library_snippet_verifies_ours_and_refuses_a_replay() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("## Webhooks") :]
    snippet = section[section.index("```python") + len("```python") :]
    snippet = snippet[: snippet.index("```")]
    scope: dict[str, Any] = {}
    exec(snippet, scope)  # the reader's code, as written
    verify = scope["verify"]
    secret, body = webhooks.new_secret(), '{"type":"person.opted_out","data":{}}'
    now = int(datetime.now().timestamp())
    signed = headers(secret, "msg_2", now, body, also=[webhooks.new_secret()])
    assert verify(secret, signed, body.encode()) == {"type": "person.opted_out", "data": {}}
    with pytest.raises(ValueError, match="replay"):
        verify(secret, headers(secret, "msg_2", now - 600, body), body.encode())
    with pytest.raises(ValueError, match="bad signature"):
        verify(webhooks.new_secret(), signed, body.encode())


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/graphql", "http://10.0.0.5/x", "http://169.254.169.254/meta"]
)
async def test_in_production_an_endpoint_on_the_services_own_network_is_not_posted_to(
    session: AsyncSession, sessions: SessionFactory, url: str
) -> None:
    w = await f.world(session)
    await _endpoint(session, w, url)
    await opt_out(w.members[0], channel=Channel.sms, session=session, actor=f.OPERATOR)
    await session.commit()
    calls: list[httpx.Request] = []

    def take(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200)

    production = WebhookPolicy(private_hosts=False)
    sender = WebhookSender(sessions, policy=production, transport=httpx.MockTransport(take))
    assert await sender.send_until_idle() == 0
    assert calls == []
    async with sessions() as s:
        delivery = (await s.exec(select(WebhookDelivery))).one()
    assert delivery.status is DeliveryStatus.pending and delivery.last_error == "private_address"
    assert Settings(environment="production", _env_file=None).allows_private_webhooks is False
    assert Settings(_env_file=None).allows_private_webhooks is True
