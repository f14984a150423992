"""A facilitator adds a member by phone number.

A person of the programme with that number becomes an active member at once. A number
nobody has becomes a new person whose name is not known yet (an empty name), with a
pending membership: an invitation, not a request. They are told by SMS who added them
to which community and to dial the programme's code; there they give their name and
join (or say no). Until then they get none of the community's messages: nobody is
texted reminders they never agreed to. A person whose name is still unknown is always
invited again, never made a member without answering.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit, membership_sms, outbox
from service.domain.actor import Actor
from service.domain.communities import add_member, ensure_facilitates, get_membership
from service.domain.errors import NotFound, ValidationError
from service.domain.lookup import get_owned
from service.domain.people import UNKNOWN_NAME, find_by_phone
from service.domain.phones import normalise_home_phone
from service.models import Community, Membership, Person, Programme
from service.models.enums import MembershipStatus
from service.models.types import utcnow


class Added(StrEnum):
    member = "member"  # a known person, now an active member
    already = "already"  # already an active member: nothing changed
    invited = "invited"  # a new number: invited, told by SMS


@dataclass(frozen=True)
class Addition:
    person_id: int
    result: Added
    told: outbox.Queued | None = None


def named(person: Person) -> bool:
    return person.name != UNKNOWN_NAME


async def add_by_phone(
    programme: Programme,
    community_id: int,
    raw_phone: str,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> Addition:
    """Add the person with this number (read in the programme's region) to the community."""
    assert programme.id is not None
    now = now or utcnow()
    community = await get_owned(session, Community, community_id, programme.id)
    await ensure_facilitates(session, community_id, actor)
    phone = normalise_home_phone(raw_phone, programme.phone_region)  # InvalidPhone
    person = await find_by_phone(session, programme.id, phone)
    if person is not None and named(person):
        assert person.id is not None
        current = await get_membership(session, community_id, person.id)
        if current is not None and current.status is MembershipStatus.active:
            return Addition(person.id, Added.already)  # a facilitator stays one
        await add_member(
            programme.id, community_id, person.id, session=session, actor=actor, now=now
        )
        return Addition(person.id, Added.member)
    if person is None:
        person = Person(
            programme_id=programme.id,
            name=UNKNOWN_NAME,
            phone=phone,
            language=programme.default_language,
            roles=["teacher"],
            created_at=now,
            updated_at=now,
        )
        session.add(person)
        await session.flush()
        audit.record(
            session,
            actor,
            "person.create",
            person,
            at=now,
            changes={"phone": phone, "invited": True},
        )
    assert person.id is not None
    membership = await get_membership(session, community_id, person.id)
    if membership is None:
        membership = Membership(
            community_id=community_id,
            person_id=person.id,
            status=MembershipStatus.pending,
            requested_at=now,
        )
        session.add(membership)
    elif membership.status is MembershipStatus.left:
        membership.status = MembershipStatus.pending
        membership.requested_at = now
        membership.left_at = None
    await session.flush()
    audit.record(
        session,
        actor,
        "membership.invite",
        membership,
        changes={"community_id": community_id, "person_id": person.id},
        at=now,
        programme_id=programme.id,
    )
    inviter = await _inviter(session, actor)
    told = await membership_sms.tell_invitee(
        session, programme, community, membership, inviter, now
    )
    return Addition(person.id, Added.invited, told)


async def _inviter(session: AsyncSession, actor: Actor) -> str:
    if actor.person_id is not None:
        person = await session.get(Person, actor.person_id)
        if person is not None and named(person):
            return person.name
    return actor.name or "copline"


async def invitations_of(session: AsyncSession, person_id: int) -> list[Membership]:
    """The pending memberships of a person whose name is unknown: invitations to answer."""
    stmt = (
        select(Membership)
        .join(Person, col(Person.id) == Membership.person_id)
        .where(
            Membership.person_id == person_id,
            Membership.status == MembershipStatus.pending,
            Person.name == UNKNOWN_NAME,
        )
        .order_by(col(Membership.id))
    )
    return list((await session.exec(stmt)).all())


async def answer_invitations(
    programme_id: int,
    person_id: int,
    name: str | None,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> list[Membership]:
    """The invitee answers: with their name they join every community they were invited
    to; with None they decline them all (they may still join later with a join code)."""
    now = now or utcnow()
    person = await get_owned(session, Person, person_id, programme_id, for_update=True)
    invitations = await invitations_of(session, person_id)
    if not invitations:
        raise NotFound("no invitation is waiting", person_id=person_id)
    if name is not None:
        name = _checked_name(name)
        person.name = name
        person.updated_at = now
        audit.record(session, actor, "person.update", person, at=now, changes={"name": name})
    for membership in invitations:
        if name is None:
            membership.status, membership.left_at = MembershipStatus.left, now
        else:
            membership.status, membership.joined_at = MembershipStatus.active, now
        audit.record(
            session,
            actor,
            "membership.accept" if name is not None else "membership.decline",
            membership,
            changes={"status": membership.status.value},
            at=now,
            programme_id=programme_id,
        )
    await session.flush()
    return invitations


def _checked_name(name: str) -> str:
    name = " ".join(name.split())[:200]
    if sum(ch.isalpha() for ch in name) < 2:
        raise ValidationError("a name has at least two letters", field="name")
    return name


async def give_name(
    programme_id: int,
    person_id: int,
    name: str,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> Person:
    """A person added by number tells their name (their invitations stay as they are)."""
    now = now or utcnow()
    person = await get_owned(session, Person, person_id, programme_id)
    person.name = _checked_name(name)
    person.updated_at = now
    audit.record(session, actor, "person.update", person, at=now, changes={"name": person.name})
    await session.flush()
    return person
