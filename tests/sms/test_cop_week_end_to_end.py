"""A week of a CoP run from basic phones, end to end through the Africa's Talking
simulator: the facilitator schedules a meeting by USSD with its toolkit activity → the
teachers' 48-hour reminder carries the activity and the facilitator is told to prepare
it → a teacher says YES and texts a question → the facilitator gets it and answers
with TO → on Monday morning the head teacher's digest lists the meeting, its RSVPs and
the teacher at risk."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.communities import add_member
from service.models import Attendance, Meeting, Membership, Person, Programme
from service.models.enums import Language, MeetingStatus, MembershipRole, Presence, Role, Rsvp
from service.worker import Worker
from tests import factories as f
from tests.sms.stack import Clock, Stack

NAIROBI = ZoneInfo("Africa/Nairobi")
ACTIVITY = "Fractions with bottle tops"
QUESTION = "Which page of the toolkit do we read before the meeting?"
ANSWER = "Read page 12 and bring 20 bottle tops."


def next_tuesday(at_least_days: int = 3) -> datetime:
    """A Tuesday 14:00 Nairobi time, far enough ahead for the reminder round to come."""
    day = (f.now().astimezone(NAIROBI) + timedelta(days=at_least_days)).date()
    while day.weekday() != 1:
        day += timedelta(days=1)
    return datetime.combine(day, time(14, 0), tzinfo=NAIROBI)


async def cop(session: AsyncSession, tuesday: datetime) -> tuple[Programme, dict[str, Person]]:
    """A cluster CoP at one school: a coach, three teachers, their head teacher. Juma
    missed the community's last two meetings, three and two weeks before."""
    prog = await f.programme(session)
    school = await f.school(session, prog)
    assert prog.id is not None and school.id is not None
    comm = await f.community(session, prog, school_ids=[school.id])
    assert comm.id is not None

    async def someone(name: str, role: Role) -> Person:
        return await f.person(
            session, prog, name=name, roles=[role], school_id=school.id, language=Language.en
        )

    people = {
        "coach": await someone("Achieng Odhiambo", Role.coach),
        "amina": await someone("Amina Otieno", Role.teacher),
        "juma": await someone("Juma Wekesa", Role.teacher),
        "baraka": await someone("Baraka Mutua", Role.teacher),
        "head": await someone("Grace Wanjiru", Role.head_teacher),
    }
    for key, person in people.items():
        if key == "head":
            continue
        assert person.id is not None
        role = MembershipRole.facilitator if key == "coach" else MembershipRole.member
        await add_member(prog.id, comm.id, person.id, role=role, session=session, actor=f.OPERATOR)
    joined = tuesday - timedelta(days=60)
    for membership in (await session.exec(select(Membership))).all():
        membership.joined_at = joined
    for weeks in (3, 2):
        held = await f.meeting(
            session, prog, comm, at=tuesday - timedelta(weeks=weeks, days=1), starts_in=timedelta(1)
        )
        held.status = MeetingStatus.held
        for key in ("amina", "juma", "baraka"):
            member = people[key]
            assert held.id is not None and member.id is not None
            presence = Presence.absent if key == "juma" else Presence.present
            session.add(Attendance(meeting_id=held.id, person_id=member.id, presence=presence))
    await session.commit()
    return prog, people


async def dial(stack: Stack, phone: str | None, service_code: str, *inputs: str) -> str:
    """One USSD session from a basic phone: each hop sends every input so far."""
    screen = ""
    for n in range(len(inputs) + 1):
        answer = await stack.http.post(
            f"{stack.simulator.url}/sim/phones/{phone}/ussd",
            json={"service_code": service_code, "text": "*".join(inputs[:n]), "session_id": "w1"},
        )
        assert answer.status_code == 200 and answer.json()["service_status"] == 200
        screen = answer.json()["text"]
    return screen


async def work(stack: Stack, worker: Worker, clock: Clock) -> None:
    """The worker's jobs once, then sending until nothing is due (a phone's SMS go out
    one after the other, in the order they were written)."""
    await worker.tick({})
    await stack.sender(clock).send_until_idle()


async def test_a_week_of_a_cop_from_basic_phones(stack: Stack, session: AsyncSession) -> None:
    tuesday = next_tuesday()
    prog, people = await cop(session, tuesday)
    coach, amina, head = people["coach"], people["amina"], people["head"]

    # The coach schedules Tuesday's meeting from her basic phone, with its activity.
    done = await dial(
        stack,
        coach.phone,
        prog.service_code,
        "6",  # Facilitator menu
        "7",  # Schedule a meeting
        f"{tuesday:%d%m}",
        "1400",
        "1",  # in person
        "1",  # the community's recent venue
        f"p12 {ACTIVITY}",
        "1",  # yes, schedule it
    )
    meeting = (
        await session.exec(
            select(Meeting).where(
                col(Meeting.status) == MeetingStatus.scheduled, Meeting.starts_at == tuesday
            )
        )
    ).one()
    assert done.startswith("END ") and meeting.code in done
    assert (meeting.activity, meeting.activity_page, meeting.venue) == (ACTIVITY, 12, "Staff room")

    # Sunday 14:00, 48 hours before: the reminder with the activity; the coach prepares.
    clock = Clock(tuesday - timedelta(hours=48))
    worker = stack.worker(clock)
    await work(stack, worker, clock)
    for key in ("amina", "juma", "baraka"):
        [reminder] = await stack.texts(people[key].phone)
        assert ACTIVITY in reminder and f"YES {meeting.code}" in reminder
    assert any(ACTIVITY in text and "prepare" in text for text in await stack.texts(coach.phone))

    # Amina will come, and asks a question in her own words.
    await stack.phone_sends(amina.phone, f"YES {meeting.code}")
    await stack.phone_sends(amina.phone, QUESTION)
    clock.now += timedelta(minutes=5)
    await work(stack, worker, clock)
    async with stack.sessions() as s:
        seat = (
            await s.exec(
                select(Attendance).where(
                    Attendance.meeting_id == meeting.id, Attendance.person_id == amina.id
                )
            )
        ).one()
        assert seat.rsvp is Rsvp.yes
    [forwarded] = [t for t in await stack.texts(coach.phone) if QUESTION in t]
    assert "Amina Otieno" in forwarded and "TO Amina" in forwarded
    assert any("Achieng" in t for t in await stack.texts(amina.phone))  # told it was passed on

    # The coach answers from her phone; the answer reaches Amina.
    await stack.phone_sends(coach.phone, f"TO Amina {ANSWER}")
    clock.now += timedelta(minutes=5)
    await work(stack, worker, clock)
    assert any(ANSWER in t for t in await stack.texts(amina.phone))

    # Monday 07:00: the head teacher's digest names the meeting, its RSVPs and Juma.
    clock.now = datetime.combine(tuesday.date() - timedelta(days=1), time(7, 0), tzinfo=NAIROBI)
    assert clock.now.astimezone(NAIROBI).strftime("%a %H:%M") == "Mon 07:00"
    await work(stack, worker, clock)
    digest = " ".join(await stack.texts(head.phone))
    assert "Community CLUSTER-1" in digest and "1 yes, 0 no" in digest
    assert "Juma" in digest and "Amina" not in digest.split("At risk")[-1]
