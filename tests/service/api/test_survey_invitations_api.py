"""Partner apps send an audience survey by SMS now or at a set time (scope sms:send),
price USSD sessions (scope admin) and read USSD beside SMS in cost per teacher."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.domain import surveys as sv
from service.models import Message, Programme, Survey, SurveyResponse, UssdSession
from service.models.enums import QuestionKind, Scope, SurveyStatus, UssdBilling, UssdOutcome
from service.models.types import utcnow
from tests import factories as f
from tests.service.api.conftest import Api, Two, issue_key

INVITE = """
mutation($id: ID!, $c: [ID!]) { inviteSurveyAudience(id: $id, communityIds: $c) {
  __typename
  ... on SurveyInvitationPayload { invited queued }
  ... on Error { code message }
} }"""

SCHEDULE = """
mutation($id: ID!, $at: DateTime!, $c: [ID!]) {
  scheduleSurveyInvitation(id: $id, sendAt: $at, communityIds: $c) {
    __typename
    ... on SurveyPayload { survey { id sendAt sentAt } }
    ... on ValidationError { code message fields { field } }
    ... on Error { code message }
} }"""

CANCEL = """
mutation($id: ID!) { cancelSurveyInvitation(id: $id) {
  __typename ... on SurveyPayload { survey { sendAt } } ... on Error { code message }
} }"""


async def pulse(session: AsyncSession, world: f.World, **extra: Any) -> Survey:
    spec = sv.SurveySpec(
        key="pulse",
        title={"en": "Pulse"},
        questions=[sv.QuestionSpec(kind=QuestionKind.yes_no, text={"en": "All well?"})],
        **extra,
    )
    survey = await sv.save_survey(world.programme, spec, session=session, actor=f.OPERATOR)
    assert survey.id is not None
    await sv.set_status(
        world.programme, survey.id, SurveyStatus.active, session=session, actor=f.OPERATOR
    )
    await session.commit()
    return survey


async def count(session: AsyncSession, model: type, *where: object) -> int:
    await session.rollback()  # a fresh read: SQLite would keep showing its snapshot
    stmt = select(func.count()).select_from(model).where(*where)  # type: ignore[arg-type]
    return int((await session.exec(stmt)).one())


async def test_inviting_the_audience_now_through_graphql(
    api: Api, two: Two, session: AsyncSession
) -> None:
    survey = await pulse(session, two.a)
    sid = ids.encode("Survey", survey.id)
    done = (await api.gql(INVITE, {"id": sid}, key=two.admin_a))["inviteSurveyAudience"]
    assert done == {"__typename": "SurveyInvitationPayload", "invited": 3, "queued": 3}
    again = (await api.gql(INVITE, {"id": sid}, key=two.admin_a))["inviteSurveyAudience"]
    assert again["invited"] == 0
    assert await count(session, SurveyResponse, col(SurveyResponse.survey_id) == survey.id) == 3
    refused = (await api.gql(INVITE, {"id": sid}, key=two.reader_a))["inviteSurveyAudience"]
    assert refused["__typename"] == "NotAllowed"
    theirs = (await api.gql(INVITE, {"id": sid}, key=two.admin_b))["inviteSurveyAudience"]
    assert theirs["__typename"] == "NotFound"


async def test_scheduling_reads_back_and_bad_times_are_refused(
    api: Api, two: Two, session: AsyncSession
) -> None:
    survey = await pulse(session, two.a)
    sid = ids.encode("Survey", survey.id)
    at = (utcnow() + timedelta(days=1)).replace(microsecond=0)
    cid = ids.encode("Community", two.a.community.id)
    data = await api.gql(SCHEDULE, {"id": sid, "at": at.isoformat(), "c": [cid]}, key=two.admin_a)
    result = data["scheduleSurveyInvitation"]
    assert result["survey"]["sendAt"] == at.isoformat() and result["survey"]["sentAt"] is None
    await session.rollback()
    stored = await session.get(Survey, survey.id, populate_existing=True)
    assert stored is not None and stored.send_at == at and stored.send_to == [two.a.community.id]

    past = (utcnow() - timedelta(minutes=5)).isoformat()
    bad = (await api.gql(SCHEDULE, {"id": sid, "at": past}, key=two.admin_a))[
        "scheduleSurveyInvitation"
    ]
    assert bad["__typename"] == "ValidationError" and "future" in bad["message"]
    assert bad["fields"] == [{"field": "send_at"}]
    refused = (await api.gql(SCHEDULE, {"id": sid, "at": at.isoformat()}, key=two.reader_a))[
        "scheduleSurveyInvitation"
    ]
    assert refused["__typename"] == "NotAllowed"

    cancelled = (await api.gql(CANCEL, {"id": sid}, key=two.admin_a))["cancelSurveyInvitation"]
    assert cancelled == {"__typename": "SurveyPayload", "survey": {"sendAt": None}}
    assert await count(session, Message) == 0


async def test_a_meeting_survey_cannot_be_scheduled(
    api: Api, two: Two, session: AsyncSession
) -> None:
    survey = await pulse(session, two.a, after_meetings=True)
    at = (utcnow() + timedelta(days=1)).isoformat()
    data = await api.gql(
        SCHEDULE, {"id": ids.encode("Survey", survey.id), "at": at}, key=two.admin_a
    )
    assert data["scheduleSurveyInvitation"]["__typename"] == "ValidationError"
    assert data["scheduleSurveyInvitation"]["fields"] == [{"field": "survey"}]


PRICES = """mutation($i: ProgrammeSettingsInput!) { updateProgramme(input: $i) {
  __typename ... on ProgrammePayload { programme { ussdPrice ussdBilling } } } }"""

COST = """{ messaging {
  ussd { sessions billedUnits cost { amount currency } }
  cost { reached sms { amount } ussd { amount } total { amount }
         smsPerTeacher { amount } ussdPerTeacher { amount } perTeacher { amount } }
} }"""


async def test_an_admin_prices_ussd_per_20_seconds_and_reads_the_cost_per_teacher(
    api: Api, two: Two, session: AsyncSession
) -> None:
    data = await api.gql(
        PRICES, {"i": {"ussdPrice": "1.5", "ussdBilling": "per_20s"}}, key=two.admin_a
    )
    assert data["updateProgramme"]["programme"] == {"ussdPrice": "1.5000", "ussdBilling": "per_20s"}
    await session.rollback()
    stored = await session.get(Programme, two.a.pid, populate_existing=True)
    assert stored is not None
    assert (stored.ussd_price, stored.ussd_billing) == (Decimal("1.5"), UssdBilling.per_20s)
    member = two.a.members[0]
    session.add(
        UssdSession(
            session_id="ATUid_cost",
            programme_id=two.a.pid,
            person_id=member.id,
            phone=member.phone or "",
            service_code=stored.service_code,
            duration_ms=45_000,  # 3 slices of 20 s
            outcome=UssdOutcome.completed,
        )
    )
    await session.commit()
    reader = await issue_key(session, two.a.programme, Scope.read)
    report = (await api.gql(COST, key=reader))["messaging"]
    assert report["ussd"] == {
        "sessions": 1,
        "billedUnits": 3,
        "cost": [{"amount": "4.5000", "currency": "KES"}],
    }
    assert report["cost"] == {
        "reached": 1,
        "sms": [],
        "ussd": [{"amount": "4.5000"}],
        "total": [{"amount": "4.5000"}],
        "smsPerTeacher": [],
        "ussdPerTeacher": [{"amount": "4.5000"}],
        "perTeacher": [{"amount": "4.5000"}],
    }
    refused = await api.gql(PRICES, {"i": {"ussdPrice": "2"}}, key=reader)
    assert refused["updateProgramme"]["__typename"] == "NotAllowed"
