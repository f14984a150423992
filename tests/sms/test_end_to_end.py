"""SMS end to end over real HTTP: copline and the Africa's Talking simulator on real ports,
the `africastalking` SDK between them, a controlled clock for the worker.

schedule → reminders reach each phone at the right time in its language → delivery
reports mark them delivered → `YES <code>` records the RSVP → STOP stops everything
after the confirmation. Then the faults: 500s, timeouts, rejected recipients, a
worker killed mid-batch, two workers on one outbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.config import Settings
from service.db import SessionFactory
from service.domain.communities import add_member
from service.models import Attendance, Message, Person, UnmatchedReport
from service.models.enums import Language, MessageStatus, Rsvp
from sms import claims
from sms.gateway import AfricasTalkingGateway
from sms.sender import Sender
from tests import factories as f
from tests.faults.proxy import FaultyProxy
from tests.sms.stack import TEXTS, Clock, Stack

NAIROBI = ZoneInfo("Africa/Nairobi")
TOKEN = "dev-callback-token"
# The world's reminders: one member per language and the facilitator.
RECIPIENTS = len(Language) + 1
CLOCK = {
    Language.en: "14:00",
    Language.sw: "14:00",
    Language.rw: "14:00",
    Language.fr: "14h00",
    Language.ny: "14:00",
}
YES = {
    Language.en: "YES",
    Language.sw: "NDIYO",
    Language.rw: "YEGO",
    Language.fr: "OUI",
    Language.ny: "INDE",
}


async def eventually(check: Callable[[], Any], within: float = 5.0) -> Any:
    """Delivery reports arrive asynchronously; wait for them without a fixed sleep."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.05)


async def world(session: AsyncSession) -> tuple[f.World, list[Person], datetime]:
    """A meeting on a Tuesday at 14:00 Nairobi time; one member per language."""
    w = await f.world(session)
    people = [w.members[0], w.members[1]]
    for _ in range(len(Language) - len(people)):
        p = await f.person(session, w.programme)
        assert p.id is not None and w.community.id is not None
        await add_member(w.pid, w.community.id, p.id, session=session, actor=f.OPERATOR)
        people.append(p)
    for person, language in zip(people, list(Language), strict=True):
        person.language = language
    starts = datetime(2031, 3, 11, 14, tzinfo=NAIROBI)
    meeting = await f.meeting(
        session,
        w.programme,
        w.community,
        at=starts - timedelta(days=10),
        starts_in=timedelta(days=10),
    )
    w.meeting = meeting
    await session.commit()
    return w, people, starts


async def statuses(sessions: SessionFactory, **where: Any) -> list[MessageStatus]:
    async with sessions() as s:
        query = select(Message).where(col(Message.direction) == "out")
        for field, value in where.items():
            query = query.where(getattr(Message, field) == value)
        return [m.status for m in (await s.exec(query)).all()]


async def test_reminders_replies_and_stop_end_to_end(stack: Stack, session: AsyncSession) -> None:
    w, people, starts = await world(session)
    clock = Clock(starts - timedelta(hours=49))
    worker = stack.worker(clock)

    await worker.tick({})
    assert [await stack.texts(p.phone) for p in people] == [[] for _ in people]  # not yet

    clock.now = starts - timedelta(hours=48)
    await worker.tick({})
    for person in people:
        [reminder] = await stack.texts(person.phone)
        assert f"{YES[person.language]} {w.meeting.code}" in reminder
        # 14:00 in Nairobi (11:00 UTC), in the language's own clock format
        assert (" 11 " in reminder) and CLOCK[person.language] in reminder
    # one request per language: the bodies differ
    seen = await stack.requests_seen()
    assert seen["recipients"] >= RECIPIENTS

    async def all_delivered() -> bool:
        return set(await statuses(stack.sessions, kind="reminder")) == {MessageStatus.delivered}

    assert await eventually(all_delivered)

    teacher = people[1]  # speaks Kiswahili
    await stack.phone_sends(teacher.phone, f"ndiyo {w.meeting.code}")
    async with stack.sessions() as s:
        row = (
            await s.exec(
                select(Attendance).where(
                    col(Attendance.meeting_id) == w.meeting.id,
                    col(Attendance.person_id) == teacher.id,
                )
            )
        ).one()
        assert row.rsvp is Rsvp.yes
    await worker.tick({"close_finished_meetings": clock.now, "queue_due_reminders": clock.now})
    replies = await stack.texts(teacher.phone)
    assert len(replies) == 2 and replies[1].startswith("Asante")

    await stack.phone_sends(teacher.phone, "STOP")
    await worker.tick({})
    confirmation = (await stack.texts(teacher.phone))[-1]
    assert "ANZA" in confirmation  # how to start again, in Kiswahili

    clock.now = starts - timedelta(hours=2)
    await worker.tick({})
    assert len(await stack.texts(teacher.phone)) == 3  # nothing after the confirmation
    for person in (p for p in people if p is not teacher):
        assert len(await stack.texts(person.phone)) == 2  # the 2 h round reached the rest


