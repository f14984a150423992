"""Session tracking in batches: one bad row never takes the others' funnel data with it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from structlog.testing import capture_logs

from service.db import SessionFactory
from service.models import UssdSession
from service.models.enums import UssdOutcome
from tests import factories as f
from ussd_menus.tracking import SessionTracker

PHONES = ("+254700000001", "+254700000002", "+254700000003")


def hop(programme_id: int, session_id: str, phone: str) -> dict[str, Any]:
    now = f.now()
    return {
        "session_id": session_id,
        "programme_id": programme_id,
        "person_id": None,
        "phone": phone,
        "service_code": "*384*1#",
        "network_code": "63902",
        "hops": 2,
        "path": "welcome>join_code",
        "last_screen": "join_code",
        "outcome": UssdOutcome.open,
        "started_at": now,
        "updated_at": now,
        "ended_at": None,
    }


async def tracked(session: AsyncSession) -> set[str]:
    await session.rollback()
    return set((await session.exec(select(UssdSession.session_id))).all())


def no_phone_logged(logs: Sequence[Mapping[str, Any]]) -> None:
    for entry in logs:
        for phone in (*PHONES, "+2547000000011111111111111"):
            assert phone not in repr(entry)


async def test_a_row_the_database_refuses_is_skipped_and_counted_and_its_batch_is_written(
    sessions: SessionFactory, session: AsyncSession
) -> None:
    w = await f.world(session)
    tracker = SessionTracker(sessions)
    tracker.record(hop(w.pid, "ATUid_a", PHONES[0]))
    tracker.record(hop(999_999, "ATUid_b", PHONES[1]))  # its programme is gone: refused
    tracker.record(hop(w.pid, "ATUid_c", PHONES[2]))
    with capture_logs() as logs:
        assert await tracker.flush() == 2
    assert await tracked(session) == {"ATUid_a", "ATUid_c"}
    assert tracker.skipped == 1
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == [
        "ussd.tracking_rows_skipped"
    ]
    no_phone_logged(logs)


async def test_rows_out_of_the_tables_bounds_are_skipped_before_they_reach_a_batch(
    sessions: SessionFactory, session: AsyncSession
) -> None:
    w = await f.world(session)
    tracker = SessionTracker(sessions)
    with capture_logs() as logs:
        tracker.record(hop(w.pid, "ATUid_a", PHONES[0]))
        tracker.record(hop(w.pid, "ATUid_long_phone", "+2547000000011111111111111"))
        tracker.record(hop(w.pid, "ATUid_\x00nul", PHONES[1]))
        tracker.record(hop(w.pid, "ATUid_" + "x" * 100, PHONES[1]))
        tracker.record(hop(w.pid, "ATUid_c", PHONES[2]))
        assert await tracker.flush() == 2
    assert await tracked(session) == {"ATUid_a", "ATUid_c"}
    assert tracker.skipped == 3
    no_phone_logged(logs)
