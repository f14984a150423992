"""A WhatsApp message reported failed goes again by SMS, with the reason.

WhatsApp often learns only after accepting a message that it cannot deliver it (the
number left WhatsApp, the phone never came back online, Meta's Cloud API reports
"not on WhatsApp" this way): the teacher must still hear of the meeting. The failed
row stays as it is, the record of the attempt; a new SMS row, the same message for
the same person, is queued with the reason, once (its dedupe key is the failed row's).
The sender renders it again (a person's first SMS still says how to stop), and
re-checks STOP, membership and the meeting as for any row.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Message
from service.models.enums import MessageStatus, Reach

TABLE = Message.__table__  # type: ignore[attr-defined]
COPIED = (
    "programme_id",
    "person_id",
    "meeting_id",
    "direction",
    "community_id",
    "kind",
    "phone",
    "template",
    "params",
    "language",
)


def fallback_key(message_id: int) -> str:
    return f"whatsapp_failed:{message_id}"


async def resend_by_sms(session: AsyncSession, failed_ids: Collection[int], now: datetime) -> int:
    """Queue an SMS for each of these failed WhatsApp messages; returns how many."""
    if not failed_ids:
        return 0
    source = sa.select(
        *(TABLE.c[name] for name in COPIED),
        # A template is rendered again for SMS; words a person wrote are sent as written.
        sa.case((TABLE.c.template.is_(None), TABLE.c.body), else_=None),
        sa.literal(MessageStatus.queued.value),
        sa.literal(Reach.sms.value),
        sa.func.substr(
            sa.literal("WhatsApp failed: ") + sa.func.coalesce(TABLE.c.last_error, ""), 1, 80
        ),
        sa.literal("whatsapp_failed:") + sa.cast(TABLE.c.id, sa.String),
        sa.literal(now),
        sa.literal(now),
    ).where(
        TABLE.c.id.in_(sorted(failed_ids)),
        TABLE.c.reach == Reach.whatsapp.value,
        TABLE.c.status == MessageStatus.failed.value,
    )
    columns = [
        *COPIED,
        "body",
        "status",
        "reach",
        "fallback_reason",
        "dedupe_key",
        "created_at",
        "updated_at",
    ]
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert(TABLE) if dialect == "postgresql" else sqlite.insert(TABLE)
    result = await session.execute(
        insert.from_select(columns, source).on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    return int(getattr(result, "rowcount", 0) or 0)
