"""An admin key reads each worker job's last run; other keys are refused."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import SessionFactory
from service.worker import Job, Worker
from tests import factories as f
from tests.service.api.conftest import Api, Two
from tests.sms.stack import Clock

QUERY = "{ jobRuns { name outcome count runs failures error durationMs startedAt } }"


async def test_an_admin_sees_each_job_s_last_run_and_its_failure(
    api: Api, two: Two, sessions: SessionFactory, session: AsyncSession
) -> None:
    async def fine(_s: AsyncSession, _now: object) -> int:
        return 3

    async def broken(_s: AsyncSession, _now: object) -> int:
        raise ConnectionError("the gateway went away")

    clock = Clock(f.now())
    jobs = [Job("fine", timedelta(minutes=1), fine), Job("broken", timedelta(minutes=1), broken)]
    await Worker(sessions, jobs, clock=clock, name="w1").tick({})

    data = await api.gql(QUERY, key=two.admin_a)
    runs = {r["name"]: r for r in data["jobRuns"]}
    assert runs["fine"]["outcome"] == "ok" and runs["fine"]["count"] == 3
    assert runs["fine"]["runs"] == 1 and runs["fine"]["failures"] == 0
    assert runs["broken"]["outcome"] == "failed" and runs["broken"]["failures"] == 1
    assert "the gateway went away" in runs["broken"]["error"]


async def test_a_key_without_admin_is_refused(api: Api, two: Two) -> None:
    assert await api.errors(QUERY, key=two.reader_a) == ["this API key lacks the 'admin' scope"]
