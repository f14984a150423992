"""The report fields through GraphQL: scope `read`, one programme, free text needs read:pii.

The figures are those of the programme built in tests/service/domain/test_reports.py,
worked out by hand there and repeated here as literals.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.models.enums import MembershipRole, Presence, Scope
from tests.service.api.conftest import Api, issue_key
from tests.service.domain.test_reports import JOINED_MID_TERM, PLANNED, Built, build, join

ATTENDANCE = """
query($f: ReportFilter) { attendance(filter: $f) {
  meetings { planned held cancelled heldRate }
  totals { members expected attended rsvpYes rsvpYesAttended rsvpNo rsvpNoAttended attendanceRate }
  groups { group figures { members expected attended attendanceRate } }
  communities(first: 10) { totalCount nodes { community { name } figures { attendanceRate } } }
  atRisk { totalCount nodes { person { name } community { name } heldMeetings attended } }
} }"""

SURVEY = """
query($key: String!) { surveyResults(surveyKey: $key) {
  survey { key version } invited completed responseRate
  questions { position kind answered mean answers { value label count percent } texts }
} }"""

HEALTH = """{ copHealth {
  bands { high medium low unrated }
  communities { nodes { community { name } band ratingMean heldRate attendanceRate } }
} }"""

MESSAGING = """
query($f: ReportFilter) { messaging(filter: $f) {
  sms { sent delivered failed dropped segments cost { amount currency }
        recipients costPerTeacher { amount currency } }
  ussd { sessions completed abandoned funnel { screen } }
} }"""


@pytest.fixture
async def built(session: AsyncSession) -> Built:
    return await build(session)


async def key(session: AsyncSession, b: Built, *scopes: Scope) -> str:
    return await issue_key(session, b.programme, *scopes)


async def test_attendance_report(api: Api, session: AsyncSession, built: Built) -> None:
    reader = await key(session, built, Scope.read)
    data = (await api.gql(ATTENDANCE, {"f": {"by": "gender"}}, key=reader))["attendance"]
    assert data["meetings"] == {"planned": 4, "held": 3, "cancelled": 1, "heldRate": 0.75}
    assert data["totals"] == {
        "members": 5,
        "expected": 8,  # 3 members x 2 held + 2 x 1
        "attended": 5,
        "rsvpYes": 4,
        "rsvpYesAttended": 2,
        "rsvpNo": 2,
        "rsvpNoAttended": 1,
        "attendanceRate": 0.625,  # 5 / 8
    }
    assert data["groups"] == [
        {
            "group": "female",
            "figures": {"members": 3, "expected": 5, "attended": 5, "attendanceRate": 1.0},
        },
        {
            "group": "male",
            "figures": {"members": 2, "expected": 3, "attended": 0, "attendanceRate": 0.0},
        },
    ]
    rows = data["communities"]
    assert rows["totalCount"] == 2
    assert [(r["community"]["name"], r["figures"]["attendanceRate"]) for r in rows["nodes"]] == [
        ("Community ALPHA", pytest.approx(4 / 6)),
        ("Community BETA", 0.5),
    ]
    assert data["atRisk"] == {
        "totalCount": 1,
        "nodes": [
            {
                "person": {"name": "Chege"},
                "community": {"name": "Community ALPHA"},
                "heldMeetings": 2,
                "attended": 0,
            }
        ],
    }


WHO_COUNTS = """{ attendance {
  totals { members expected attended }
  facilitators { members expected attended attendanceRate }
  communities { nodes { community { name } facilitators { expected attended } } }
  atRisk(missed: 1) { nodes { person { name } heldMeetings attended attendanceRate } }
} }"""


async def test_facilitators_are_reported_apart_and_newcomers_count_from_joining(
    api: Api, session: AsyncSession, built: Built
) -> None:
    came_then_missed = {"M1": Presence.present, "M2": Presence.absent}
    facilitator = MembershipRole.facilitator
    await join(session, built, "Wanjiru", built.alpha, PLANNED, came_then_missed, role=facilitator)
    await join(session, built, "Hadija", built.alpha, JOINED_MID_TERM, {"M2": Presence.absent})
    reader = await key(session, built, Scope.read)
    data = (await api.gql(WHO_COUNTS, key=reader))["attendance"]
    assert data["totals"] == {"members": 6, "expected": 9, "attended": 5}  # + Hadija at M2
    assert data["facilitators"] == {
        "members": 1,
        "expected": 2,
        "attended": 1,
        "attendanceRate": 0.5,
    }
    rows = data["communities"]["nodes"]
    assert [(r["community"]["name"], r["facilitators"]) for r in rows] == [
        ("Community ALPHA", {"expected": 2, "attended": 1}),
        ("Community BETA", {"expected": 0, "attended": 0}),
    ]
    # Wanjiru missed M2 too, but a facilitator is never a member at risk.
    assert data["atRisk"]["nodes"] == [
        {"person": {"name": "Chege"}, "heldMeetings": 2, "attended": 0, "attendanceRate": 0.0},
        {"person": {"name": "Hadija"}, "heldMeetings": 1, "attended": 0, "attendanceRate": 0.0},
        {"person": {"name": "Daudi"}, "heldMeetings": 1, "attended": 0, "attendanceRate": 0.0},
    ]


async def test_attendance_of_a_term_in_one_district(
    api: Api, session: AsyncSession, built: Built
) -> None:
    reader = await key(session, built, Scope.read)
    f = {"termId": ids.encode("Term", built.term_id), "district": "Siaya"}
    data = (await api.gql(ATTENDANCE, {"f": f}, key=reader))["attendance"]
    assert data["meetings"]["planned"] == 2 and data["totals"]["attendanceRate"] == 0.5


def _question(data: dict[str, Any], position: int) -> dict[str, Any]:
    return next(q for q in data["questions"] if q["position"] == position)


async def test_survey_results_hide_free_text_without_read_pii(
    api: Api, session: AsyncSession, built: Built
) -> None:
    reader = await key(session, built, Scope.read)
    data = (await api.gql(SURVEY, {"key": "term-check"}, key=reader))["surveyResults"]
    assert (data["invited"], data["completed"]) == (6, 4)
    assert data["responseRate"] == pytest.approx(4 / 6)
    rating = _question(data, 1)
    assert (rating["answered"], rating["mean"]) == (4, 3.75)  # (5 + 4 + 4 + 2) / 4
    choice = _question(data, 3)
    assert [(a["label"], a["count"]) for a in choice["answers"]] == [
        ("Ufundishaji jumuishi", 2),
        ("Tathmini", 1),
    ]
    assert _question(data, 4)["texts"] is None

    pii = await key(session, built, Scope.read, Scope.read_pii)
    data = (await api.gql(SURVEY, {"key": "term-check"}, key=pii))["surveyResults"]
    assert sorted(_question(data, 4)["texts"]) == ["Need more materials", "Tulijifunza mengi"]


async def test_cop_health_bands(api: Api, session: AsyncSession, built: Built) -> None:
    reader = await key(session, built, Scope.read)
    data = (await api.gql(HEALTH, key=reader))["copHealth"]
    assert data["bands"] == {"high": 1, "medium": 0, "low": 1, "unrated": 0}
    assert data["communities"]["nodes"] == [
        {
            "community": {"name": "Community ALPHA"},
            "band": "HIGH",
            "ratingMean": pytest.approx(13 / 3),
            "heldRate": 1.0,
            "attendanceRate": pytest.approx(4 / 6),
        },
        {
            "community": {"name": "Community BETA"},
            "band": "LOW",
            "ratingMean": 2.0,
            "heldRate": 0.5,
            "attendanceRate": 0.5,
        },
    ]


async def test_messaging_cost_per_teacher_in_a_term(
    api: Api, session: AsyncSession, built: Built
) -> None:
    reader = await key(session, built, Scope.read)
    f = {"termId": ids.encode("Term", built.term_id)}
    data = (await api.gql(MESSAGING, {"f": f}, key=reader))["messaging"]
    assert data["sms"] == {
        "sent": 4,
        "delivered": 2,
        "failed": 1,
        "dropped": 1,
        "segments": 5,
        "cost": [{"amount": "4.0000", "currency": "KES"}],  # 0.8 + 0.8 + 1.6 + 0.8
        "recipients": 3,
        "costPerTeacher": [{"amount": "1.3333", "currency": "KES"}],  # 4.0 / 3
    }
    assert data["ussd"] == {"sessions": 0, "completed": 0, "abandoned": 0, "funnel": []}


async def test_reports_need_the_read_scope(api: Api, session: AsyncSession, built: Built) -> None:
    writer = await key(session, built, Scope.write)
    errors = await api.errors("{ messaging { sms { sent } } }", key=writer)
    assert errors == ["this API key lacks the 'read' scope"]


async def test_another_programme_sees_only_its_own(
    api: Api, session: AsyncSession, built: Built
) -> None:
    theirs = await issue_key(session, built.other.programme, Scope.read, Scope.read_pii)
    data = (await api.gql(SURVEY, {"key": "term-check"}, key=theirs))["surveyResults"]
    assert data["invited"] == 1 and _question(data, 4)["texts"] == ["Ibanga"]
    f = {"communityId": ids.encode("Community", built.alpha.id)}
    data = (await api.gql(ATTENDANCE, {"f": f}, key=theirs))["attendance"]
    assert data["communities"]["totalCount"] == 0 and data["totals"]["members"] == 0
    sms = (await api.gql(MESSAGING, key=theirs))["messaging"]["sms"]
    assert sms["cost"] == [{"amount": "9.0000", "currency": "KES"}]
