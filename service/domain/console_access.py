"""Who may use the console, and what each console role covers.

A role covers a part of one programme: staff the whole of it, a school leader the
communities of their school and its teachers, a facilitator the communities they
facilitate. Every console page asks the coverage before it reads or changes
anything, so an id typed into a URL or a form field outside it is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit, sign_in
from service.domain.actor import Actor
from service.domain.errors import NotFound, ValidationError
from service.domain.phones import normalise_phone
from service.models import CommunitySchool, Membership, Person, Programme
from service.models.enums import Channel, ConsoleRole, MembershipRole, MembershipStatus, Scope

_EVERYDAY = frozenset({Scope.read, Scope.write, Scope.sms_send})
RIGHTS: dict[ConsoleRole, frozenset[Scope]] = {
    ConsoleRole.programme_admin: frozenset(Scope),
    # M&E officers read and run the whole programme; they see numbers masked.
    ConsoleRole.programme_staff: _EVERYDAY,
    # Leaders and facilitators follow up their own teachers by phone.
    ConsoleRole.school_leader: _EVERYDAY | {Scope.read_pii},
    ConsoleRole.facilitator: _EVERYDAY | {Scope.read_pii},
}
WHOLE_PROGRAMME = frozenset({ConsoleRole.programme_admin, ConsoleRole.programme_staff})


@dataclass(frozen=True)
class Coverage:
    programme_id: int
    person_id: int
    role: ConsoleRole
    school_id: int | None
    community_ids: frozenset[int] | None  # None: every community of the programme

    @property
    def whole_programme(self) -> bool:
        return self.community_ids is None

    def has(self, scope: Scope) -> bool:
        return scope in RIGHTS[self.role]

    def covers(self, community_id: int) -> bool:
        return self.community_ids is None or community_id in self.community_ids

    def actor(self) -> Actor:
        return Actor.person(self.person_id, Channel.console)

    def people(self) -> Any:
        """A condition on Person: the people this role may see."""
        mine = col(Person.programme_id) == self.programme_id
        if self.community_ids is None:
            return mine
        members = sa.select(col(Membership.person_id)).where(
            col(Membership.community_id).in_(sorted(self.community_ids)),
            col(Membership.status) != MembershipStatus.left,
        )
        seen: Any = col(Person.id).in_(members)
        if self.role is ConsoleRole.school_leader and self.school_id is not None:
            seen = seen | (col(Person.school_id) == self.school_id)
        return mine & seen


async def coverage_of(session: AsyncSession, person: Person) -> Coverage | None:
    """What `person`'s console role covers now, or None without a role."""
    if person.console_role is None or person.id is None:
        return None
    role = person.console_role
    communities: frozenset[int] | None = None
    if role is ConsoleRole.facilitator:
        stmt = sa.select(col(Membership.community_id)).where(
            col(Membership.person_id) == person.id,
            col(Membership.role) == MembershipRole.facilitator,
            col(Membership.status) == MembershipStatus.active,
        )
        communities = frozenset((await session.execute(stmt)).scalars())
    elif role is ConsoleRole.school_leader:
        if person.school_id is None:
            communities = frozenset()
        else:
            stmt = sa.select(col(CommunitySchool.community_id)).where(
                col(CommunitySchool.school_id) == person.school_id
            )
            communities = frozenset((await session.execute(stmt)).scalars())
    return Coverage(
        programme_id=person.programme_id,
        person_id=person.id,
        role=role,
        school_id=person.school_id,
        community_ids=communities,
    )


async def visible_person(session: AsyncSession, coverage: Coverage, person_id: int) -> Person:
    """The person if this role may see them; NotFound (as for a missing id) if not."""
    stmt = select(Person).where(col(Person.id) == person_id, coverage.people())
    person = (await session.exec(stmt)).first()
    if person is None:
        raise NotFound(f"no person with id {person_id}")
    return person


async def person_by_phone(session: AsyncSession, programme: Programme, phone: str) -> Person:
    """The programme's person with this number (any local or E.164 form), or NotFound."""
    assert programme.id is not None
    number = normalise_phone(phone, programme.phone_region)
    mine = col(Person.programme_id) == programme.id
    stmt = select(Person).where(mine, col(Person.phone) == number)
    person = (await session.exec(stmt)).first()
    if person is None:
        raise NotFound(f"nobody in {programme.slug} has the number {number}")
    return person


async def set_console_role(
    session: AsyncSession,
    person: Person,
    role: ConsoleRole | None,
    *,
    actor: Actor,
    now: datetime,
) -> bool:
    """Grant, change or remove console access (True if it changed). A change ends the
    person's open sessions: what they could reach a moment ago may no longer be theirs."""
    if person.console_role == role:
        return False
    if role is not None and person.phone is None:
        raise ValidationError("console access needs a phone number to sign in with", field="role")
    before = person.console_role
    person.console_role = role
    person.updated_at = now
    assert person.id is not None
    await sign_in.revoke_all(session, person.id, now=now)
    audit.record(
        session,
        actor,
        "person.console_role",
        person,
        changes={"console_role": [before, role]},
    )
    await session.flush()
    return True


async def end_sessions(
    session: AsyncSession, person: Person, *, actor: Actor, now: datetime
) -> int:
    """Sign a person out everywhere (a lost phone), keeping their access: they sign in
    again with a new code sent to their number. Returns how many sessions ended."""
    assert person.id is not None
    ended = await sign_in.revoke_all(session, person.id, now=now)
    audit.record(session, actor, "person.console_sessions_ended", person, changes={"ended": ended})
    await session.flush()
    return ended
