"""WhatsApp's callbacks from Africa's Talking (or the simulator): status and inbound.

Both arrive as forms or JSON objects with the same flat fields (`sms.web` reads
either). AT documents neither; these are the fields the simulator posts (see
`sms.simulator.whatsapp`), named as AT names its SMS callbacks' fields:

- status: `id, status (sent | delivered | read | failed), phoneNumber, date,
  failureReason`. It becomes a `sms.delivery.DeliveryReport`, so a WhatsApp
  message's status moves forward only, by its provider id, exactly as an SMS's
  (and a report that comes before the id is stored waits, as theirs do). `read`
  is stored as `delivered`: copline keeps no read state.
- inbound: `id, from, to, date, text, button, replyTo`. `button` is the label
  of the quick reply tapped (its text is also in `text`); `replyTo` the provider
  id of the message whose button it was.

`receive_whatsapp` stores an inbound message once (by its id) as an inbound
Message with reach `whatsapp`, and moves the sender's `whatsapp_last_inbound_at`
(the 24-hour window) in every programme that hears the business number it was
sent to. It does not act on the text yet: RSVP by button, STOP and the keywords
are the next step, at the marked place below.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
import structlog
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.phones import mask_phone
from service.models import Message, Person, Programme
from service.models.enums import Direction, MessageStatus, Reach
from sms.delivery import BLACKLISTED, DeliveryReport
from sms.inbound import BadInbound, parse_date, store_inbound

log = structlog.get_logger(__name__)

TABLE = Message.__table__  # type: ignore[attr-defined]
PERSON = Person.__table__  # type: ignore[attr-defined]
PHONE = re.compile(r"^\+\d{8,15}$")
MAX_TEXT = 4096
MAX_ID = 80

STATUSES: Mapping[str, MessageStatus] = {
    "sent": MessageStatus.sent,
    "delivered": MessageStatus.delivered,
    "read": MessageStatus.delivered,
    "failed": MessageStatus.failed,
}


class BadCallback(ValueError):
    """The fields are not a WhatsApp callback; the caller answers 400."""


def _id(fields: Mapping[str, str], name: str, *, required: bool) -> str | None:
    value = (fields.get(name) or "").strip()
    if len(value) > MAX_ID:
        raise BadCallback(f"{name} is too long")
    if required and not value:
        raise BadCallback(f"{name} is missing")
    return value or None


def parse_status(fields: Mapping[str, str]) -> DeliveryReport:
    provider_id = _id(fields, "id", required=True)
    assert provider_id is not None
    reported = (fields.get("status") or "").strip()
    if not reported:
        raise BadCallback("status is missing")
    status = STATUSES.get(reported.lower())
    if status is None:
        raise BadCallback(f"unknown status {reported[:20]!r}")
    reason = (fields.get("failureReason") or "").strip()[:90]
    if reason.replace(" ", "").lower() == BLACKLISTED:
        # An SMS word: it must not opt anyone out of SMS from a WhatsApp status.
        reason = f"WhatsApp {reason}"
    return DeliveryReport(
        provider_id=provider_id,
        status=status,
        reported=f"WhatsApp {reported.lower()}",
        phone=(fields.get("phoneNumber") or "").strip()[:20] or None,
        failure_reason=reason or None,
        retry_count=None,
    )


@dataclass(frozen=True)
class WhatsAppInbound:
    provider_id: str
    sender: str
    to: str  # the business number written to; "" when the callback names none
    text: str
    received_at: datetime
    button: str | None  # the quick reply tapped
    reply_to: str | None  # the provider id of the message it answers


def parse_inbound(fields: Mapping[str, str], now: datetime) -> WhatsAppInbound:
    provider_id = _id(fields, "id", required=True)
    assert provider_id is not None
    sender = (fields.get("from") or "").strip()
    if not sender:
        raise BadCallback("from is missing")
    if not PHONE.match(sender):
        raise BadCallback("from is not an international number")
    to = (fields.get("to") or "").strip()
    if to and not PHONE.match(to):
        raise BadCallback("to is not an international number")
    button = (fields.get("button") or "").strip() or None
    text = fields.get("text") if "text" in fields else button
    if text is None or not text.strip():
        raise BadCallback("text is missing")
    if len(text) > MAX_TEXT:
        raise BadCallback("text is too long")
    try:
        received_at = parse_date(fields.get("date") or "", now)
    except BadInbound as exc:
        raise BadCallback(str(exc)) from exc
    return WhatsAppInbound(
        provider_id=provider_id,
        sender=sender,
        to=to,
        text=text,
        received_at=min(received_at, now),
        button=button[:40] if button else None,
        reply_to=_id(fields, "replyTo", required=False),
    )


@dataclass(frozen=True)
class Received:
    """What became of an inbound WhatsApp message, and whose it is when it was stored
    (then `sms.whatsapp_inbound` acts on it)."""

    outcome: str
    person: Person | None = None
    programme: Programme | None = None


async def receive_whatsapp(
    session: AsyncSession, inbound: WhatsAppInbound, now: datetime
) -> Received:
    """Store one inbound WhatsApp message once, for the person it is from; opens the
    24-hour window of everyone with that phone in the programmes it may be for."""
    candidates = await _candidates(session, inbound)
    if not candidates:
        log.info("whatsapp.inbound_unknown_sender", phone=mask_phone(inbound.sender))
        return Received("unknown sender")
    await session.execute(
        sa.update(PERSON)
        .where(
            PERSON.c.id.in_([person.id for person, _ in candidates]),
            sa.or_(
                PERSON.c.whatsapp_last_inbound_at.is_(None),
                PERSON.c.whatsapp_last_inbound_at < inbound.received_at,
            ),
        )
        .values(whatsapp_last_inbound_at=inbound.received_at)
    )
    owner = await _owner(session, inbound, candidates)
    if owner is None:
        log.info("whatsapp.inbound_ambiguous", phone=mask_phone(inbound.sender))
        return Received("ambiguous sender")
    if not await _store(session, owner, inbound, now):
        return Received("duplicate")
    log.info("whatsapp.inbound", button=inbound.button is not None)
    programme = next(p for person, p in candidates if person.id == owner.id)
    return Received("stored", owner, programme)


async def _candidates(
    session: AsyncSession, inbound: WhatsAppInbound
) -> list[tuple[Person, Programme]]:
    """The people with the sender's phone in programmes that hear the number written to:
    the programme whose WhatsApp number it is, and those that set none (as a programme
    with no short code hears every SMS)."""
    hears: sa.ColumnElement[bool] = sa.true()
    if inbound.to:
        hears = sa.or_(
            col(Programme.whatsapp_number).is_(None), col(Programme.whatsapp_number) == inbound.to
        )
    rows = await session.exec(
        select(Person, Programme)
        .join(Programme, col(Programme.id) == col(Person.programme_id))
        .where(col(Person.phone) == inbound.sender, hears)
        .order_by(col(Person.id))
    )
    return [(person, programme) for person, programme in rows.all()]


async def _owner(
    session: AsyncSession, inbound: WhatsAppInbound, candidates: Sequence[tuple[Person, Programme]]
) -> Person | None:
    """Whose message it is: the person the answered message went to; else the one whose
    programme's own number it was sent to; else the one whose programme last wrote to
    the phone on WhatsApp; a tie is nobody's (never the number added last)."""
    people = {person.id: person for person, _ in candidates}
    if inbound.reply_to:
        answered = (
            await session.execute(
                sa.select(TABLE.c.person_id).where(
                    TABLE.c.direction == Direction.outbound,
                    TABLE.c.provider_id == inbound.reply_to,
                )
            )
        ).scalar()
        if answered in people:
            return people[answered]
    if len(candidates) == 1:
        return candidates[0][0]
    exact = [
        p for p, programme in candidates if inbound.to and programme.whatsapp_number == inbound.to
    ]
    if len(exact) == 1:
        return exact[0]
    latest = (
        await session.execute(
            sa.select(TABLE.c.person_id)
            .where(
                TABLE.c.direction == Direction.outbound,
                TABLE.c.reach == Reach.whatsapp,
                TABLE.c.person_id.in_(list(people)),
                TABLE.c.status.in_(
                    [MessageStatus.sent, MessageStatus.delivered, MessageStatus.unknown]
                ),
            )
            .order_by(TABLE.c.id.desc())
            .limit(1)
        )
    ).scalar()
    return people.get(latest) if latest is not None else None


async def _store(
    session: AsyncSession, person: Person, inbound: WhatsAppInbound, now: datetime
) -> bool:
    params = {"button": inbound.button, "reply_to": inbound.reply_to}
    return await store_inbound(
        session,
        person,
        phone=inbound.sender,
        text=inbound.text,
        provider_id=inbound.provider_id,
        received_at=inbound.received_at,
        now=now,
        reach=Reach.whatsapp,
        params={k: v for k, v in params.items() if v is not None} or None,
    )
