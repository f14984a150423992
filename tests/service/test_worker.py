"""The worker loop: jobs run when due, failures do not stop it, a stop request does."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import SessionFactory
from service.domain.attendance import record_presence
from service.models import Meeting
from service.models.enums import MeetingStatus, Presence
from service.worker import DEFAULT_JOBS, Job, Worker
from tests import factories as f


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


async def test_jobs_run_when_due_and_a_failing_job_does_not_stop_the_others(
    sessions: SessionFactory,
) -> None:
    runs: list[str] = []

    async def ok(session: AsyncSession, now: datetime) -> int:
        runs.append("ok")
        return 1

    async def broken(session: AsyncSession, now: datetime) -> int:
        runs.append("broken")
        raise ConnectionError("database went away")

    clock = Clock(f.now())
    worker = Worker(
        sessions,
        [Job("broken", timedelta(minutes=1), broken), Job("ok", timedelta(minutes=5), ok)],
        clock=clock,
    )
    due: dict[str, datetime] = {}
    await worker.tick(due)
    clock.now += timedelta(minutes=2)
    await worker.tick(due)
    assert runs == ["broken", "ok", "broken"]
    assert worker.failures == {"broken": 2}


async def test_the_default_worker_closes_finished_meetings(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    w = await f.world(session)
    assert w.meeting.id is not None and w.members[0].id is not None
    await record_presence(
        w.pid,
        w.meeting.id,
        w.members[0].id,
        Presence.present,
        session=session,
        actor=f.OPERATOR,
        now=w.meeting.starts_at,
    )
    await session.commit()
    worker = Worker(sessions, DEFAULT_JOBS, clock=Clock(w.meeting.ends_at + timedelta(hours=3)))
    await worker.tick({})
    async with sessions() as fresh:
        meeting = await fresh.get(Meeting, w.meeting.id)
        assert meeting is not None and meeting.status is MeetingStatus.held


async def test_the_loop_stops_when_asked(sessions: SessionFactory) -> None:
    stop = asyncio.Event()
    worker = Worker(sessions, [])
    task = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, timeout=2)
