"""`copline jobs`: an operator sees each worker job's last run and why one failed."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner

from service.cli.main import app
from service.config import Settings
from service.db import build_engine, build_session_factory
from service.worker import Job, Worker
from tests import factories as f
from tests.sms.stack import Clock


def test_before_any_worker_ran_it_says_how_to_start_one(cli: CliRunner) -> None:
    shown = cli.invoke(app, ["jobs"])
    assert shown.exit_code == 0 and "copline worker" in shown.output


def test_it_lists_each_job_s_outcome_and_the_failure_s_reason(
    cli: CliRunner, settings: Settings
) -> None:
    async def fine(_s: AsyncSession, _now: datetime) -> int:
        return 7

    async def broken(_s: AsyncSession, _now: datetime) -> int:
        raise TimeoutError("the gateway did not answer")

    jobs = [Job("fine", timedelta(minutes=1), fine), Job("broken", timedelta(minutes=1), broken)]

    async def one_tick() -> None:  # on this test's own loop, as a worker process would
        engine = build_engine(settings)
        try:
            worker = Worker(build_session_factory(engine), jobs, clock=Clock(f.now()), name="w1")
            await worker.tick({})
        finally:
            await engine.dispose()

    asyncio.run(one_tick())

    shown = cli.invoke(app, ["jobs"], terminal_width=160)
    assert shown.exit_code == 0, shown.output
    lines = {line.split()[0]: line.split() for line in shown.output.splitlines() if line.strip()}
    assert lines["fine"][5:7] == ["ok", "7"]  # job, day, time, took (n ms), outcome, did
    assert "failed" in lines["broken"]
    assert "broken: TimeoutError('the gateway did not answer')" in shown.output
