"""Claiming stays an index walk that stops at the batch, whatever the outbox looks like."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import outbox
from service.models.enums import Language
from sms import claims
from tests import factories as f


async def test_after_a_burst_of_queued_rows_a_claim_walks_the_due_index_and_probes_each_phone(
    session: AsyncSession,
) -> None:
    if session.bind is None or session.bind.dialect.name != "postgresql":
        pytest.skip("the planner's statistics are PostgreSQL's")
    w = await f.world(session)
    assert w.members[0].id is not None
    now = f.now()
    recipients = [
        outbox.Recipient(w.members[0].id, f"+2547{n:08d}", Language.sw) for n in range(3000)
    ]

    def news(text: str) -> outbox.Batch:
        return outbox.Batch(
            programme=w.programme, recipients=recipients, kind=outbox.BROADCAST,
            template=None, params=None, due=now, quiet=False, body=text,
        )  # fmt: skip

    # Last term's messages, all delivered: as far as the planner knows, nothing is queued.
    await outbox.queue_many(session, [news("Last term")], now)
    await session.execute(sa.text("UPDATE message SET status = 'delivered'"))
    await session.commit()
    await session.execute(sa.text("ANALYZE message"))
    await outbox.queue_many(session, [news("Term dates")], now)  # this term's round
    await session.commit()

    statement = claims.claim_statement(now, batch=500, lease=timedelta(seconds=30), token="t")
    dialect = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]
    sql = statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    plan = "\n".join((await session.execute(sa.text(f"EXPLAIN {sql}"))).scalars())
    await session.rollback()

    # Walked in due order and stopped at 500, not every due row gathered and sorted.
    assert "ix_message_due" in plan and "Sort" not in plan, plan
    assert "ix_message_phone_status_id" in plan, plan
