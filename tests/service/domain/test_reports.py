"""The reports programmes run on, checked against figures worked out by hand.

The programme (`build`): two CoPs in one term.

- Everyone joined when the term's meetings were planned, before any of them.
- Alpha (school in Kisumu): Amina (F), Beatrice (F), Chege (M); meetings M1 and M2,
  both held. M1: Amina and Beatrice present, Chege absent. M2: Amina present,
  Beatrice remote, Chege absent. RSVPs for M1: all three yes; for M2: Chege no.
- Beta (school in Siaya): Daudi (M), Esther (F); M3 held (Daudi absent, Esther
  present; RSVP Daudi yes, Esther no), M4 cancelled.
- The reflection survey: Q1 rating, Q2 yes/no, Q3 choice shown only after "yes",
  Q4 short text, Q5 number. Six responses: four completed, one abandoned, one
  in progress.
- SMS to members with costs; one SMS after the term.
- Another programme with a survey of the same key, a message and marks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import reports
from service.domain.attendance import record_presence, record_rsvp
from service.domain.communities import add_member, remove_member
from service.domain.meetings import cancel_meeting, mark_meeting_held
from service.domain.people import PersonInput, create_person
from service.domain.reports import Band, Breakdown, ReportFilter
from service.domain.schools import SchoolInput, upsert_school
from service.domain.terms import TermInput, create_term
from service.models import (
    Answer,
    Community,
    Meeting,
    Message,
    Person,
    Programme,
    Question,
    Survey,
    SurveyResponse,
)
from service.models.enums import (
    Channel,
    Country,
    Direction,
    Gender,
    Language,
    MembershipRole,
    MessageStatus,
    Modality,
    Presence,
    QuestionKind,
    Reach,
    ResponseStatus,
    Role,
    Rsvp,
    SurveyStatus,
)
from tests import factories as f

OP = f.OPERATOR
# Meetings at 14:00 Nairobi (11:00 UTC), the term from January to March 2025.
M1_AT = datetime(2025, 1, 20, 11, 0, tzinfo=UTC)
M2_AT = datetime(2025, 2, 17, 11, 0, tzinfo=UTC)
M3_AT = datetime(2025, 2, 18, 11, 0, tzinfo=UTC)
M4_AT = datetime(2025, 3, 18, 11, 0, tzinfo=UTC)
PLANNED = datetime(2025, 1, 6, 7, 0, tzinfo=UTC)  # when the term's meetings were planned
NOW = datetime(2025, 4, 1, 7, 0, tzinfo=UTC)  # the report is read after the term


@dataclass
class Built:
    programme: Programme
    other: f.World
    alpha: Community
    beta: Community
    people: dict[str, Person]
    term_id: int
    meetings: dict[str, Meeting]


async def _person(
    session: AsyncSession, prog: Programme, name: str, gender: Gender, school_id: int | None
) -> Person:
    roles = [Role.teacher, Role.subject_lead] if name == "Amina" else [Role.teacher]
    n = len(name) * 7 + ord(name[0])
    return await create_person(
        prog,
        PersonInput(
            name=name, phone=f"+2547220{n:05d}", gender=gender, school_id=school_id, roles=roles
        ),
        session=session,
        actor=OP,
    )


async def _meeting(
    session: AsyncSession, prog: Programme, comm: Community, at: datetime, modality: Modality
) -> Meeting:
    return await f.meeting(
        session, prog, comm, at=PLANNED, starts_in=at - PLANNED, modality=modality
    )


async def _survey(session: AsyncSession, prog: Programme) -> list[Question]:
    assert prog.id is not None
    survey = Survey(
        programme_id=prog.id,
        key="term-check",
        title={"en": "Reflection"},
        status=SurveyStatus.active,
    )
    session.add(survey)
    await session.flush()
    assert survey.id is not None
    questions = [
        Question(
            survey_id=survey.id,
            position=1,
            kind=QuestionKind.rating,
            text={"en": "How useful was this meeting?", "sw": "Mkutano ulikuwa na manufaa?"},
        ),
        Question(
            survey_id=survey.id,
            position=2,
            kind=QuestionKind.yes_no,
            text={"en": "Did you discuss learner needs?"},
        ),
        Question(
            survey_id=survey.id,
            position=3,
            kind=QuestionKind.single_choice,
            text={"en": "Which?"},
            show_if_position=2,
            show_if_value="yes",
            options=[
                {"en": "Inclusive teaching", "sw": "Ufundishaji jumuishi"},
                {"en": "Assessment", "sw": "Tathmini"},
            ],
        ),
        Question(
            survey_id=survey.id,
            position=4,
            kind=QuestionKind.short_text,
            text={"en": "Anything else?"},
            required=False,
        ),
        Question(
            survey_id=survey.id,
            position=5,
            kind=QuestionKind.number,
            text={"en": "Learners in your class?"},
            required=False,
        ),
    ]
    session.add_all(questions)
    await session.flush()
    return questions


async def _respond(
    session: AsyncSession,
    questions: list[Question],
    person: Person,
    meeting: Meeting | None,
    status: ResponseStatus,
    *values: str | None,
) -> None:
    assert person.id is not None
    response = SurveyResponse(
        survey_id=questions[0].survey_id,
        person_id=person.id,
        meeting_id=meeting.id if meeting else None,
        channel=Channel.ussd,
        status=status,
        started_at=(meeting.starts_at if meeting else NOW),
    )
    session.add(response)
    await session.flush()
    assert response.id is not None
    for question, value in zip(questions, values, strict=False):
        if value is not None and question.id is not None:
            session.add(
                Answer(
                    response_id=response.id,
                    question_id=question.id,
                    value=value,
                    channel=Channel.ussd,
                )
            )


def _sms(
    prog: Programme,
    person: Person,
    comm: Community | None,
    status: MessageStatus,
    cost: str | None,
    segments: int = 1,
    at: datetime = datetime(2025, 2, 1, 8, 0, tzinfo=UTC),
    direction: Direction = Direction.outbound,
) -> Message:
    assert person.phone is not None and prog.id is not None
    return Message(
        programme_id=prog.id,
        person_id=person.id,
        community_id=comm.id if comm else None,
        direction=direction,
        kind="reminder",
        phone=person.phone,
        status=status,
        segments=segments,
        cost=Decimal(cost) if cost else None,
        currency="KES" if cost else None,
        created_at=at,
        updated_at=at,
    )


async def build(session: AsyncSession) -> Built:
    prog = await f.programme(session)
    assert prog.id is not None
    term = await create_term(
        prog,
        TermInput(name="2025 T1", starts_on=date(2025, 1, 6), ends_on=date(2025, 3, 28)),
        session=session,
        actor=OP,
    )
    kisumu = await f.school(session, prog, "KIS-1")
    siaya, _ = await upsert_school(
        prog,
        SchoolInput(code="SIA-1", name="Siaya Primary", district="Siaya"),
        session=session,
        actor=OP,
    )
    alpha = await f.community(session, prog, code="ALPHA", school_ids=[kisumu.id or 0])
    beta = await f.community(session, prog, code="BETA", school_ids=[siaya.id or 0])
    people = {
        "Amina": await _person(session, prog, "Amina", Gender.female, kisumu.id),
        "Beatrice": await _person(session, prog, "Beatrice", Gender.female, kisumu.id),
        "Chege": await _person(session, prog, "Chege", Gender.male, kisumu.id),
        "Daudi": await _person(session, prog, "Daudi", Gender.male, siaya.id),
        "Esther": await _person(session, prog, "Esther", Gender.female, siaya.id),
    }
    for name, comm in [
        ("Amina", alpha),
        ("Beatrice", alpha),
        ("Chege", alpha),
        ("Daudi", beta),
        ("Esther", beta),
    ]:
        assert comm.id is not None and people[name].id is not None
        await add_member(
            prog.id, comm.id, people[name].id or 0, session=session, actor=OP, now=PLANNED
        )

    m1 = await _meeting(session, prog, alpha, M1_AT, Modality.in_person)
    m2 = await _meeting(session, prog, alpha, M2_AT, Modality.hybrid)
    m3 = await _meeting(session, prog, beta, M3_AT, Modality.in_person)
    m4 = await _meeting(session, prog, beta, M4_AT, Modality.in_person)
    rsvps = [
        (m1, "Amina", Rsvp.yes),
        (m1, "Beatrice", Rsvp.yes),
        (m1, "Chege", Rsvp.yes),
        (m2, "Chege", Rsvp.no),
        (m3, "Daudi", Rsvp.yes),
        (m3, "Esther", Rsvp.no),
    ]
    for mtg, name, answer in rsvps:
        await record_rsvp(
            prog.id,
            mtg.id or 0,
            people[name].id or 0,
            answer,
            session=session,
            actor=OP,
            now=mtg.starts_at - timedelta(days=1),
        )
    marks = [
        (m1, "Amina", Presence.present),
        (m1, "Beatrice", Presence.present),
        (m1, "Chege", Presence.absent),
        (m2, "Amina", Presence.present),
        (m2, "Beatrice", Presence.remote),
        (m2, "Chege", Presence.absent),
        (m3, "Daudi", Presence.absent),
        (m3, "Esther", Presence.present),
    ]
    for mtg, name, presence in marks:
        await record_presence(
            prog.id,
            mtg.id or 0,
            people[name].id or 0,
            presence,
            session=session,
            actor=OP,
            now=mtg.starts_at,
        )
    for mtg in (m1, m2, m3):
        await mark_meeting_held(prog, mtg.id or 0, session=session, actor=OP, now=mtg.ends_at)
    # Cancelling queues a notice to Daudi and Esther (queued, no cost yet).
    await cancel_meeting(
        prog,
        m4.id or 0,
        "Exams",
        session=session,
        actor=OP,
        now=datetime(2025, 3, 10, 7, 0, tzinfo=UTC),
    )

    q = await _survey(session, prog)
    done, gone, going = (
        ResponseStatus.completed,
        ResponseStatus.abandoned,
        ResponseStatus.in_progress,
    )
    p = people
    await _respond(session, q, p["Amina"], m1, done, "5", "yes", "1", "Tulijifunza mengi", "40")
    await _respond(session, q, p["Beatrice"], m1, done, "4", "no", None, None, "35")
    await _respond(session, q, p["Amina"], m2, done, "4", "yes", "2")
    await _respond(session, q, p["Esther"], m3, done, "2", "yes", "1", "Need more materials", "52")
    await _respond(session, q, p["Chege"], m1, gone)
    await _respond(session, q, p["Daudi"], m3, going)

    after_term = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)
    session.add_all(
        [
            _sms(prog, p["Amina"], alpha, MessageStatus.delivered, "0.8000"),
            _sms(prog, p["Beatrice"], alpha, MessageStatus.delivered, "0.8000"),
            _sms(prog, p["Chege"], alpha, MessageStatus.failed, None),
            _sms(prog, p["Amina"], alpha, MessageStatus.sent, "1.6000", segments=2),
            _sms(prog, p["Esther"], beta, MessageStatus.unknown, "0.8000"),
            _sms(prog, p["Daudi"], beta, MessageStatus.dropped, "0.8000"),
            _sms(prog, p["Amina"], None, MessageStatus.received, None, direction=Direction.inbound),
            _sms(prog, p["Beatrice"], alpha, MessageStatus.delivered, "0.8000", at=after_term),
        ]
    )

    other = await f.world(
        session, slug="rw-sbi", country=Country.RW, timezone="Africa/Kigali", language=Language.rw
    )
    assert other.programme.id is not None
    oq = await _survey(session, other.programme)
    await _respond(session, oq, other.members[0], None, done, "1", "no", None, "Ibanga", "99")
    session.add(
        _sms(other.programme, other.members[0], other.community, MessageStatus.delivered, "9.0000")
    )
    await session.commit()
    assert term.id is not None
    meetings = {"M1": m1, "M2": m2, "M3": m3, "M4": m4}
    return Built(prog, other, alpha, beta, people, term.id, meetings)


async def scope(session: AsyncSession, b: Built, **filters: object) -> reports.ReportScope:
    return await reports.resolve(session, b.programme, ReportFilter(**filters), now=NOW)  # type: ignore[arg-type]


# ---------------------------------------------------------------- attendance


async def test_attendance_counts_meetings_rsvps_and_presence(session: AsyncSession) -> None:
    b = await build(session)
    report = await reports.attendance(session, await scope(session, b))
    m = report.meetings
    assert (m.planned, m.held, m.cancelled, m.overdue) == (4, 3, 1, 0)
    t = report.totals
    assert t.members == 5  # Alpha 3 + Beta 2
    assert t.expected == 8  # Alpha 3 members x 2 held + Beta 2 x 1 held
    assert (t.present, t.remote, t.attended) == (4, 1, 5)  # M1 2 + M2 1+1 remote + M3 1
    assert t.rate == pytest.approx(0.625)  # 5 / 8
    assert (t.rsvp_yes, t.rsvp_yes_attended) == (4, 2)  # M1 x3 + Daudi; Amina and Beatrice came
    assert (t.rsvp_no, t.rsvp_no_attended) == (2, 1)  # Chege at M2, Esther at M3 (who came)


async def test_attendance_rate_per_community(session: AsyncSession) -> None:
    b = await build(session)
    report = await reports.attendance(session, await scope(session, b))
    rates = {
        c.name: (c.figures.attended, c.figures.expected, c.figures.rate) for c in report.communities
    }
    assert rates == {
        "Community ALPHA": (4, 6, pytest.approx(4 / 6)),  # 2 + 2 of 3 members x 2 meetings
        "Community BETA": (1, 2, 0.5),  # Esther of 2 members x 1 meeting
    }


async def test_attendance_by_gender(session: AsyncSession) -> None:
    b = await build(session)
    report = await reports.attendance(session, await scope(session, b, by=Breakdown.gender))
    groups = {
        g.group: (g.figures.members, g.figures.expected, g.figures.attended) for g in report.groups
    }
    assert groups == {
        "female": (3, 5, 5),  # Amina, Beatrice: 2 x 2 seats, 4 came; Esther 1 seat, came
        "male": (2, 3, 0),  # Chege 2 seats, Daudi 1 seat: none came
    }


async def test_attendance_by_role_counts_a_person_in_each_of_their_roles(
    session: AsyncSession,
) -> None:
    b = await build(session)
    report = await reports.attendance(session, await scope(session, b, by=Breakdown.role))
    groups = {g.group: (g.figures.members, g.figures.attended) for g in report.groups}
    assert groups == {"teacher": (5, 5), "subject_lead": (1, 2)}  # Amina leads and came twice


async def test_filters_narrow_to_a_district_and_a_gender_free_window(session: AsyncSession) -> None:
    b = await build(session)
    siaya = await reports.attendance(session, await scope(session, b, district="Siaya"))
    assert [c.name for c in siaya.communities] == ["Community BETA"]
    assert (siaya.meetings.planned, siaya.totals.attended) == (2, 1)
    # 1-31 January in Nairobi: only M1.
    january = await reports.attendance(
        session, await scope(session, b, since=date(2025, 1, 1), until=date(2025, 1, 31))
    )
    assert (january.meetings.held, january.totals.attended, january.totals.expected) == (1, 2, 3)


async def test_members_at_risk_missed_the_last_two_held_meetings(session: AsyncSession) -> None:
    b = await build(session)
    s = await scope(session, b)
    page = await reports.members_at_risk(session, s, missed=2, offset=0, limit=10)
    # Beta has one held meeting only, so nobody there can have missed two.
    assert page.total == 1
    [chege] = page.members
    assert (chege.person_id, chege.held, chege.attended, chege.last_attended_at) == (
        b.people["Chege"].id,
        2,
        0,
        None,
    )
    one = await reports.members_at_risk(session, s, missed=1, offset=0, limit=10)
    assert {m.person_id for m in one.members} == (
        {b.people["Chege"].id, b.people["Daudi"].id}  # missed M2 and M3, the last of each
    )


# ------------------------------------------------- who counts for a held meeting

JOINED_MID_TERM = datetime(2025, 2, 1, 7, 0, tzinfo=UTC)  # after M1, before M2 and M3
JOINED_LATE = datetime(2025, 3, 1, 7, 0, tzinfo=UTC)  # after every held meeting


async def join(
    session: AsyncSession,
    b: Built,
    name: str,
    comm: Community,
    at: datetime,
    marks: dict[str, Presence] | None = None,
    *,
    gender: Gender = Gender.female,
    role: MembershipRole = MembershipRole.member,
    marked_at: datetime | None = None,
) -> Person:
    """A newcomer to `comm` from `at`, marked at some meetings (at their start, unless
    `marked_at`: a facilitator filling in the register later)."""
    assert b.programme.id is not None and comm.id is not None
    person = await _person(session, b.programme, name, gender, None)
    assert person.id is not None
    await add_member(
        b.programme.id, comm.id, person.id, role=role, session=session, actor=OP, now=at
    )
    for key, presence in (marks or {}).items():
        meeting = b.meetings[key]
        await record_presence(
            b.programme.id,
            meeting.id or 0,
            person.id,
            presence,
            session=session,
            actor=OP,
            now=marked_at or meeting.starts_at,
        )
    await session.commit()
    return person


def _alpha(report: reports.AttendanceReport, b: Built) -> reports.CommunityAttendance:
    return next(c for c in report.communities if c.community_id == b.alpha.id)


async def test_a_member_who_joined_mid_term_counts_only_for_the_meetings_after_joining(
    session: AsyncSession,
) -> None:
    b = await build(session)
    await join(session, b, "Fatuma", b.alpha, JOINED_MID_TERM, {"M2": Presence.present})
    report = await reports.attendance(session, await scope(session, b, by=Breakdown.gender))
    alpha = _alpha(report, b).figures
    # Amina, Beatrice, Chege at M1 and M2; Fatuma at M2 only: 7 seats, 5 taken.
    assert (alpha.members, alpha.expected, alpha.attended) == (4, 7, 5)
    assert alpha.rate == pytest.approx(5 / 7)
    assert (report.totals.expected, report.totals.attended) == (9, 6)
    female = next(g.figures for g in report.groups if g.group == "female")
    assert (female.expected, female.attended) == (6, 6)  # Amina 2, Beatrice 2, Esther, Fatuma


async def test_a_newcomer_marked_present_at_the_meeting_they_first_came_to_counts_for_it(
    session: AsyncSession,
) -> None:
    b = await build(session)
    # Added on the evening of M2 and ticked on the register then: they were there.
    evening = b.meetings["M2"].starts_at + timedelta(hours=6)
    await join(session, b, "Imani", b.alpha, evening, {"M2": Presence.present}, marked_at=evening)
    alpha = _alpha(await reports.attendance(session, await scope(session, b)), b).figures
    assert (alpha.members, alpha.expected, alpha.attended) == (4, 7, 5)  # M2 only, not M1


async def test_a_member_who_left_still_counts_for_the_meetings_held_while_they_belonged(
    session: AsyncSession,
) -> None:
    b = await build(session)
    assert b.programme.id is not None and b.alpha.id is not None
    await remove_member(
        b.programme.id,
        b.alpha.id,
        b.people["Chege"].id or 0,
        session=session,
        actor=OP,
        now=JOINED_LATE,
    )
    await session.commit()
    alpha = _alpha(await reports.attendance(session, await scope(session, b)), b).figures
    # The term's meetings are what they were: Chege missed both, leaving does not erase it.
    assert (alpha.members, alpha.expected, alpha.attended) == (2, 6, 4)
    assert alpha.rate == pytest.approx(4 / 6)


async def test_a_member_who_joined_after_the_last_held_meetings_is_not_at_risk(
    session: AsyncSession,
) -> None:
    b = await build(session)
    await join(session, b, "Gideon", b.alpha, JOINED_LATE, gender=Gender.male)
    s = await scope(session, b)
    two = await reports.members_at_risk(session, s, missed=2, offset=0, limit=10)
    assert (two.total, [m.person_id for m in two.members]) == (1, [b.people["Chege"].id])
    one = await reports.members_at_risk(session, s, missed=1, offset=0, limit=10)
    assert {m.person_id for m in one.members} == {b.people["Chege"].id, b.people["Daudi"].id}


async def test_a_member_with_fewer_held_meetings_than_missed_since_joining_is_not_yet_at_risk(
    session: AsyncSession,
) -> None:
    b = await build(session)
    hadija = await join(session, b, "Hadija", b.alpha, JOINED_MID_TERM, {"M2": Presence.absent})
    s = await scope(session, b)
    two = await reports.members_at_risk(session, s, missed=2, offset=0, limit=10)
    assert [m.person_id for m in two.members] == [b.people["Chege"].id]  # one chance only
    one = await reports.members_at_risk(session, s, missed=1, offset=0, limit=10)
    rows = {m.person_id: (m.held, m.attended, m.rate) for m in one.members}
    assert rows == {
        b.people["Chege"].id: (2, 0, 0.0),
        hadija.id: (1, 0, 0.0),  # M2 is the only meeting held since she joined
        b.people["Daudi"].id: (1, 0, 0.0),
    }


async def test_a_facilitator_is_never_at_risk_and_is_counted_apart_from_the_members(
    session: AsyncSession,
) -> None:
    b = await build(session)
    absent = {"M1": Presence.absent, "M2": Presence.absent}
    await join(session, b, "Wanjiru", b.alpha, PLANNED, absent, role=MembershipRole.facilitator)
    s = await scope(session, b)
    page = await reports.members_at_risk(session, s, missed=2, offset=0, limit=10)
    assert (page.total, [m.person_id for m in page.members]) == (1, [b.people["Chege"].id])

    report = await reports.attendance(session, s)
    alpha = _alpha(report, b)
    assert (alpha.figures.members, alpha.figures.expected, alpha.figures.attended) == (3, 6, 4)
    f = alpha.facilitators
    assert (f.members, f.expected, f.attended, f.rate) == (1, 2, 0, 0.0)
    assert (report.totals.expected, report.totals.rate) == (8, 0.625)  # as without her
    assert (report.facilitators.members, report.facilitators.expected) == (1, 2)
    by_role = await reports.attendance(session, await scope(session, b, by=Breakdown.role))
    assert {g.group: g.figures.members for g in by_role.groups} == {
        "teacher": 5,
        "subject_lead": 1,
    }
    health = {h.name: h for h in await reports.cop_health(session, s)}
    assert health["Community ALPHA"].attendance_rate == pytest.approx(4 / 6)


# ---------------------------------------------------------------- survey results


async def test_survey_results_count_answers_over_those_who_answered(session: AsyncSession) -> None:
    b = await build(session)
    s = await scope(session, b)
    r = await reports.survey_results(session, s, "term-check", language="sw", with_texts=True)
    assert r is not None
    assert (r.invited, r.completed, r.abandoned, r.in_progress) == (6, 4, 1, 1)
    assert r.response_rate == pytest.approx(4 / 6)
    rating, yes_no, choice, text, number = r.questions
    assert rating.text == "Mkutano ulikuwa na manufaa?"
    assert rating.answered == 4
    assert [(a.value, a.count, a.percent) for a in rating.options] == [
        ("1", 0, 0.0),
        ("2", 1, 25.0),
        ("3", 0, 0.0),
        ("4", 2, 50.0),
        ("5", 1, 25.0),
    ]
    assert rating.mean == pytest.approx(3.75)  # (5 + 4 + 4 + 2) / 4
    assert [(a.value, a.count, a.percent) for a in yes_no.options] == [
        ("yes", 3, 75.0),
        ("no", 1, 25.0),
    ]
    # Beatrice said no and was never asked Q3: 3 answered, not 4.
    assert choice.answered == 3
    assert [(a.value, a.label, a.count) for a in choice.options] == [
        ("1", "Ufundishaji jumuishi", 2),
        ("2", "Tathmini", 1),
    ]
    assert choice.options[0].percent == pytest.approx(200 / 3)  # 2 of 3
    assert (text.answered, sorted(text.texts or [])) == (
        2,
        ["Need more materials", "Tulijifunza mengi"],
    )
    assert (number.answered, number.minimum, number.maximum) == (3, 35.0, 52.0)
    assert number.mean == pytest.approx(127 / 3)  # (40 + 35 + 52) / 3


async def test_free_text_is_withheld_unless_allowed(session: AsyncSession) -> None:
    b = await build(session)
    s = await scope(session, b)
    r = await reports.survey_results(session, s, "term-check", language="sw", with_texts=False)
    assert r is not None and r.questions[3].answered == 2 and r.questions[3].texts is None


async def test_survey_results_of_one_community(session: AsyncSession) -> None:
    b = await build(session)
    s = await scope(session, b, community_id=b.beta.id)
    r = await reports.survey_results(session, s, "term-check", language="sw", with_texts=True)
    assert r is not None
    assert (r.invited, r.completed) == (2, 1)  # Esther completed, Daudi still going
    assert r.questions[0].mean == 2.0


async def test_an_unknown_survey_has_no_results(session: AsyncSession) -> None:
    b = await build(session)
    s = await scope(session, b)
    assert await reports.survey_results(session, s, "nope", language="sw", with_texts=True) is None


# ---------------------------------------------------------------- CoP health


@pytest.mark.parametrize(
    ("rating", "held", "attendance", "expected"),
    [
        (4.0, 0.8, 0.6, Band.HIGH),  # every bar met exactly
        (3.9, 0.9, 0.9, Band.MEDIUM),
        (2.9, 1.0, 1.0, Band.LOW),
        (4.5, 0.49, 1.0, Band.LOW),
        (4.5, 1.0, 0.39, Band.LOW),
        (None, 0.8, 0.6, Band.HIGH),  # no ratings yet: held and attendance decide
        (None, 0.7, 0.6, Band.MEDIUM),
        (None, 0.0, None, Band.LOW),  # all cancelled, nobody to count
        (None, None, None, Band.UNRATED),
    ],
)
def test_the_band_rule(
    rating: float | None, held: float | None, attendance: float | None, expected: Band
) -> None:
    assert reports.band(rating, held, attendance) is expected


async def test_cop_health_bands_one_high_and_one_low(session: AsyncSession) -> None:
    b = await build(session)
    rows = {h.name: h for h in await reports.cop_health(session, await scope(session, b))}
    alpha, beta = rows["Community ALPHA"], rows["Community BETA"]
    assert alpha.rating_mean == pytest.approx(13 / 3)  # 5 + 4 at M1, 4 at M2
    assert alpha.held_rate == 1.0  # 2 held of 2 due
    assert alpha.attendance_rate == pytest.approx(4 / 6)
    assert alpha.band is Band.HIGH  # 4.33 >= 4, 1.0 >= 0.8, 0.67 >= 0.6
    assert (beta.rating_mean, beta.held_rate, beta.attendance_rate) == (2.0, 0.5, 0.5)
    assert beta.band is Band.LOW  # rating 2.0 < 3.0


async def test_a_community_with_nothing_to_judge_is_unrated(session: AsyncSession) -> None:
    b = await build(session)
    await f.community(session, b.programme, code="GAMMA")
    await session.commit()
    rows = {h.name: h for h in await reports.cop_health(session, await scope(session, b))}
    gamma = rows["Community GAMMA"]
    assert (gamma.rating_mean, gamma.held_rate, gamma.attendance_rate) == (None, None, None)
    assert gamma.band is Band.UNRATED


# ---------------------------------------------------------------- messaging


async def test_messaging_counts_cost_and_cost_per_teacher(session: AsyncSession) -> None:
    b = await build(session)
    sms = (await reports.messaging(session, await scope(session, b, term_id=b.term_id))).sms
    assert sms.messages == 8  # 6 written in term + 2 cancellation notices (the May one is out)
    assert (sms.sent, sms.delivered, sms.failed, sms.dropped) == (4, 2, 1, 1)
    assert (sms.queued, sms.received) == (2, 1)
    assert sms.segments == 5  # 1 + 1 + 2 + 1
    assert sms.cost == {"KES": Decimal("4.0")}  # 0.8 + 0.8 + 1.6 + 0.8; dropped excluded
    assert sms.recipients == 3  # Amina, Beatrice, Esther
    assert sms.cost_per_teacher == {"KES": Decimal("1.3333")}  # 4.0 / 3
    whole = (await reports.messaging(session, await scope(session, b))).sms
    assert (whole.sent, whole.cost, whole.cost_per_teacher) == (
        5,
        {"KES": Decimal("4.8")},
        {"KES": Decimal("1.6000")},  # + May's 0.8; 4.8 / 3
    )


async def test_tenancy_another_programme_never_counts(session: AsyncSession) -> None:
    b = await build(session)
    s = await scope(session, b)
    r = await reports.survey_results(session, s, "term-check", language="sw", with_texts=True)
    assert r is not None and r.invited == 6 and "Ibanga" not in (r.questions[3].texts or [])
    theirs = await reports.resolve(session, b.other.programme, ReportFilter(), now=NOW)
    r2 = await reports.survey_results(session, theirs, "term-check", language="rw", with_texts=True)
    assert r2 is not None and (r2.invited, r2.questions[3].texts) == (1, ["Ibanga"])
    # Another programme's community id selects nothing here.
    foreign = await reports.attendance(
        session, await scope(session, b, community_id=b.other.community.id)
    )
    assert (foreign.communities, foreign.totals.members) == ([], 0)
    sms = (await reports.messaging(session, s)).sms
    assert sms.cost == {"KES": Decimal("4.8")}


async def test_messaging_splits_figures_and_cost_per_channel(session: AsyncSession) -> None:
    b = await build(session)
    # Everything sent to one person went by WhatsApp; one SMS to someone else fell back.
    sent = (
        await session.exec(
            select(Message).where(
                Message.programme_id == b.programme.id,
                col(Message.status).in_(reports.SENT),
                Message.direction == Direction.outbound,
            )
        )
    ).all()
    on_whatsapp = sent[0].person_id
    for message in sent:
        if message.person_id == on_whatsapp:
            message.reach, message.cost = Reach.whatsapp, Decimal("0.1")
    fell_back = next(m for m in sent if m.person_id != on_whatsapp)
    fell_back.fallback_reason = "not on WhatsApp"
    await session.commit()
    report = await reports.messaging(session, await scope(session, b))
    sms, whatsapp = report.channels[Reach.sms], report.channels[Reach.whatsapp]
    moved = sum(1 for m in sent if m.person_id == on_whatsapp)
    assert (whatsapp.sent, whatsapp.recipients) == (moved, 1)
    assert whatsapp.cost == {"KES": Decimal("0.1") * moved}
    assert sms.sent + whatsapp.sent == report.sms.sent
    assert sms.messages + whatsapp.messages == report.sms.messages
    assert sms.cost["KES"] + whatsapp.cost["KES"] == report.sms.cost["KES"]
    assert report.fell_back == 1
