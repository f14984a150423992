"""The outbox rows a sender holds: claimed under a lease, handed to the gateway request by
request, then settled.

A claim marks a batch `sending` with a random token and a short lease. Every later
write names the token, so a worker whose lease ran out (stalled, not dead) can
neither hand a row to the gateway nor overwrite what another worker did with it.

A row's `handed_at` is set, in its own commit, just before its request goes to the
gateway (the lease of the rest of the batch is renewed then, when it runs short).
When a lease runs out, that mark is what tells apart the two kinds of rows a dead
worker leaves:

- never handed over: provably never left, so queued again and sent by someone else
  (a live worker whose hand-over failed as the database went away gives its rows back
  itself, as the mark may have been committed all the same);
- handed over: AT may have it. `unknown`, never resent; a delivery report with its
  id settles it, if the id was stored before the worker died.

A phone's messages go out in the order they were written: a row is not claimed
while an older one to the same phone is due or being sent.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import SessionFactory
from service.domain.sign_in import SIGN_IN
from service.models import Message
from service.models.enums import Language, MessageStatus

TABLE = Message.__table__  # type: ignore[attr-defined]


def _literal(status: MessageStatus) -> Any:
    # Literals, not parameters: PostgreSQL uses the partial index on pending rows only
    # when it can see, in the plan, that the query asks for its statuses.
    return sa.literal_column(f"'{status.value}'")


_QUEUED = _literal(MessageStatus.queued)
_SENDING = _literal(MessageStatus.sending)


@dataclass
class Claimed:
    id: int
    programme_id: int
    person_id: int | None
    meeting_id: int | None
    community_id: int | None
    kind: str
    phone: str
    template: str | None
    params: dict[str, Any] | None
    language: Language | None
    body: str | None
    attempts: int
    token: str
    values: dict[str, Any] = field(default_factory=dict)  # what to store for this row
    footer: bool = False  # carries the how-to-stop line
    blacklisted: bool = False  # AT says the number blocks our sender id
    error_kind: str = "none"  # what went wrong at the gateway, as the sends metric says it


async def expire_leases(sessions: SessionFactory, now: datetime) -> tuple[int, int]:
    """Rows a dead worker left `sending`: (queued again, now unknown)."""
    expired = (TABLE.c.status == _SENDING, TABLE.c.lease_until < now)
    async with sessions() as session:
        requeued = await session.execute(
            sa.update(TABLE)
            .where(*expired, TABLE.c.handed_at.is_(None))
            .values(
                status=MessageStatus.queued,
                lease_until=None,
                claim_token=None,
                updated_at=now,
            )
        )
        unknown = await session.execute(
            sa.update(TABLE)
            .where(*expired, TABLE.c.handed_at.is_not(None))
            .values(
                status=MessageStatus.unknown,
                lease_until=None,
                last_error="the sender stopped after handing it to the gateway: not resent",
                updated_at=now,
            )
        )
        await session.commit()
    return _count(requeued), _count(unknown)


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def claim_statement(now: datetime, *, batch: int, lease: timedelta, token: str) -> sa.Update:
    """Mark up to `batch` due rows `sending` under `token`, returning what a sender needs."""
    older = TABLE.alias("older")
    an_older_one_is_pending = (
        sa.select(older.c.id)
        .where(
            older.c.phone == TABLE.c.phone,
            older.c.status.in_([_QUEUED, _SENDING]),
            older.c.id < TABLE.c.id,
            sa.or_(older.c.status == _SENDING, older.c.send_after <= now),
        )
        .exists()
    )
    picked = (
        sa.select(TABLE.c.id)
        .where(
            # Only outbound rows are ever queued: no filter on direction, which with
            # statistics that lag a burst made the planner sort every due row.
            TABLE.c.status == _QUEUED,
            TABLE.c.send_after <= now,
            ~an_older_one_is_pending,
        )
        # By due time alone: the index of due rows then yields them in order and
        # the planner probes each for an older message to its phone, stopping at `batch`.
        # (With id in the ORDER BY it sorted every due row: 60 ms for 20,000, growing.)
        # A phone's own order is kept by that probe, not by this ORDER BY.
        .order_by(TABLE.c.send_after)
        .limit(batch)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return (
        sa.update(TABLE)
        .where(TABLE.c.id.in_(picked))
        .values(
            status=MessageStatus.sending,
            lease_until=now + lease,
            claim_token=token,
            handed_at=None,
            updated_at=now,
        )
        .returning(
            TABLE.c.id,
            TABLE.c.programme_id,
            TABLE.c.person_id,
            TABLE.c.meeting_id,
            TABLE.c.community_id,
            TABLE.c.kind,
            TABLE.c.phone,
            TABLE.c.template,
            TABLE.c.params,
            TABLE.c.language,
            TABLE.c.body,
            TABLE.c.attempts,
        )
    )


async def claim(
    sessions: SessionFactory, now: datetime, *, batch: int, lease: timedelta
) -> list[Claimed]:
    """Mark a batch of due rows `sending` under a fresh token: one statement."""
    token = secrets.token_hex(16)
    statement = claim_statement(now, batch=batch, lease=lease, token=token)
    async with sessions() as session:
        result = await session.execute(statement)
        rows = [Claimed(**row._mapping, token=token) for row in result.all()]
        await session.commit()
    return sorted(rows, key=lambda r: r.id)


def _held(token: str, ids: Sequence[int]) -> tuple[Any, ...]:
    return (TABLE.c.id.in_(list(ids)), TABLE.c.claim_token == token, TABLE.c.status == _SENDING)


async def hand_off(
    sessions: SessionFactory,
    rows: Sequence[Claimed],
    renew: Sequence[Claimed],
    now: datetime,
    lease: timedelta,
) -> set[int]:
    """Mark `rows` as handed to the gateway, and renew their lease and that of `renew`
    (the rest of the batch, when its lease is running short).

    Returns the ids of `rows` still held by this claim: only those may be sent.
    """
    if not rows:
        return set()
    token = rows[0].token
    async with sessions() as session:
        handed = await session.execute(
            sa.update(TABLE)
            .where(*_held(token, [r.id for r in rows]))
            .values(handed_at=now, attempts=TABLE.c.attempts + 1, lease_until=now + lease)
            .returning(TABLE.c.id)
        )
        ids = {int(row[0]) for row in handed.all()}
        rest = [r.id for r in renew if r.id not in ids]
        if rest:
            await session.execute(
                sa.update(TABLE).where(*_held(token, rest)).values(lease_until=now + lease)
            )
        await session.commit()
    for row in rows:
        if row.id in ids:
            row.attempts += 1
    return ids


def _without_secret(row: Claimed, values: dict[str, Any]) -> dict[str, Any]:
    """A sign-in code is kept only until it has left: the stored text and values then
    say `******`, so nobody reading the message log (or the database) can sign in."""
    if row.kind != SIGN_IN or values.get("status") in (None, MessageStatus.queued):
        return values
    code = str((row.params or {}).get("code", ""))
    hidden = "*" * len(code)
    values["params"] = {**(row.params or {}), "code": hidden}
    if code and isinstance(values.get("body"), str):
        values["body"] = values["body"].replace(code, hidden)
    return values


async def store(session: AsyncSession, rows: Sequence[Claimed], now: datetime) -> None:
    """Write each row's outcome, if the claim still holds it; grouped by changed columns."""
    by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        values = _without_secret(row, {**row.values, "updated_at": now, "lease_until": None})
        by_shape.setdefault(tuple(sorted(values)), []).append(
            {"_id": row.id, "_token": row.token, **values}
        )
    for shape, params in by_shape.items():
        await session.execute(
            sa.update(TABLE)
            .where(TABLE.c.id == sa.bindparam("_id"), TABLE.c.claim_token == sa.bindparam("_token"))
            .values({name: sa.bindparam(name) for name in shape}),
            params,
        )


async def give_back(sessions: SessionFactory, rows: Sequence[Claimed], now: datetime) -> None:
    """Queue again rows this claim never passed to the gateway, whatever their hand-over
    mark says (it may have been committed as the connection broke, and a lease that ran
    out since may have made them `unknown`)."""
    if not rows:
        return
    async with sessions() as session:
        await session.execute(
            sa.update(TABLE)
            .where(
                TABLE.c.id.in_([r.id for r in rows]),
                TABLE.c.claim_token == rows[0].token,
                TABLE.c.status.in_([_SENDING, _literal(MessageStatus.unknown)]),
                TABLE.c.provider_id.is_(None),
            )
            .values(
                status=MessageStatus.queued,
                handed_at=None,
                lease_until=None,
                claim_token=None,
                last_error=None,
                updated_at=now,
            )
        )
        await session.commit()