async def queued(session: AsyncSession, at: datetime) -> None:
    from service.domain.reminders import queue_due_reminders

    await queue_due_reminders(session, at)
    await session.commit()


async def rows(sessions: SessionFactory) -> list[Message]:
    async with sessions() as s:
        return list((await s.exec(select(Message).order_by(col(Message.id)))).all())


async def test_a_gateway_answering_500_is_retried_after_backoff_and_sends_once(
    stack: Stack, session: AsyncSession
) -> None:
    _, people, starts = await world(session)
    clock = Clock(starts - timedelta(hours=48))
    await queued(session, clock.now)
    sender = stack.sender(clock, backoff_base=timedelta(seconds=10))

    await stack.fault(mode="http500")
    report = await sender.send_due()
    assert (report.retried, report.sent) == (RECIPIENTS, 0)
    assert {r.last_error for r in await rows(stack.sessions)} == {"HTTP 500: Internal Server Error"}
    assert (await sender.send_due()).claimed == 0  # backing off

    await stack.http.delete(f"{stack.simulator.url}/sim/faults")
    clock.now += timedelta(seconds=11)
    assert (await sender.send_until_idle()).sent == RECIPIENTS
    for person in people:
        assert len(await stack.texts(person.phone)) == 1
    assert {r.attempts for r in await rows(stack.sessions)} == {2}
    assert {r.status for r in await rows(stack.sessions)} <= {
        MessageStatus.sent,
        MessageStatus.delivered,  # the simulator's report may be in already
    }


async def test_an_unreachable_gateway_is_retried(stack: Stack, session: AsyncSession) -> None:
    _, people, starts = await world(session)
    clock = Clock(starts - timedelta(hours=48))
    await queued(session, clock.now)
    nowhere = Sender(
        stack.sessions,
        AfricasTalkingGateway(
            username="sandbox", api_key="x", base_url="http://127.0.0.1:9", timeout_s=1.0
        ),
        TEXTS,
        clock=clock,
    )
    report = await nowhere.send_due()
    assert report.retried == RECIPIENTS
    clock.now += timedelta(minutes=2)
    assert (await stack.sender(clock).send_until_idle()).sent == RECIPIENTS
    assert [len(await stack.texts(p.phone)) for p in people] == [1] * len(people)


async def test_a_send_that_times_out_is_not_resent_and_stays_honestly_unknown(
    stack: Stack, session: AsyncSession
) -> None:
    _, people, starts = await world(session)
    clock = Clock(starts - timedelta(hours=48))
    await queued(session, clock.now)
    # The simulator takes the messages but answers after the client gave up.
    await stack.fault(mode="timeout", delay_s=1.5)
    report = await stack.sender(clock).send_due()
    assert report.unknown == RECIPIENTS and report.retried == 0
    clock.now += timedelta(hours=1)
    assert (await stack.sender(clock).send_until_idle()).claimed == 0  # never resent

    async def reported() -> bool:
        async with stack.sessions() as s:
            return len((await s.exec(select(UnmatchedReport))).all()) == RECIPIENTS

    # AT reports them, but under ids no row carries: which row each is cannot be known.
    assert await eventually(reported)
    assert {(r.status, r.provider_id) for r in await rows(stack.sessions)} == {
        (MessageStatus.unknown, None)
    }
    for person in people:
        assert len(await stack.texts(person.phone)) == 1  # AT took it once, we sent it once


async def test_a_connection_reset_after_at_took_the_request_is_not_sent_again(
    stack: Stack, session: AsyncSession
) -> None:
    _, people, starts = await world(session)
    clock = Clock(starts - timedelta(hours=48))
    await queued(session, clock.now)
    proxy = await FaultyProxy("127.0.0.1", stack.simulator.port, reset_share=1.0).start()
    try:
        report = await stack.sender(clock, via=proxy.url).send_until_idle()
        clock.now += timedelta(hours=1)
        again = await stack.sender(clock, via=proxy.url).send_until_idle()
    finally:
        await proxy.stop()

    assert (report.unknown, report.retried, again.claimed) == (RECIPIENTS, 0, 0)
    assert proxy.counters.resets == len({r.body for r in await rows(stack.sessions)})
    for person in people:
        assert len(await stack.texts(person.phone)) == 1
    assert {r.status for r in await rows(stack.sessions)} == {MessageStatus.unknown}


