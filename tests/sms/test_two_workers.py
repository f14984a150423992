"""Two workers on one PostgreSQL: each periodic job runs once per period between them,
both send, and no message goes twice."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.config import Settings
from service.domain.communities import add_member
from service.domain.job_runs import JobState, job_states
from service.models import Message
from service.worker import DEFAULT_JOBS, Job, Worker, sms_job
from tests import factories as f
from tests.sms.stack import Clock, Stack
from tests.sms.test_end_to_end import RECIPIENTS, world


async def runs(stack: Stack) -> dict[str, JobState]:
    async with stack.sessions() as s:
        return {state.name: state for state in await job_states(s)}


def worker(stack: Stack, clock: Clock, name: str) -> Worker:
    jobs: list[Job] = [*DEFAULT_JOBS, sms_job(stack.sender(clock, batch=40))]
    return Worker(stack.sessions, jobs, clock=clock, name=name)


async def test_one_reminder_round_with_two_workers_runs_each_job_once_and_sends_each_message_once(
    stack: Stack, session: AsyncSession, settings: Settings
) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer; several workers need PostgreSQL")
    w, _, starts = await world(session)
    for n in range(120):
        p = await f.person(session, w.programme, phone=f"+2547331{n:05d}")
        assert p.id is not None and w.community.id is not None
        await add_member(w.pid, w.community.id, p.id, session=session, actor=f.OPERATOR)
    await session.commit()
    clock = Clock(starts - timedelta(hours=48))  # the 48-hour round is due
    one, two = worker(stack, clock, "worker-one"), worker(stack, clock, "worker-two")
    due_one: dict[str, datetime] = {}
    due_two: dict[str, datetime] = {}
    for _ in range(3):  # three ticks each, at once, within the same minute
        await asyncio.gather(one.tick(due_one), two.tick(due_two))
        due_one.clear()
        due_two.clear()
        clock.now += timedelta(seconds=10)

    states = await runs(stack)
    for job in DEFAULT_JOBS:
        assert states[job.name].runs == 1, f"{job.name} ran {states[job.name].runs} times"
        assert states[job.name].outcome == "ok"
    assert states["queue_due_reminders"].count == 120 + RECIPIENTS
    assert states["send_sms"].runs == 6  # every worker sends, each tick
    async with stack.sessions() as s:
        reminders = (await s.exec(select(Message).where(col(Message.kind) == "reminder"))).all()
    assert len(reminders) == 120 + RECIPIENTS
    seen = await stack.requests_seen()
    assert seen["recipients"] == 120 + RECIPIENTS  # the gateway got each once

    # The next period: one of them runs each job again, once.
    clock.now += timedelta(minutes=1)
    await asyncio.gather(one.tick({}), two.tick({}))
    states = await runs(stack)
    assert states["queue_due_reminders"].runs == 2
    assert states["queue_due_reminders"].count == 0  # nothing new was due
    assert {states[j.name].worker for j in DEFAULT_JOBS} <= {"worker-one", "worker-two"}
