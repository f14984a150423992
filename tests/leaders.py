"""A school's week for the leaders' tests: two schools sharing a cluster CoP, its held
meetings with who came, a meeting this week with RSVPs, leaders, and another programme."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.attendance import record_presences, record_rsvp
from service.domain.communities import add_member
from service.domain.meetings import mark_meeting_held
from service.domain.programmes import ProgrammeSettings, update_programme
from service.models import Community, Meeting, Person, Programme, School
from service.models.enums import Country, Language, MembershipRole, Presence, Role, Rsvp, Weekday
from tests import factories as f

OP = f.OPERATOR


@dataclass
class SchoolWorld:
    programme: Programme
    school: School  # the leaders' school
    neighbour: School  # a school whose one teacher (`visitor`) is in the same cluster
    community: Community
    head: Person
    deputy: Person
    neighbour_head: Person
    lonely_head: Person  # leads a school with no CoP
    came: Person  # came to both held meetings: not at risk
    missed: Person  # the school's teacher who missed both: at risk
    visitor: Person  # the neighbour's teacher who missed both: at risk, another school
    coming: Meeting  # this week, RSVPs: yes 2 (came, visitor), no 1 (missed)
    other: Programme  # another programme, digest on Wednesdays
    other_head: Person
    other_community: Community

    @property
    def pid(self) -> int:
        assert self.programme.id is not None
        return self.programme.id


async def _member(
    session: AsyncSession, prog: Programme, comm: Community, p: Person, joined: datetime
) -> None:
    assert prog.id is not None and comm.id is not None and p.id is not None
    await add_member(prog.id, comm.id, p.id, session=session, actor=OP, now=joined)


async def _held(
    session: AsyncSession,
    prog: Programme,
    comm: Community,
    starts: datetime,
    marks: dict[int, Presence],
) -> Meeting:
    meeting = await f.meeting(session, prog, comm, at=starts - timedelta(days=20),
                              starts_in=timedelta(days=20))  # fmt: skip
    assert prog.id is not None and meeting.id is not None
    after = starts + timedelta(hours=2)
    await record_presences(prog.id, meeting.id, marks, session=session, actor=OP, now=after)
    await mark_meeting_held(prog, meeting.id, session=session, actor=OP, now=after)
    return meeting


async def school_world(session: AsyncSession, language: Language, now: datetime) -> SchoolWorld:
    """`now`: the digest moment; the coming meeting is a day and 7 hours after it."""
    prog = await f.programme(session, slug="ke-leaders")
    assert prog.id is not None
    await update_programme(
        prog.id, ProgrammeSettings(languages=list(Language)), session=session, actor=OP
    )
    school, neighbour = (
        await f.school(session, prog, "SCH-1"),
        await f.school(session, prog, "SCH-2"),
    )
    lonely = await f.school(session, prog, "SCH-3")
    assert school.id and neighbour.id and lonely.id
    comm = await f.community(session, prog, code="MATHS-CLUSTER", school_ids=[school.id])
    coach = await f.person(session, prog, name="Coach Achieng", roles=[Role.coach])
    assert comm.id is not None and coach.id is not None
    await add_member(prog.id, comm.id, coach.id, role=MembershipRole.facilitator,
                     session=session, actor=OP)  # fmt: skip

    async def leader(name: str, role: Role, school_id: int) -> Person:
        return await f.person(
            session, prog, name=name, roles=[role, Role.teacher], school_id=school_id,
            language=language,
        )  # fmt: skip

    head = await leader("Head Wafula", Role.head_teacher, school.id)
    deputy = await leader("Deputy Njeri", Role.deputy_head, school.id)
    neighbour_head = await leader("Head Kiprono", Role.head_teacher, neighbour.id)
    lonely_head = await leader("Head Lonely", Role.head_teacher, lonely.id)
    came = await f.person(session, prog, name="Achieng Came", school_id=school.id)
    missed = await f.person(session, prog, name="Otieno Missed", school_id=school.id)
    visitor = await f.person(session, prog, name="Wanjiru Visitor", school_id=neighbour.id)
    for p in (came, missed, visitor):  # members since before the meetings
        await _member(session, prog, comm, p, now - timedelta(days=30))
    assert came.id and missed.id and visitor.id
    marks = {came.id: Presence.present, missed.id: Presence.absent, visitor.id: Presence.absent}
    for days in (14, 4):
        await _held(session, prog, comm, now - timedelta(days=days), marks)
    coming = await f.meeting(session, prog, comm, at=now - timedelta(days=3),
                             starts_in=timedelta(days=4, hours=7))  # fmt: skip
    assert coming.id is not None
    before = now - timedelta(days=1)
    for p, answer in ((came, Rsvp.yes), (missed, Rsvp.no), (visitor, Rsvp.yes)):
        assert p.id is not None
        await record_rsvp(prog.id, coming.id, p.id, answer, session=session, actor=OP, now=before)

    other = await f.programme(
        session, slug="rw-leaders", country=Country.RW, timezone="Africa/Kigali",
        language=Language.rw,
    )  # fmt: skip
    assert other.id is not None
    await update_programme(
        other.id, ProgrammeSettings(digest_day=Weekday.wednesday), session=session, actor=OP
    )
    other_school = await f.school(session, other, "RW-1")
    assert other_school.id is not None
    other_comm = await f.community(session, other, code="RW-SCIENCE", school_ids=[other_school.id])
    other_head = await f.person(session, other, name="Umuyobozi Uwase",
                                roles=[Role.head_teacher], school_id=other_school.id)  # fmt: skip
    other_teacher = await f.person(session, other, school_id=other_school.id)
    await _member(session, other, other_comm, other_teacher, now - timedelta(days=30))
    await f.meeting(session, other, other_comm, at=now - timedelta(days=3),
                    starts_in=timedelta(days=6))  # fmt: skip
    await session.commit()
    return SchoolWorld(
        prog, school, neighbour, comm, head, deputy, neighbour_head, lonely_head,
        came, missed, visitor, coming, other, other_head, other_comm,
    )  # fmt: skip
