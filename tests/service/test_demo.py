"""The demo: believable, always with meetings to come, and idempotent."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.demo import seed
from service.domain import digests, reports
from service.domain.actor import Actor
from service.domain.people import set_language
from service.domain.reach import opted_in
from service.models import Attendance, Meeting, Membership, Person, Programme, metadata
from service.models.enums import (
    Channel,
    Language,
    MeetingStatus,
    MembershipRole,
    Presence,
    Reach,
    Role,
)
from tests.factories import now


async def _counts(session: AsyncSession) -> dict[str, int]:
    counts = {}
    for table in metadata.sorted_tables:
        counts[table.name] = (await session.exec(select(func.count()).select_from(table))).one()
    return counts


async def test_seeding_twice_gives_the_same_row_counts(session: AsyncSession) -> None:
    await seed(session)
    first = await _counts(session)
    await seed(session)
    assert await _counts(session) == first
    assert first["programme"] == 2
    teachers = [p for p in (await session.exec(select(Person))).all() if "teacher" in p.roles]
    assert 55 <= len(teachers) <= 70


async def test_both_demo_programmes_take_replies_on_the_readmes_short_code(
    session: AsyncSession,
) -> None:
    await seed(session)
    programmes = (await session.exec(select(Programme))).all()
    assert {p.short_code for p in programmes} == {"20880"}  # the README texts "to": "20880"


async def test_each_demo_programme_has_held_meetings_with_attendance_and_upcoming_ones(
    session: AsyncSession,
) -> None:
    await seed(session)
    for programme in (await session.exec(select(Programme))).all():
        meetings = (
            await session.exec(select(Meeting).where(Meeting.programme_id == programme.id))
        ).all()
        upcoming = [
            m for m in meetings if m.status is MeetingStatus.scheduled and m.starts_at > now()
        ]
        held = [m for m in meetings if m.status is MeetingStatus.held]
        assert len(upcoming) >= 3, programme.slug
        assert held, programme.slug
        present = (
            await session.exec(
                select(func.count())
                .select_from(Attendance)
                .where(
                    col(Attendance.meeting_id).in_([m.id for m in held]),
                    Attendance.presence == Presence.present,
                )
            )
        ).one()
        assert present > 0, programme.slug


async def test_the_demo_reports_count_every_member_at_the_meetings_held_before_seeding(
    session: AsyncSession,
) -> None:
    await seed(session)
    for programme in (await session.exec(select(Programme))).all():
        scope = await reports.resolve(session, programme, reports.ReportFilter(), now=now())
        totals = (await reports.attendance(session, scope)).totals
        # One meeting held per community, four weeks before the roster was imported.
        assert totals.expected == totals.members > totals.attended > 0, programme.slug
        missed = await reports.members_at_risk(session, scope, missed=1, offset=0, limit=0)
        assert missed.total == totals.expected - totals.attended, programme.slug


def _readme_demo_phones() -> list[tuple[str, str, str]]:
    """(programme, who, phone) rows of the README's "Demo phones to try" table."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = text.split("Demo phones to try:", 1)[1].split("\n\n", 2)[1]
    rows = []
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows.append((cells[0], cells[1], cells[2]))
    return rows


async def test_the_readme_demo_phones_are_a_teacher_and_facilitator_who_meet_soon(
    session: AsyncSession,
) -> None:
    await seed(session)
    rows = _readme_demo_phones()
    assert {(slug, who) for slug, who, _ in rows} == {
        (slug, who)
        for slug in ("rw-sbi", "ke-clusters")
        for who in ("teacher", "facilitator", "head teacher")
    }
    soon = now() + timedelta(hours=1)
    for slug, who, phone in [row for row in rows if row[1] != "head teacher"]:
        programme = (await session.exec(select(Programme).where(Programme.slug == slug))).one()
        person = (
            await session.exec(
                select(Person).where(Person.programme_id == programme.id, Person.phone == phone)
            )
        ).one()
        memberships = (
            await session.exec(select(Membership).where(Membership.person_id == person.id))
        ).all()
        wanted = MembershipRole.facilitator if who == "facilitator" else MembershipRole.member
        communities = [m.community_id for m in memberships if m.role is wanted]
        assert communities, f"{phone} is not a {who}"
        starting = (
            await session.exec(
                select(Meeting).where(
                    col(Meeting.community_id).in_(communities),
                    Meeting.status == MeetingStatus.scheduled,
                    col(Meeting.starts_at) > now(),
                    col(Meeting.starts_at) < soon,
                )
            )
        ).all()
        assert starting, f"{phone}'s community has no meeting within the hour"


async def test_the_readme_head_teachers_see_their_schools_cops_this_week(
    session: AsyncSession,
) -> None:
    await seed(session)
    heads = [(slug, phone) for slug, who, phone in _readme_demo_phones() if who == "head teacher"]
    assert heads
    for slug, phone in heads:
        programme = (await session.exec(select(Programme).where(Programme.slug == slug))).one()
        assert programme.id is not None
        person = (
            await session.exec(
                select(Person).where(Person.programme_id == programme.id, Person.phone == phone)
            )
        ).one()
        assert Role.head_teacher in person.roles and person.school_id is not None, phone
        week = await digests.school_week(
            session, programme.id, programme.timezone, person.school_id, now()
        )
        assert week is not None and week.meetings, f"{phone}'s school has no meeting this week"


async def test_seeding_again_keeps_the_language_a_teacher_chose(session: AsyncSession) -> None:
    await seed(session)
    teacher = (
        await session.exec(select(Person).where(Person.language == Language.rw).limit(1))
    ).one()
    assert teacher.id is not None
    await set_language(
        await session.get_one(Programme, teacher.programme_id),
        teacher.id,
        Language.en,
        session=session,
        actor=Actor.person(teacher.id, Channel.ussd),
    )
    await session.commit()
    await seed(session)
    session.expunge_all()
    assert (await session.get_one(Person, teacher.id)).language is Language.en


async def test_each_demo_programme_has_a_whatsapp_number_and_opted_in_whatsapp_teachers(
    session: AsyncSession,
) -> None:
    await seed(session)
    for programme in (await session.exec(select(Programme))).all():
        assert programme.whatsapp_number and programme.whatsapp_number.startswith("+"), programme
        on_whatsapp = (
            await session.exec(
                select(Person).where(
                    Person.programme_id == programme.id, Person.reach == Reach.whatsapp
                )
            )
        ).all()
        assert 2 <= len(on_whatsapp) <= 5, programme.slug
        assert all(opted_in(p) and "teacher" in p.roles for p in on_whatsapp)
        on_sms = (
            await session.exec(
                select(Person).where(Person.programme_id == programme.id, Person.reach == Reach.sms)
            )
        ).all()
        assert len(on_sms) > len(on_whatsapp)  # a hybrid CoP: most members still on SMS
