"""The retention policy: message texts and free-text answers older than the programme's
retention period are blanked by the worker, their rows (and the figures) kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import retention
from service.domain.retention import apply_retention, months_before
from service.domain.surveys import latest, open_response, record_answer
from service.models import Answer, Message, Person, Programme, UssdAction, UssdSession
from service.models.enums import Channel, Direction, MessageStatus, Reach
from service.worker import DEFAULT_JOBS
from tests import factories as f

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def test_months_are_calendar_months() -> None:
    assert months_before(NOW, 24) == datetime(2024, 12, 3, 8, 0, tzinfo=UTC)
    assert months_before(datetime(2026, 8, 31, tzinfo=UTC), 6) == datetime(2026, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 13) == datetime(
        2024, 12, 15, tzinfo=UTC
    )


def _message(p: Programme, person: Person, age: timedelta, **values: Any) -> Message:
    assert p.id is not None
    fields: dict[str, Any] = {
        "programme_id": p.id, "person_id": person.id, "direction": Direction.outbound,
        "kind": "reminder", "phone": person.phone or "", "body": "Meeting tomorrow, Grace",
        "params": {"name": "Grace"}, "status": MessageStatus.delivered,
        "cost": Decimal("0.8"), "created_at": NOW - age,
    }  # fmt: skip
    return Message(**(fields | values))


async def test_texts_older_than_the_period_are_blanked_and_their_rows_kept(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    teacher = w.members[0]
    old, recent = timedelta(days=25 * 31), timedelta(days=30)
    rows = {
        "old sms": _message(w.programme, teacher, old),
        "old inbound": _message(
            w.programme,
            teacher,
            old,
            direction=Direction.inbound,
            kind="inbound",
            status=MessageStatus.received,
            cost=None,
            provider_id="ATXid_9",
            params=None,
        ),
        "old whatsapp": _message(w.programme, teacher, old, reach=Reach.whatsapp),
        "old and still queued": _message(w.programme, teacher, old, status=MessageStatus.queued),
        "recent": _message(w.programme, teacher, recent),
    }
    session.add_all(rows.values())
    survey = await latest(session, w.pid, "reflection")
    assert survey is not None and survey.id is not None and teacher.id is not None
    response = await open_response(session, survey.id, teacher.id, Channel.sms, NOW - old)
    for position, raw in enumerate(["2", "5", "yes", "yes", "My head teacher helped"], 1):
        await record_answer(session, response, position, raw, channel=Channel.sms, now=NOW - old)
    session.add(UssdSession(session_id="ATUid_1", programme_id=w.pid, phone=teacher.phone or "",
                            service_code=w.programme.service_code, started_at=NOW - old))  # fmt: skip
    session.add(UssdAction(session_id="ATUid_1", key="4:survey:1:5:1:my head teacher",
                           created_at=NOW - old))  # fmt: skip
    session.add(UssdAction(session_id="ATUid_1", key="5:rsvp:1:yes:", created_at=NOW - recent))
    await session.commit()

    # Three messages, one answer, and the old action whose key held what was typed.
    assert await apply_retention(session, NOW) == 5
    session.expunge_all()

    stored = {name: await session.get(Message, m.id) for name, m in rows.items()}
    for name in ("old sms", "old inbound", "old whatsapp"):
        message = stored[name]
        assert message is not None and (message.body, message.params) == (None, None), name
    sms = stored["old sms"]
    assert sms is not None and (sms.status, sms.cost) == (MessageStatus.delivered, Decimal("0.8"))
    for name in ("old and still queued", "recent"):
        message = stored[name]
        assert message is not None and message.body == "Meeting tomorrow, Grace", name
    assert (await session.exec(select(UssdAction.key))).all() == ["5:rsvp:1:yes:"]
    answers = (await session.exec(select(Answer.value).order_by(col(Answer.id)))).all()
    assert answers == ["2", "5", "yes", "yes", ""]
    assert await apply_retention(session, NOW) == 0  # nothing left to blank


async def test_each_programme_keeps_texts_for_its_own_period(session: AsyncSession) -> None:
    w = await f.world(session)
    w.programme.retention_months = 6
    other = await f.programme(session, slug="ke-other")
    elsewhere = await f.person(session, other)
    seven_months = timedelta(days=7 * 31)
    short = _message(w.programme, w.members[0], seven_months)
    default = _message(other, elsewhere, seven_months)
    session.add_all([short, default])
    await session.commit()

    await apply_retention(session, NOW)
    session.expunge_all()

    assert (await session.get(Message, short.id)).body is None  # type: ignore[union-attr]
    assert (await session.get(Message, default.id)).body is not None  # type: ignore[union-attr]


async def test_a_long_history_is_blanked_in_batches(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)
    w = await f.world(session)
    session.add_all(
        _message(w.programme, w.members[0], timedelta(days=800)) for _ in range(5)
    )  # fmt: skip
    await session.commit()

    assert await apply_retention(session, NOW) == 5
    bodies = (await session.exec(select(Message.body))).all()
    assert bodies == [None] * 5


def test_the_worker_runs_the_retention_job_hourly() -> None:
    [job] = [j for j in DEFAULT_JOBS if j.name == "apply_retention"]
    assert job.every == timedelta(hours=1)


async def test_a_legal_hold_keeps_the_persons_texts(session: AsyncSession) -> None:
    w = await f.world(session)
    held, free = w.members
    held.legal_hold_at = NOW - timedelta(days=1)
    kept = _message(w.programme, held, timedelta(days=800))
    gone = _message(w.programme, free, timedelta(days=800))
    session.add_all([kept, gone])
    await session.commit()

    assert await apply_retention(session, NOW) == 1
    session.expunge_all()

    assert (await session.get(Message, kept.id)).body is not None  # type: ignore[union-attr]
    assert (await session.get(Message, gone.id)).body is None  # type: ignore[union-attr]
