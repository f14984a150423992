"""Exactly once, or honestly unknown: the fault run (tests/faults/run.py) on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db import SessionFactory
from tests.faults.run import Plan, run, write
from tests.log_audit import log_dir


@pytest.mark.timeout(600)
async def test_under_faults_no_message_is_lost_sent_twice_wrongly_settled_or_stuck(
    database_url: str, sessions: SessionFactory, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers on one outbox need PostgreSQL")
    engine = sessions.kw["bind"]
    assert isinstance(engine, AsyncEngine)

    verdict = await run(engine, database_url, workdir, Plan())

    # Beside the audited logs (CI keeps them; .ci/run prints the summary): under
    # pytest-xdist a test's own output is not shown.
    write(verdict, log_dir().parent)
    with capsys.disabled():
        print("\n" + "\n".join(verdict.lines()))
    assert verdict.clean, "\n".join(verdict.lines())
    assert verdict.statuses["delivered"] > len(verdict.keys) // 2  # the run did send
