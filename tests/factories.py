"""Builders for test data. They go through the domain, so every object obeys its rules."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.communities import CommunityInput, add_member, upsert_community
from service.domain.meetings import MeetingInput, schedule_meeting
from service.domain.people import PersonInput, create_person
from service.domain.programmes import ProgrammeCreate, create_programme
from service.domain.schools import SchoolInput, upsert_school
from service.models import Community, Meeting, Person, Programme, School
from service.models.enums import CommunityKind, Country, Language, MembershipRole, Modality, Role

OPERATOR = Actor.cli("tests")
_serial = itertools.count(1)


def now() -> datetime:
    return datetime.now(UTC)


async def programme(
    session: AsyncSession,
    *,
    slug: str = "ke-clusters",
    country: Country = Country.KE,
    timezone: str = "Africa/Nairobi",
    language: Language | None = None,  # the country's (Kiswahili in Kenya)
    sender_id: str | None = "COPLINE",
    short_code: str | None = None,
) -> Programme:
    n = next(_serial)
    data = ProgrammeCreate(
        slug=slug,
        name=f"Programme {slug}",
        country=country,
        timezone=timezone,
        default_language=language,
        service_code=f"*384*{n}#",
        sender_id=sender_id,
        short_code=short_code,
    )
    return await create_programme(data, session=session, actor=OPERATOR)


async def school(session: AsyncSession, prog: Programme, code: str = "SCH-1") -> School:
    created, _ = await upsert_school(
        prog,
        SchoolInput(code=code, name=f"School {code}", district="Kisumu"),
        session=session,
        actor=OPERATOR,
    )
    return created


_PHONE_PREFIX = {
    Country.KE: "+2547121",
    Country.RW: "+2507881",
    Country.TZ: "+2557541",
    Country.MW: "+2659912",
    Country.SL: "+232761",
}


async def person(
    session: AsyncSession,
    prog: Programme,
    *,
    name: str | None = None,
    phone: str | None = "auto",
    roles: list[Role] | None = None,
    school_id: int | None = None,
    language: Language | None = None,
) -> Person:
    n = next(_serial)
    if phone == "auto":
        phone = f"{_PHONE_PREFIX[prog.country]}{n:05d}"
    return await create_person(
        prog,
        PersonInput(
            name=name or f"Teacher {n}",
            phone=phone,
            roles=roles or [Role.teacher],
            school_id=school_id,
            language=language,
        ),
        session=session,
        actor=OPERATOR,
    )


async def community(
    session: AsyncSession,
    prog: Programme,
    *,
    code: str = "CLUSTER-1",
    school_ids: list[int] | None = None,
) -> Community:
    created, _ = await upsert_community(
        prog,
        CommunityInput(
            code=code,
            name=f"Community {code}",
            kind=CommunityKind.cluster,
            subjects=["Mathematics"],
            school_ids=school_ids or [],
        ),
        session=session,
        actor=OPERATOR,
    )
    return created


async def meeting(
    session: AsyncSession,
    prog: Programme,
    comm: Community,
    *,
    starts_in: timedelta = timedelta(days=2),
    modality: Modality = Modality.in_person,
    at: datetime | None = None,
) -> Meeting:
    assert comm.id is not None
    reference = at or now()
    return await schedule_meeting(
        prog,
        MeetingInput(
            community_id=comm.id,
            starts_at=reference + starts_in,
            modality=modality,
            venue="Staff room",
        ),
        session=session,
        actor=OPERATOR,
        now=reference,
    )


@dataclass
class World:
    """One programme, one school, one community with a facilitator and two members, one meeting."""

    programme: Programme
    school: School
    community: Community
    facilitator: Person
    members: list[Person]
    outsider: Person
    meeting: Meeting

    @property
    def pid(self) -> int:
        assert self.programme.id is not None
        return self.programme.id


async def world(
    session: AsyncSession,
    *,
    modality: Modality = Modality.in_person,
    slug: str = "ke-clusters",
    country: Country = Country.KE,
    timezone: str = "Africa/Nairobi",
    language: Language | None = None,  # the country's (Kiswahili in Kenya)
    sender_id: str | None = "COPLINE",
    short_code: str | None = None,
) -> World:
    prog = await programme(
        session,
        slug=slug,
        country=country,
        timezone=timezone,
        language=language,
        sender_id=sender_id,
        short_code=short_code,
    )
    sch = await school(session, prog)
    assert prog.id is not None and sch.id is not None
    comm = await community(session, prog, school_ids=[sch.id])
    assert comm.id is not None
    facilitator = await person(session, prog, name="Coach Achieng", roles=[Role.coach])
    members = [await person(session, prog, school_id=sch.id) for _ in range(2)]
    outsider = await person(session, prog, name="Not A Member")
    assert facilitator.id is not None
    await add_member(
        prog.id,
        comm.id,
        facilitator.id,
        role=MembershipRole.facilitator,
        session=session,
        actor=OPERATOR,
    )
    for m in members:
        assert m.id is not None
        await add_member(prog.id, comm.id, m.id, session=session, actor=OPERATOR)
    mtg = await meeting(session, prog, comm, modality=modality)
    await session.commit()
    return World(prog, sch, comm, facilitator, members, outsider, mtg)