async def test_a_worker_killed_before_handing_its_batch_over_loses_nothing(
    stack: Stack, session: AsyncSession
) -> None:
    _, people, starts = await world(session)
    clock = Clock(starts - timedelta(hours=48))
    await queued(session, clock.now)
    lease = timedelta(minutes=1)
    # It claimed, then died before the first request left.
    await claims.claim(stack.sessions, clock.now, batch=100, lease=lease)
    clock.now += timedelta(minutes=2)
    report = await stack.sender(clock, lease=lease).send_until_idle()

    assert (report.requeued, report.sent) == (RECIPIENTS, RECIPIENTS)
    for person in people:
        assert len(await stack.texts(person.phone)) == 1


async def test_a_worker_killed_with_its_request_in_flight_leaves_unknown_never_resent(
    stack: Stack, session: AsyncSession
) -> None:
    _, people, starts = await world(session)
    clock = Clock(starts - timedelta(hours=48))
    await queued(session, clock.now)
    await stack.fault(mode="timeout", delay_s=5)
    dying = asyncio.create_task(stack.sender(clock, lease=timedelta(minutes=5)).send_due())

    async def in_flight() -> bool:
        found = await rows(stack.sessions)
        return bool(found) and all(r.handed_at is not None for r in found)

    assert await eventually(in_flight)
    dying.cancel()  # the process dies here
    with pytest.raises(asyncio.CancelledError):
        await dying
    await stack.http.delete(f"{stack.simulator.url}/sim/faults")

    survivor = stack.sender(clock, lease=timedelta(minutes=5))
    assert (await survivor.send_due()).claimed == 0  # the lease still holds
    clock.now += timedelta(minutes=6)
    report = await survivor.send_due()
    assert (report.expired, report.claimed) == (RECIPIENTS, 0)
    assert {r.status for r in await rows(stack.sessions)} == {MessageStatus.unknown}

    # The dead worker's request still reaches the simulator, which accepts it after its
    # 5 s delay (later on a loaded machine): wait for that, never for a fixed time.
    async def counts() -> list[int]:
        return [len(await stack.texts(person.phone)) for person in people]

    async def accepted() -> bool:
        return all(n >= 1 for n in await counts())

    assert await eventually(accepted, within=30.0)
    assert await counts() == [1] * len(people)  # accepted once, never resent


async def _all(stack: Stack, status: MessageStatus) -> bool:
    found = await rows(stack.sessions)
    return bool(found) and {r.status for r in found} == {status}


async def test_recipients_rejected_for_a_passing_reason_are_retried_alone(
    stack: Stack, session: AsyncSession
) -> None:
    _, people, starts = await world(session)
    clock = Clock(starts - timedelta(hours=48))
    await queued(session, clock.now)
    await stack.fault(mode="reject", reject_share=0.5, reject_status_code=500, count=4)
    first = await stack.sender(clock, backoff_base=timedelta(seconds=5)).send_due()
    assert first.retried > 0 and first.sent > 0 and first.retried + first.sent == RECIPIENTS
    clock.now += timedelta(seconds=6)
    assert (await stack.sender(clock).send_until_idle()).sent == first.retried
    for person in people:
        assert len(await stack.texts(person.phone)) == 1


async def test_rejected_recipients_are_recorded_with_their_reason(
    stack: Stack, session: AsyncSession
) -> None:
    _, people, starts = await world(session)
    bad = people[0]
    async with stack.sessions() as s:
        person = await s.get(Person, bad.id)
        assert person is not None
        person.phone = "+2547"  # the simulator refuses what is not E.164
        await s.commit()
    clock = Clock(starts - timedelta(hours=48))
    await queued(session, clock.now)
    report = await stack.sender(clock).send_until_idle()
    assert (report.sent, report.failed) == (RECIPIENTS - 1, 1)
    async with stack.sessions() as s:
        failed = (
            await s.exec(select(Message).where(col(Message.status) == MessageStatus.failed))
        ).one()
        assert failed.person_id == bad.id and "InvalidPhoneNumber" in (failed.last_error or "")


async def test_two_workers_never_send_the_same_row(
    stack: Stack, session: AsyncSession, settings: Settings
) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer; several workers need PostgreSQL")
    w, _, starts = await world(session)
    for n in range(200):  # a bigger community, so the two batches really overlap
        p = await f.person(session, w.programme, phone=f"+2547330{n:05d}")
        assert p.id is not None and w.community.id is not None
        await add_member(w.pid, w.community.id, p.id, session=session, actor=f.OPERATOR)
    await session.commit()
    clock = Clock(starts - timedelta(hours=48))
    await queued(session, clock.now)
    one, two = stack.sender(clock, batch=40), stack.sender(clock, batch=40)
    reports = await asyncio.gather(one.send_until_idle(), two.send_until_idle())
    assert sum(r.sent for r in reports) == 200 + RECIPIENTS
    assert all(r.sent > 0 for r in reports)  # both took part
    seen = await stack.requests_seen()
    assert seen["recipients"] == 200 + RECIPIENTS  # every row exactly once
