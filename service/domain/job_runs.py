"""Each periodic job once per period across every worker, and what its last run did.

A worker claims a job's period with one conditional UPDATE of the job's row: the row
changes only if the last run started a whole period ago, so of workers ticking at the
same moment one gets the row and the others see nothing changed. It works the same on
SQLite and PostgreSQL and needs no lock held while the job runs: a worker that dies
mid-run leaves the job to the first worker that ticks in the next period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import JobRun

# Workers tick a few milliseconds apart; without this a period measured from the last
# start would slip by a tick every time and the job would run every other tick.
SLACK = timedelta(seconds=1)


async def register(session: AsyncSession, names: list[str]) -> None:
    """A row for each job not seen before (several workers may start at once)."""
    if not names:
        return
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert(JobRun) if dialect == "postgresql" else sqlite.insert(JobRun)
    rows = [{"name": name, "runs": 0, "failures": 0} for name in names]
    await session.execute(insert.values(rows).on_conflict_do_nothing(index_elements=["name"]))


async def claim(
    session: AsyncSession, name: str, every: timedelta, *, now: datetime, worker: str
) -> bool:
    """Whether this worker runs `name` now: the last run started at least a period ago
    (give or take `SLACK`), and no other worker claimed this period first."""
    last_started = col(JobRun.started_at)
    stmt = (
        sa.update(JobRun)
        .where(
            col(JobRun.name) == name,
            last_started.is_(None) | (last_started <= now - every + SLACK),
        )
        .values(started_at=now, outcome="running", worker=worker[:120])
        .returning(col(JobRun.name))
    )
    return (await session.execute(stmt)).first() is not None


async def finish(
    session: AsyncSession,
    name: str,
    *,
    started: datetime,
    finished: datetime,
    count: int | None,
    error: str | None,
    worker: str,
) -> None:
    """Record how the run that started at `started` ended (a job every worker runs,
    such as sending, records each of its runs here too)."""
    stmt = (
        sa.update(JobRun)
        .where(col(JobRun.name) == name)
        .values(
            started_at=started,
            finished_at=finished,
            duration_ms=int((finished - started).total_seconds() * 1000),
            outcome="failed" if error is not None else "ok",
            count=count,
            error=error[:300] if error is not None else None,
            worker=worker[:120],
            runs=col(JobRun.runs) + 1,
            failures=col(JobRun.failures) + (1 if error is not None else 0),
        )
    )
    await session.execute(stmt)


@dataclass(frozen=True)
class JobState:
    name: str
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    outcome: str | None
    count: int | None
    error: str | None
    worker: str | None
    runs: int
    failures: int


async def job_states(session: AsyncSession) -> list[JobState]:
    rows = (await session.execute(sa.select(JobRun).order_by(col(JobRun.name)))).scalars()
    return [
        JobState(
            r.name,
            r.started_at,
            r.finished_at,
            r.duration_ms,
            r.outcome,
            r.count,
            r.error,
            r.worker,
            r.runs,
            r.failures,
        )
        for r in rows
    ]
