"""A teacher's own words reach a person: texts passed on to facilitators, and back.

An inbound SMS from a teacher that is no keyword (and no survey answer) goes to the
facilitators of the teacher's active communities who can get SMS (a phone, not
opted out), framed with the teacher's name and community and how to answer
("From Amina Mwangi (Maths CoP): ... Reply TO Amina + your answer."). The teacher
is told to whom it went. A facilitator answers with `TO <name or number> <text>`
(`sms.addressing` finds whom they mean among their members); the answer goes as
written, with the facilitator's name.

One conversation is one teacher and one facilitator. Within an hour of passing a
text on, the teacher's next texts to that facilitator are kept (the inbound row
is stored) but not passed on again, until the facilitator answers: an answer
opens the conversation again. The teacher is told once an hour that the
facilitator already has their message. Whatever the conversations, one phone
passes on at most `MAX_FORWARDS_PER_HOUR` SMS an hour: a flood does not fan out.

Every message passed on, and every answer, is audited with the writer as actor,
naming whom it went to and never what it said.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit, outbox
from service.domain.actor import Actor
from service.models import Community, Membership, Message, Person, Programme
from service.models.enums import Channel, MembershipRole, MembershipStatus
from sms.addressing import Ambiguous, NoMatch, address, members_of
from sms.lists import first_name, fit_names
from sms.replies import Reply
from sms.texts import SmsTexts

FORWARD = outbox.FORWARD
ANSWER = outbox.ANSWER
CONVERSATION_GAP = timedelta(hours=1)
MAX_FORWARDS_PER_HOUR = 6


@dataclass(frozen=True)
class Target:
    facilitator: Person
    community: Community  # the one they share: named in the message


def _key(kind: str, writer: int, reader: int, provider_id: str) -> str:
    return f"{kind}:{writer}:{reader}:{provider_id}"


def _writer_reader(key: str) -> tuple[int, int]:
    _, writer, reader, _ = key.split(":", 3)
    return int(writer), int(reader)


async def _targets(session: AsyncSession, teacher: Person) -> tuple[bool, list[Target]]:
    """Whether the teacher is an active member anywhere, and the facilitators of those
    communities (each once, with the first community they share by name)."""
    mine, theirs = aliased(Membership), aliased(Membership)
    member = sa.and_(
        col(mine.person_id) == teacher.id,
        col(mine.role) == MembershipRole.member,
        col(mine.status) == MembershipStatus.active,
    )
    belongs = (await session.exec(select(sa.func.count()).select_from(mine).where(member))).one()
    rows = await session.exec(
        select(Person, Community)
        .join(theirs, col(theirs.person_id) == col(Person.id))
        .join(Community, col(Community.id) == col(theirs.community_id))
        .join(mine, col(mine.community_id) == col(theirs.community_id))
        .where(
            member,
            col(theirs.role) == MembershipRole.facilitator,
            col(theirs.status) == MembershipStatus.active,
            col(Person.id) != teacher.id,
        )
        .order_by(col(Community.name), col(Community.id), col(Person.name), col(Person.id))
    )
    seen: dict[int | None, Target] = {}
    for person, community in rows.all():
        seen.setdefault(person.id, Target(person, community))
    return belongs > 0, list(seen.values())


async def _recent(
    session: AsyncSession, kind: str, programme_id: int, prefix: str, since: datetime
) -> list[tuple[str, datetime]]:
    rows = await session.execute(
        sa.select(col(Message.dedupe_key), col(Message.created_at)).where(
            col(Message.programme_id) == programme_id,
            col(Message.kind) == kind,
            col(Message.created_at) > since,
            col(Message.dedupe_key).like(f"{prefix}%"),
        )
    )
    return [(key, at) for key, at in rows.all() if key is not None]


async def _told_recently(
    session: AsyncSession, person: Person, template: str, now: datetime
) -> bool:
    last = (
        await session.execute(
            sa.select(sa.func.max(col(Message.created_at))).where(
                col(Message.person_id) == person.id,
                col(Message.kind) == outbox.REPLY,
                col(Message.template) == template,
            )
        )
    ).scalar()
    return last is not None and now - last < CONVERSATION_GAP


async def pass_on(
    session: AsyncSession,
    texts: SmsTexts,
    programme: Programme,
    teacher: Person,
    text: str,
    reply: Reply,
    now: datetime,
) -> str | None:
    """Pass the teacher's text on; None when they belong to no community (the caller
    gives the help reply)."""
    assert programme.id is not None and teacher.id is not None
    belongs, targets = await _targets(session, teacher)
    if not belongs:
        return None
    reachable = [t for t in targets if t.facilitator.phone and t.facilitator.opted_out_at is None]
    if not reachable:
        return await reply("forward_nobody", now)
    since = now - CONVERSATION_GAP
    sent = await _recent(session, FORWARD, programme.id, f"{FORWARD}:{teacher.id}:", since)
    answered: dict[int, datetime] = {}
    for key, at in await _recent(session, ANSWER, programme.id, f"{ANSWER}:", since):
        writer, reader = _writer_reader(key)
        if reader == teacher.id:
            answered[writer] = max(at, answered.get(writer, at))
    waiting: dict[int, datetime] = {}  # facilitator → last text passed on, not answered since
    for key, at in sent:
        _, facilitator = _writer_reader(key)
        waiting[facilitator] = max(at, waiting.get(facilitator, at))
    waiting = {f: at for f, at in waiting.items() if answered.get(f, at) <= at}
    fresh = [t for t in reachable if t.facilitator.id not in waiting]
    if not fresh:
        if await _told_recently(session, teacher, "forward_already", now):
            return "kept: passed on within the hour"
        names = [first_name(t.facilitator.name) for t in reachable]
        return await _reply_naming(texts, reply, programme, teacher, "forward_already", names, now)
    room = MAX_FORWARDS_PER_HOUR - len(sent)
    if room <= 0:
        if await _told_recently(session, teacher, "forward_later", now):
            return "kept: too many texts this hour"
        return await reply("forward_later", now)
    fresh = fresh[:room]
    await _queue_forwards(session, programme, teacher, text, fresh, reply.provider_id, now)
    names = [first_name(t.facilitator.name) for t in fresh]
    return await _reply_naming(texts, reply, programme, teacher, "forward_passed", names, now)


async def _queue_forwards(
    session: AsyncSession,
    programme: Programme,
    teacher: Person,
    text: str,
    targets: Sequence[Target],
    provider_id: str,
    now: datetime,
) -> None:
    assert teacher.id is not None
    actor = Actor.person(teacher.id, Channel.sms)
    for target in targets:
        facilitator, community = target.facilitator, target.community
        assert facilitator.id is not None and facilitator.phone is not None
        await outbox.queue(
            session,
            programme,
            [outbox.Recipient(facilitator.id, facilitator.phone, facilitator.language)],
            kind=FORWARD,
            template="forwarded",
            params={
                "name": teacher.name,
                "community": community.name,
                "text": text,
                "first_name": first_name(teacher.name),
            },
            due=now,
            now=now,
            dedupe=lambda r: _key(FORWARD, teacher.id or 0, r.person_id, provider_id),
            community_id=community.id,
        )
        audit.record(
            session,
            actor,
            "message.forward",
            facilitator,
            changes={"community_id": community.id},
            at=now,
        )


async def _reply_naming(
    texts: SmsTexts,
    reply: Reply,
    programme: Programme,
    person: Person,
    template: str,
    names: Sequence[str],
    now: datetime,
) -> str:
    listed = fit_names(texts, template, person, {}, names, timezone=programme.timezone)
    return await reply(template, now, names=listed)


async def answer(
    session: AsyncSession,
    texts: SmsTexts,
    programme: Programme,
    facilitator: Person,
    communities: Sequence[int],
    rest: str,
    reply: Reply,
    now: datetime,
) -> str:
    """A facilitator's `TO <name or number> <text>`: to that member, as written."""
    assert programme.id is not None and facilitator.id is not None
    if not rest:
        return await reply("to_usage", now)
    members = await members_of(session, communities, exclude=facilitator.id)
    found = address(rest, members, programme.phone_region)
    if isinstance(found, NoMatch):
        return await reply("to_unknown", now, who=found.who)
    if isinstance(found, Ambiguous):
        names = [p.name for p in found.people]
        return await _reply_naming(texts, reply, programme, facilitator, "to_ambiguous", names, now)
    teacher, text = found.person, found.text
    if not text:
        return await reply("to_usage", now)
    if teacher.phone is None or teacher.opted_out_at is not None:
        return await reply("to_cannot", now, name=teacher.name)
    assert teacher.id is not None
    await outbox.queue(
        session,
        programme,
        [outbox.Recipient(teacher.id, teacher.phone, teacher.language)],
        kind=ANSWER,
        template="to_message",
        params={"name": facilitator.name, "text": text},
        due=now,
        now=now,
        dedupe=lambda r: _key(ANSWER, facilitator.id or 0, r.person_id, reply.provider_id),
    )
    audit.record(
        session, Actor.person(facilitator.id, Channel.sms), "message.answer", teacher, at=now
    )
    return await reply("to_sent", now, name=teacher.name)
