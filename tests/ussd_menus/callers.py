"""Callers for menu tests, with the longest real data a screen must still fit."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from service.domain.surveys import Pending, QuestionView, SurveySpec, reflection_spec
from service.models.enums import Language, MembershipRole, Modality, Presence, Rsvp
from ussd_menus.context import Caller, CommunityView, JoinTarget, MeetingView, ProgrammeInfo

ZONE = ZoneInfo("Africa/Kigali")
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=ZONE)
LONG_SCHOOL = "Groupe Scolaire Sainte Bernadette de Kamembe"
LONG_COMMUNITY = f"{LONG_SCHOOL} Mathematics and Science Community of Practice"
# A toolkit activity as long as a meeting keeps (120), a page and a link as long as allowed.
LONG_ACTIVITY = (
    "Learning fractions through play: paper strips, number lines and sharing bananas "
    "fairly among the learners of a large class"
)[:120]
LONG_LINK = "https://toolkit.example.org/" + "x" * 72

PROGRAMME = ProgrammeInfo(
    id=1,
    name="Rwanda School-Based Mentoring CoPs",
    timezone=ZONE,
    languages=tuple(Language),
    default_language=Language.rw,
    join_codes={"123456": JoinTarget(community_id=1, name=LONG_COMMUNITY)},
    phone_region="RW",
    sms_price=Decimal("15.5"),
    currency="RWF",
)
LONG_VENUE = "Salle polyvalente du Groupe Scolaire Sainte Bernadette, bloc C"


def meeting(
    n: int, *, modality: Modality = Modality.in_person, hours: float = 24.0, rsvp: Rsvp = Rsvp.none
) -> MeetingView:
    start = NOW + timedelta(hours=hours)
    return MeetingView(
        id=n,
        code=f"{4000 + n}",
        community_id=1 + n % 3,
        community=f"{LONG_COMMUNITY} {n}",
        starts_at=start,
        ends_at=start + timedelta(minutes=90),
        modality=modality,
        venue=LONG_VENUE,
        rsvp=rsvp,
        presence=Presence.unknown,
        # Every third meeting has no activity, the others a page or (odd) a long link.
        activity=LONG_ACTIVITY if n % 3 else None,
        activity_page=9999 if n % 3 and n % 2 == 0 else None,
        activity_link=LONG_LINK if n % 3 and n % 2 else None,
    )


def _views(spec: SurveySpec) -> tuple[QuestionView, ...]:
    return tuple(
        QuestionView(
            id=100 + position,
            position=position,
            kind=q.kind,
            text={k.value: v for k, v in q.text.items()},
            options=tuple({k.value: v for k, v in o.items()} for o in q.options),
            min_value=q.min_value,
            max_value=q.max_value,
            required=q.required,
            show_if_position=q.show_if_position,
            show_if_value=q.show_if_value,
        )
        for position, q in enumerate(spec.questions, start=1)
    )


def surveys() -> tuple[Pending, ...]:
    """The reflection survey after a meeting, and a long-worded programme survey."""
    reflection = reflection_spec()
    long_text = "How many learners in your largest class came back after the long school closure?"
    census = SurveySpec.model_validate(
        {
            "key": "census",
            "title": {lang.value: "Class size and returning learners census" for lang in Language},
            "questions": [
                {
                    "kind": "number",
                    "text": {lang.value: long_text for lang in Language},
                    "min_value": 0,
                    "max_value": 200,
                },
                {
                    "kind": "single_choice",
                    "text": {lang.value: long_text for lang in Language},
                    "options": [
                        {lang.value: f"{LONG_SCHOOL} option {n}" for lang in Language}
                        for n in range(1, 10)
                    ],
                },
            ],
        }
    )
    return (
        Pending(
            1, 11, 99, {k.value: v for k, v in reflection.title.items()}, _views(reflection), {}
        ),
        Pending(2, None, None, {k.value: v for k, v in census.title.items()}, _views(census), {}),
    )


def teacher(language: Language = Language.en, meetings: int = 12) -> Caller:
    """A teacher in three long-named communities with many meetings, one hybrid and starting."""
    views = [
        meeting(n, hours=24.0 * (n + 1), rsvp=Rsvp.yes if n == 2 else Rsvp.none)
        for n in range(meetings)
    ]
    views.insert(0, meeting(99, modality=Modality.hybrid, hours=0.5))
    communities = tuple(
        CommunityView(
            id=i,
            name=f"{LONG_COMMUNITY} {i}",
            role=MembershipRole.member,
            facilitators=("Jean de Dieu Nsengiyumva", "Immaculée Mukarugwiza"),
            members=24,
        )
        for i in (1, 2, 3)
    )
    return Caller(
        phone="+250788100001",
        programme=PROGRAMME,
        now=NOW,
        person_id=7,
        name="Marie Claire Uwimana",
        language=language,
        communities_=communities,
        meetings_=tuple(views),
        surveys_=surveys(),
    )


def stranger(language: Language = Language.rw) -> Caller:
    return Caller(
        phone="+250788999999",
        programme=PROGRAMME,
        now=NOW,
        language=language,
        communities_=(),
        meetings_=(),
        surveys_=(),
    )


def facilitator(language: Language = Language.en) -> Caller:
    """A coach leading three long-named communities of 24, some without phones, with requests."""
    from dataclasses import replace

    from ussd_menus.context import Facilitation, MemberView, RequestView

    base = teacher(language)
    led = tuple(replace(c, role=MembershipRole.facilitator) for c in base.communities)
    past = [meeting(50 + n, hours=-24.0 * (n + 1)) for n in range(3)]
    meetings = (*past, *base.meetings)
    rosters = {
        c.id: tuple(
            MemberView(
                id=100 * c.id + i,
                name=f"Jean de Dieu Nsengiyumva-Uwimana {i}",
                has_phone=i % 5 != 0,
            )
            for i in range(24)
        )
        for c in led
    }
    marks = {
        m.id: {100 * m.community_id + i: (Rsvp.yes, Presence.present) for i in range(0, 24, 3)}
        for m in meetings
    }
    requests = tuple(
        RequestView(
            membership_id=500 + i, name=f"Immaculée Mukarugwiza {i}", community=LONG_COMMUNITY
        )
        for i in range(9)
    )
    return replace(
        base,
        communities_=led,
        active=tuple((c.id, MembershipRole.facilitator, c.name) for c in led),
        venues_={c.id: (LONG_VENUE, f"{LONG_SCHOOL} staff room", "Hall") for c in led[:2]},
        facilitates=True,
        facilitation_=Facilitation(
            meetings=meetings, rosters=rosters, marks=marks, requests=requests
        ),
    )


def head_teacher(language: Language = Language.en, *, with_cop: bool = True) -> Caller:
    """A head teacher of a long-named school: a dozen meetings this week, twenty teachers
    at risk with long names, some teaching at another school (no number for them)."""
    from dataclasses import replace

    from service.domain.digests import AtRisk, SchoolWeek, WeekMeeting

    week = SchoolWeek(
        school_id=5,
        school=LONG_SCHOOL,
        communities=3,
        meetings=[
            WeekMeeting(
                meeting_id=300 + n,
                community=f"{LONG_COMMUNITY} {n}",
                starts_at=NOW + timedelta(days=n % 7, hours=n),
                yes=999,
                no=999,
            )
            for n in range(12)
        ],
        held=4,
        attended=9999,
        expected=10000,
        at_risk=[
            AtRisk(
                person_id=400 + n,
                name=f"Jean de Dieu Nsengiyumva-Uwimana Mukarugwiza {n}",
                community=f"{LONG_COMMUNITY} {n}",
                phone=None if n % 4 == 3 else f"+2507881{n:05d}",
                own_school=n % 4 != 3 or n % 8 == 3,
            )
            for n in range(20)
        ],
    )
    return replace(
        teacher(language), leads_school=5, school_=week if with_cop else None, school_loaded=True
    )


def invitee(language: Language = Language.rw) -> Caller:
    """A number a facilitator added to two long-named communities: no name yet."""
    return Caller(
        phone="+250788999998",
        programme=PROGRAMME,
        now=NOW,
        person_id=8,
        name="",
        language=language,
        pending=(f"{LONG_COMMUNITY} 1", f"{LONG_COMMUNITY} 2"),
        communities_=(),
        meetings_=(),
        surveys_=(),
    )
