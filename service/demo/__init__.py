"""`copline seed-demo`: two believable programmes, built through the same paths as real data.

Rosters come from the CSV files beside this module through the roster importer (their
`console` column says who signs in to the web console, as the README lists), and
meetings through the domain with an explicit clock, so the demo obeys every rule a
real programme does. The term and its meetings are placed around the day the seed
runs, so there are always meetings held (with attendance) and meetings to come.
Every step is an upsert or skips what exists: running it twice adds nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import col, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.attendance import record_presence, record_rsvp
from service.domain.communities import active_member_ids
from service.domain.errors import NotFound
from service.domain.meetings import MeetingInput, mark_meeting_held, schedule_meeting
from service.domain.programmes import (
    ProgrammeCreate,
    ProgrammeSettings,
    create_programme,
    get_programme,
    update_programme,
)
from service.domain.reach import set_reach
from service.domain.survey_dispatch import invite_attendees
from service.domain.terms import TermInput, create_term, find_term
from service.models import Community, Meeting, Membership, Person, Programme, Term
from service.models.enums import (
    Channel,
    MeetingStatus,
    MembershipRole,
    Modality,
    Presence,
    Reach,
    Rsvp,
    UssdBilling,
)
from service.roster import ImportKind, import_csv, read_csv

HERE = Path(__file__).parent
SEED_ACTOR = Actor.cli("seed-demo", channel=Channel.import_)
TERM_NAME = "Demo term"
# Both programmes reply on one short code, as programmes of one AT account often do:
# their phones are in different countries, so each reply finds its programme.
SHARED_SHORT_CODE = "20880"


@dataclass(frozen=True)
class DemoProgramme:
    settings: ProgrammeCreate
    meeting_time: time  # local time CoPs meet
    modality: Modality
    venue: str
    meets_soon: str  # this community also meets 45 minutes after seeding (the README's)


PROGRAMMES = [
    DemoProgramme(
        ProgrammeCreate(
            slug="rw-sbi",
            name="Rwanda School-Based Mentoring CoPs",
            country="RW",
            timezone="Africa/Kigali",
            default_language="rw",
            languages=["rw", "en"],
            service_code="*384*2501#",
            sender_id="CoPRwanda",
            short_code=SHARED_SHORT_CODE,
            whatsapp_number="+250788082000",
            sms_price=Decimal("15"),
            # USSD as Rwandan networks bill a service: a price per session.
            ussd_price=Decimal("10"),
            ussd_billing=UssdBilling.session,
            # A utility template, at about Meta's rate for Africa (US$0.004): free text
            # within the 24-hour window costs nothing.
            whatsapp_price=Decimal("6"),
        ),
        meeting_time=time(14, 30),
        modality=Modality.in_person,
        venue="Staff room",
        meets_soon="RW-BUG-001-MATH",
    ),
    DemoProgramme(
        ProgrammeCreate(
            slug="ke-clusters",
            name="Kenya Cluster Communities of Practice",
            country="KE",
            timezone="Africa/Nairobi",
            default_language="sw",
            languages=["sw", "en"],
            service_code="*384*2541#",
            sender_id="CoPKenya",
            short_code=SHARED_SHORT_CODE,
            whatsapp_number="+254711082000",
            sms_price=Decimal("0.8"),
            # USSD as Kenyan networks bill a service: per 20 seconds begun.
            ussd_price=Decimal("1"),
            ussd_billing=UssdBilling.per_20s,
            whatsapp_price=Decimal("0.5"),
        ),
        meeting_time=time(14, 0),
        modality=Modality.hybrid,
        venue="Cluster resource centre",
        meets_soon="KSM-CEN",
    ),
]


def _weekday_on_or_after(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


async def _programme(session: AsyncSession, demo: DemoProgramme) -> Programme:
    try:
        programme = await get_programme(session, demo.settings.slug)
    except NotFound:
        programme = await create_programme(demo.settings, session=session, actor=SEED_ACTOR)
        await session.commit()
        return programme
    if programme.whatsapp_number is None:
        # A demo seeded before WhatsApp came: its number now, as a new one gets.
        assert programme.id is not None
        settings = ProgrammeSettings(whatsapp_number=demo.settings.whatsapp_number)
        programme = await update_programme(
            programme.id, settings, session=session, actor=SEED_ACTOR
        )
        await session.commit()
    return programme


async def _term(session: AsyncSession, programme: Programme, today: date) -> int:
    assert programme.id is not None
    term = await find_term(session, programme.id, TERM_NAME)
    if term is None:
        monday = today - timedelta(days=today.weekday())
        term = await create_term(
            programme,
            TermInput(name=TERM_NAME, starts_on=monday - timedelta(weeks=6),
                      ends_on=monday + timedelta(weeks=7, days=4)),
            session=session, actor=SEED_ACTOR,
        )  # fmt: skip
        await session.commit()
    assert term.id is not None
    return term.id


async def _meetings(
    session: AsyncSession, programme: Programme, demo: DemoProgramme, term_id: int, now: datetime
) -> int:
    """Per community: one held four weeks ago, one in the coming days, one next month.

    The README's demo community also meets in 45 minutes, so check-in by code can be
    tried straight away.
    """
    assert programme.id is not None
    zone = ZoneInfo(programme.timezone)
    today = now.astimezone(zone).date()
    term = await session.get(Term, term_id)
    assert term is not None
    term_began = datetime.combine(term.starts_on, time(0), tzinfo=zone)
    stmt = (
        select(Community)
        .where(Community.programme_id == programme.id)
        .order_by(col(Community.code))
    )
    communities = list((await session.exec(stmt)).all())
    created = 0
    for index, community in enumerate(communities):
        assert community.id is not None
        count = (
            select(func.count())
            .select_from(Meeting)
            .where(Meeting.community_id == community.id, Meeting.term_id == term_id)
        )
        if (await session.exec(count)).one():
            continue  # this community's demo term is already planned
        rng = random.Random(community.code)
        # The roster was imported just now, but the demo term began weeks ago with these
        # members in it: without this, reports would leave them out of the held meetings.
        await session.exec(
            update(Membership)
            .where(
                col(Membership.community_id) == community.id,
                col(Membership.joined_at) > term_began,
            )
            .values(joined_at=term_began)
        )
        members = sorted(await active_member_ids(session, community.id))
        facilitator = await _facilitator(session, community.id)
        starts = [
            datetime.combine(_weekday_on_or_after(today - timedelta(days=28 + index)),
                             demo.meeting_time, tzinfo=zone),
            datetime.combine(_weekday_on_or_after(today + timedelta(days=2 + index % 4)),
                             demo.meeting_time, tzinfo=zone),
            datetime.combine(_weekday_on_or_after(today + timedelta(days=30 + index)),
                             demo.meeting_time, tzinfo=zone),
        ]  # fmt: skip
        if community.code == demo.meets_soon:
            starts.append((now + timedelta(minutes=45)).replace(second=0, microsecond=0))
        for number, start in enumerate(starts):
            held = start < now
            meeting = await schedule_meeting(
                programme,
                MeetingInput(
                    community_id=community.id, starts_at=start, modality=demo.modality,
                    venue=demo.venue, agenda=_AGENDA[number % len(_AGENDA)], duration_minutes=90,
                ),
                session=session, actor=SEED_ACTOR,
                now=start - timedelta(days=14) if held else now,
            )  # fmt: skip
            assert meeting.id is not None
            await _attendance(
                session, programme, meeting, members, facilitator, rng, held=held, now=now
            )
            created += 1
        await session.commit()
    return created


_AGENDA = [
    "Catch-up: learners who fell behind",
    "Inclusive teaching: group work for all learners",
    "Lesson study: share a lesson plan",
    "Check-in: what we tried since last time",
]
_NO_REASONS = ["Sick", "Family duty", "Travel", "Exam duty"]


async def _facilitator(session: AsyncSession, community_id: int) -> int | None:
    stmt = select(Membership.person_id).where(
        Membership.community_id == community_id, Membership.role == MembershipRole.facilitator
    )
    return (await session.exec(stmt)).first()


async def _attendance(
    session: AsyncSession, programme: Programme, meeting: Meeting, members: list[int],
    facilitator: int | None, rng: random.Random, *, held: bool, now: datetime,
) -> None:  # fmt: skip
    """Most members answer the day before; after a held meeting the facilitator marks everyone."""
    assert programme.id is not None and meeting.id is not None
    answered_at = min(meeting.starts_at - timedelta(days=1), now)
    for person_id in members:
        roll = rng.random()
        answer = Rsvp.yes if roll < 0.7 else Rsvp.no if roll < 0.85 else None
        if answer is not None:
            channel = rng.choice([Channel.ussd, Channel.sms])
            reason = rng.choice(_NO_REASONS) if answer is Rsvp.no else None
            await record_rsvp(
                programme.id, meeting.id, person_id, answer, reason, session=session,
                actor=Actor.person(person_id, channel), now=answered_at,
            )  # fmt: skip
        if not held:
            continue
        likely = 0.9 if answer is Rsvp.yes else 0.4 if answer is None else 0.05
        presence = Presence.present if rng.random() < likely else Presence.absent
        if presence is Presence.present and meeting.modality is Modality.hybrid:
            presence = Presence.remote if rng.random() < 0.3 else presence
        marker = Actor.person(facilitator, Channel.ussd) if facilitator else SEED_ACTOR
        await record_presence(
            programme.id, meeting.id, person_id, presence, session=session,
            actor=marker, now=meeting.starts_at + timedelta(minutes=20),
        )  # fmt: skip
    if held:
        await mark_meeting_held(
            programme, meeting.id, session=session, actor=SEED_ACTOR, now=meeting.ends_at
        )


async def _whatsapp_opt_ins(
    session: AsyncSession, programme: Programme, people_csv: Path, now: datetime
) -> None:
    """The roster's WhatsApp teachers agreed to it (as a trainee does in a workshop): their
    opt-in is recorded, so WhatsApp may write to them first. An import alone sets only
    the channel."""
    assert programme.id is not None
    phones = [
        row["phone"]
        for _, row in read_csv(people_csv, ImportKind.people)
        if row.get("channel", "").lower() == Reach.whatsapp
    ]
    stmt = select(Person.id).where(
        Person.programme_id == programme.id, col(Person.phone).in_(phones)
    )
    for person_id in (await session.exec(stmt)).all():
        assert person_id is not None
        await set_reach(
            programme, person_id, Reach.whatsapp, session=session,
            actor=SEED_ACTOR, now=now, opt_in=True,
        )  # fmt: skip
    await session.commit()


async def seed(session: AsyncSession, *, now: datetime | None = None) -> list[str]:
    now = now or datetime.now(UTC)
    summary: list[str] = []
    for demo in PROGRAMMES:
        programme = await _programme(session, demo)
        folder = HERE / programme.slug
        changed = 0
        for kind in (ImportKind.schools, ImportKind.communities, ImportKind.people):
            rows = read_csv(folder / f"{kind}.csv", kind)
            report = await import_csv(kind, rows, programme, session=session, actor=SEED_ACTOR)
            if not report.applied:
                why = report.failure or f"invalid rows {report.errors}"
                raise RuntimeError(f"demo roster {kind} of {programme.slug}: {why}")
            changed += report.changed
        await _whatsapp_opt_ins(session, programme, folder / "people.csv", now)
        assert programme.id is not None
        term_id = await _term(
            session, programme, now.astimezone(ZoneInfo(programme.timezone)).date()
        )
        meetings = await _meetings(session, programme, demo, term_id, now)
        # The held meetings' attendees have the reflection survey to answer (USSD menu 3).
        held = await session.exec(
            select(Meeting).where(
                Meeting.programme_id == programme.id,
                Meeting.status == MeetingStatus.held,
                col(Meeting.surveyed_at).is_(None),
            )
        )
        for meeting in held.all():
            await invite_attendees(session, programme, meeting, now)
        people = (
            await session.exec(
                select(func.count()).select_from(Person).where(Person.programme_id == programme.id)
            )
        ).one()
        summary.append(
            f"{programme.slug}: {people} people, {changed} roster row(s) changed, "
            f"{meetings} meeting(s) added — USSD {programme.service_code}"
        )
    return summary
