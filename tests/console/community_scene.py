"""A programme with two communities of two schools, the roles that cover one or both,
and a second programme: what the communities and meetings pages are tried against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

import httpx
from sqlmodel import select

from service.db import SessionFactory
from service.domain.communities import add_member
from service.models import Community, Meeting, Membership, Person, Programme
from service.models.enums import ConsoleRole, Country, Language
from tests import factories as f
from tests.console.support import grant, sign_in


@dataclass
class Scene:
    world: f.World  # school A's community, its facilitator (Coach Achieng) and members
    other: Community  # school B's community in the same programme
    other_meeting: Meeting
    other_member: Person
    leader: Person  # school leader of school A
    staff: Person  # programme staff (numbers masked)
    theirs: f.World  # another programme

    @property
    def community_id(self) -> int:
        assert self.world.community.id is not None
        return self.world.community.id

    @property
    def meeting_id(self) -> int:
        assert self.world.meeting.id is not None
        return self.world.meeting.id


async def build(sessions: SessionFactory) -> Scene:
    async with sessions() as session:
        w = await f.world(session)
        assert w.programme.id is not None
        school_b = await f.school(session, w.programme, "SCH-2")
        assert school_b.id is not None and w.school.id is not None
        other = await f.community(session, w.programme, code="CLUSTER-2", school_ids=[school_b.id])
        assert other.id is not None
        member = await f.person(session, w.programme, name="Other Member", school_id=school_b.id)
        assert member.id is not None
        await add_member(w.pid, other.id, member.id, session=session, actor=f.OPERATOR)
        other_meeting = await f.meeting(session, w.programme, other)
        leader = await f.person(session, w.programme, name="Head Teacher", school_id=w.school.id)
        staff = await f.person(session, w.programme, name="M&E Officer")
        theirs = await f.world(
            session,
            slug="rw-sbi",
            country=Country.RW,
            timezone="Africa/Kigali",
            language=Language.rw,
        )
        await session.commit()
    scene = Scene(w, other, other_meeting, member, leader, staff, theirs)
    await grant(sessions, w.facilitator, ConsoleRole.facilitator)
    await grant(sessions, leader, ConsoleRole.school_leader)
    await grant(sessions, staff, ConsoleRole.programme_staff)
    return scene


async def enter(
    client: httpx.AsyncClient, sessions: SessionFactory, person: Person, language: str = "en"
) -> None:
    """Sign in (as nobody else any more), reading pages in `language` (the switcher's cookie)."""
    client.cookies.clear()
    client.cookies.set("copline_lang", language)
    await sign_in(client, sessions, person)


async def no_quiet_hours(sessions: SessionFactory, programme_id: int | None) -> None:
    async with sessions() as session:
        programme = await session.get(Programme, programme_id)
        assert programme is not None
        programme.quiet_hours_start = programme.quiet_hours_end = time(0, 0)
        await session.commit()


async def all_day_quiet(sessions: SessionFactory, programme_id: int | None) -> None:
    async with sessions() as session:
        programme = await session.get(Programme, programme_id)
        assert programme is not None
        programme.quiet_hours_start, programme.quiet_hours_end = time(0, 0), time(23, 59)
        await session.commit()


async def membership(sessions: SessionFactory, community_id: int, person_id: int) -> Membership:
    async with sessions() as session:
        stmt = select(Membership).where(
            Membership.community_id == community_id, Membership.person_id == person_id
        )
        found = (await session.exec(stmt)).one()
    return found


async def meeting_now(sessions: SessionFactory, meeting_id: int) -> Meeting:
    async with sessions() as session:
        found = await session.get(Meeting, meeting_id)
    assert found is not None
    return found
