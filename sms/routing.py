"""Which programme an inbound SMS, or an opt-out from Africa's Talking, is about.

One phone may belong to people in several programmes, and programmes of one AT
account often share a two-way short code (an alphanumeric sender id cannot receive
replies). A reply is routed like this:

1. The address it was sent to (`to`) picks the programmes that may hear it: those
   whose short code or sender id it is, and those with no short code at all (they
   never said which of the account's codes they use, so a deployment that never set
   one keeps working). A programme with a short code hears nothing sent to another.
2. The people of those programmes with the sender's phone are the candidates. One
   candidate: the reply is theirs.
3. Several: the one whose community has a meeting with the code the text gives
   (an open meeting before a closed one); else the one whose programme last sent
   that phone an SMS that left (sent, delivered or unknown; not merely queued): that
   is the message the person is answering.
4. Still a tie: nobody. The text is not acted on and not stored, and is logged with
   the phone masked. Who added the number last never decides: anyone with a key to
   one programme can add any number to it.

STOP is about the address, not one programme, and so is START for what an SMS
opt-out stopped: see `sms.inbound`.

AT's opt-out callback names the sender the subscriber blocked: it stops the people
of the programmes that send as that sender id or use that short code; when it names
none of ours, the programmes with no sender id of their own (they send under the
account's default one, which must be the sender AT means).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Meeting, Membership, Message, Person, Programme
from service.models.enums import Direction, MeetingStatus, MembershipStatus, MessageStatus
from service.models.types import UTCDateTime

# What reached the phone, or may have: a queued or failed row was never seen.
LEFT = (MessageStatus.sent, MessageStatus.delivered, MessageStatus.unknown)
NEVER = (datetime.min.replace(tzinfo=UTC), 0)


@dataclass(frozen=True, eq=False)  # a candidate is itself, whatever its values
class Candidate:
    person: Person
    programme: Programme
    # 2: the text's code names an open meeting of one of their communities; 1: a
    # closed one; 0: neither (or the text gave no code).
    code_match: int = 0
    # When (and as which row) their programme last sent the phone an SMS that left.
    last_sent: tuple[datetime, int] = NEVER

    @property
    def rank(self) -> tuple[int, tuple[datetime, int]]:
        return (self.code_match, self.last_sent)


@dataclass(frozen=True)
class Routing:
    candidates: list[Candidate]  # every person the text may be from, best first
    chosen: Candidate | None  # the one it is about, when the rules can tell


async def route(session: AsyncSession, phone: str, to: str, code: str | None) -> Routing:
    """The candidates for an SMS from `phone` to `to`; `code` is the meeting code it gives."""
    hears: sa.ColumnElement[bool] = col(Programme.short_code).is_(None)
    if to:
        hears = sa.or_(hears, col(Programme.short_code) == to, col(Programme.sender_id) == to)
    rows = (
        await session.exec(
            select(Person, Programme)
            .join(Programme, col(Programme.id) == col(Person.programme_id))
            .where(col(Person.phone) == phone, hears)
        )
    ).all()
    if len(rows) <= 1:
        candidates = [Candidate(person, programme) for person, programme in rows]
        return Routing(candidates, candidates[0] if candidates else None)
    ids = [person.id for person, _ in rows if person.id is not None]
    matches = await _code_matches(session, ids, code) if code else {}
    sent = await _last_sent(session, ids, phone)
    candidates = []
    for person, programme in rows:
        assert person.id is not None
        candidates.append(
            Candidate(person, programme, matches.get(person.id, 0), sent.get(person.id, NEVER))
        )
    # Best first; the slug only makes the order of equals stable, it never decides.
    candidates.sort(key=lambda c: c.programme.slug)
    candidates.sort(key=lambda c: c.rank, reverse=True)
    first, second = candidates[0], candidates[1]
    return Routing(candidates, first if first.rank > second.rank else None)


async def _code_matches(
    session: AsyncSession, person_ids: Sequence[int], code: str
) -> dict[int, int]:
    rows = await session.execute(
        sa.select(col(Membership.person_id), col(Meeting.status))
        .join(Meeting, col(Meeting.community_id) == col(Membership.community_id))
        .where(
            col(Membership.person_id).in_(person_ids),
            col(Membership.status) == MembershipStatus.active,
            col(Meeting.code) == code,
        )
    )
    found: dict[int, int] = {}
    for person_id, status in rows.all():
        match = 2 if status == MeetingStatus.scheduled else 1
        found[person_id] = max(found.get(person_id, 0), match)
    return found


async def _last_sent(
    session: AsyncSession, person_ids: Sequence[int], phone: str
) -> dict[int, tuple[datetime, int]]:
    message = Message.__table__  # type: ignore[attr-defined]
    # A row that went `unknown` has no sent_at: it left, if at all, before it changed.
    when = sa.type_coerce(
        sa.func.max(sa.func.coalesce(message.c.sent_at, message.c.updated_at)), UTCDateTime()
    )
    rows = await session.execute(
        sa.select(message.c.person_id, when, sa.func.max(message.c.id))
        .where(
            message.c.person_id.in_(person_ids),
            message.c.direction == Direction.outbound,
            message.c.status.in_(LEFT),
            message.c.phone == phone,
        )
        .group_by(message.c.person_id)
    )
    return {person_id: (at, last_id) for person_id, at, last_id in rows.all()}


async def people_sending_as(session: AsyncSession, phone: str, sender: str) -> list[Person]:
    """The people with this phone in the programmes AT's opt-out for `sender` is about."""
    named = sa.or_(col(Programme.sender_id) == sender, col(Programme.short_code) == sender)
    ours = (await session.exec(select(Programme.id).where(named))).all() if sender else []
    which = col(Programme.id).in_(list(ours)) if ours else col(Programme.sender_id).is_(None)
    return list(
        (
            await session.exec(
                select(Person)
                .join(Programme, col(Programme.id) == col(Person.programme_id))
                .where(col(Person.phone) == phone, which)
                .order_by(col(Person.id))
            )
        ).all()
    )
