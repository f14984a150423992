"""Consent is a history: each time a person gives, refuses or withdraws it, one row.

The person's `consent` (and `consent_at`, `consent_channel`) is always the latest row.
Refusing or withdrawing consent stops every message to the person, as STOP does (their
queued messages are dropped). Giving it again restarts messages only where the stop was
recorded by staff (the API, an import, the console or the command line): a stop the
person made themselves (STOP by SMS, their network's opt-out) is lifted only by their
own START, so a roster that still says "given" cannot undo a teacher's STOP.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit
from service.domain.actor import Actor
from service.domain.errors import ValidationError
from service.domain.people import opt_in, opt_out
from service.models import ConsentRecord, Message, Person
from service.models.enums import Channel, ConsentState, MessageStatus
from service.models.types import utcnow

RECORDED = (ConsentState.given, ConsentState.refused, ConsentState.withdrawn)
# Stops recorded by staff, which staff recording consent given may lift again.
STAFF_CHANNELS = frozenset({Channel.api, Channel.import_, Channel.console, Channel.cli})


async def record_consent(
    person: Person,
    state: ConsentState,
    *,
    channel: Channel,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> ConsentRecord:
    """Add `state` to the person's consent history and make it their current consent."""
    (entry,) = await record_consents(
        [(person, state)], channel=channel, session=session, actor=actor, now=now
    )
    return entry


async def record_consents(
    changes: Sequence[tuple[Person, ConsentState]],
    *,
    channel: Channel,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> list[ConsentRecord]:
    """`record_consent` for many people at once (a roster): one flush, one statement to
    drop what was queued for those it stops."""
    now = now or utcnow()
    entries, stopped = [], []
    for person, state in changes:
        if state not in RECORDED:
            raise ValidationError("consent is given, refused or withdrawn", field="state")
        if person.erased_at is not None:
            raise ValidationError("this person's data was erased", field="person_id")
        assert person.id is not None
        entries.append(
            ConsentRecord(
                person_id=person.id, state=state, at=now, channel=channel,
                recorded_by=actor.label,
            )
        )  # fmt: skip
        person.consent = state
        person.consent_at = now
        person.consent_channel = channel
        person.updated_at = now
        audit.record(
            session, actor, "person.consent", person,
            changes={"consent": state, "channel": channel}, at=now,
        )  # fmt: skip
        if state is ConsentState.given:
            if person.opted_out_at is not None and person.opted_out_channel in STAFF_CHANNELS:
                opt_in(person, channel=channel, session=session, actor=actor)
        elif await opt_out(person, channel=channel, session=session, actor=actor):
            stopped.append(person.id)
    session.add_all(entries)
    if stopped:
        await session.execute(
            sa.update(Message)
            .where(col(Message.person_id).in_(stopped), col(Message.status) == MessageStatus.queued)
            .values(status=MessageStatus.dropped, last_error="consent not given", updated_at=now)
            .execution_options(synchronize_session=False)
        )
    await session.flush()
    return entries


async def history(session: AsyncSession, person_id: int) -> list[ConsentRecord]:
    """A person's consent history, oldest first."""
    stmt = (
        select(ConsentRecord)
        .where(ConsentRecord.person_id == person_id)
        .order_by(col(ConsentRecord.at), col(ConsentRecord.id))
    )
    return list((await session.exec(stmt)).all())
