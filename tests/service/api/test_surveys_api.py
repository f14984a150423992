"""Partner apps write surveys (new versions once answered) and read the answers back."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import surveys as sv
from service.models.enums import Channel, Scope
from tests.service.api.conftest import Api, Two, issue_key

SAVE = """
mutation($survey: JSON!) {
  saveSurvey(survey: $survey) {
    __typename
    ... on SurveyPayload { survey { id key version status } }
    ... on Error { code message }
  }
}"""

PULSE = {
    "key": "pulse",
    "title": {"en": "Pulse"},
    "afterMeetings": False,
    "questions": [
        {"kind": "yes_no", "text": {"en": "Did you teach maths today?"}},
        {"kind": "short_text", "text": {"en": "What went well?"},
         "showIfPosition": 1, "showIfValue": "yes"},
    ],
}  # fmt: skip

RESPONSES = """
{ surveys { key version responses { status channel person { name }
            answers { position value label } } } }"""


async def test_saving_a_survey_then_a_new_version_once_answered(
    api: Api, two: Two, session: AsyncSession
) -> None:
    first = (await api.gql(SAVE, {"survey": PULSE}, key=two.admin_a))["saveSurvey"]
    assert first["survey"]["version"] == 1 and first["survey"]["status"] == "draft"
    status = await api.gql(
        "mutation($id: ID!) { setSurveyStatus(id: $id, status: active) { __typename } }",
        {"id": first["survey"]["id"]},
        key=two.admin_a,
    )
    assert status["setSurveyStatus"]["__typename"] == "SurveyPayload"
    latest = await sv.latest(session, two.a.pid, "pulse")
    assert latest is not None and latest.id is not None
    response = await sv.open_response(
        session, latest.id, two.a.members[0].id or 0, Channel.ussd, latest.created_at
    )
    await sv.record_answer(session, response, 1, "yes", channel=Channel.ussd, now=latest.created_at)
    await session.commit()

    second = (await api.gql(SAVE, {"survey": PULSE}, key=two.admin_a))["saveSurvey"]
    assert (second["survey"]["version"], second["survey"]["status"]) == (2, "active")


async def test_a_survey_a_keypad_cannot_answer_is_refused_with_the_field(
    api: Api, two: Two
) -> None:
    broken = {**PULSE, "questions": [{"kind": "single_choice", "text": {"en": "?"}}]}
    result = (await api.gql(SAVE, {"survey": broken}, key=two.admin_a))["saveSurvey"]
    assert result["__typename"] == "ValidationError"
    assert "two options" in result["message"]


async def test_writing_surveys_needs_admin(api: Api, two: Two) -> None:
    result = (await api.gql(SAVE, {"survey": PULSE}, key=two.reader_a))["saveSurvey"]
    assert result["__typename"] == "NotAllowed"


async def test_answers_read_back_with_free_text_only_for_read_pii(
    api: Api, two: Two, session: AsyncSession
) -> None:
    reflection = await sv.latest(session, two.a.pid, "reflection")
    assert reflection is not None and reflection.id is not None
    teacher = two.a.members[0]
    response = await sv.open_response(
        session, reflection.id, teacher.id or 0, Channel.sms, reflection.created_at
    )
    for position, value in ((1, "2"), (2, "4"), (3, "yes"), (4, "yes"), (5, "Group reading")):
        await sv.record_answer(
            session, response, position, value, channel=Channel.sms, now=reflection.created_at
        )
    await session.commit()

    def answers(data: dict) -> list[dict]:  # type: ignore[type-arg]
        [survey] = [s for s in data["surveys"] if s["key"] == "reflection"]
        [only] = survey["responses"]
        assert (only["status"], only["channel"], only["person"]["name"]) == (
            "completed", "sms", teacher.name
        )  # fmt: skip
        return only["answers"]  # type: ignore[no-any-return]

    pii = await issue_key(session, two.a.programme, Scope.read, Scope.read_pii)
    full = answers(await api.gql(RESPONSES, key=pii))
    assert full[0] == {
        "position": 1,
        "value": "2",
        "label": "Ufundishaji jumuishi",
    }  # programme language
    assert [a["value"] for a in full] == ["2", "4", "yes", "yes", "Group reading"]
    masked = answers(await api.gql(RESPONSES, key=two.reader_a))
    assert [a["value"] for a in masked] == ["2", "4", "yes", "yes", None]
    assert all(
        s["responses"] == [] for s in (await api.gql(RESPONSES, key=two.admin_b))["surveys"]
    )  # the other programme sees nothing of it


async def test_when_surveys_follow_meetings_is_a_programme_setting(api: Api, two: Two) -> None:
    update = """
    mutation($input: ProgrammeSettingsInput!) {
      updateProgramme(input: $input) {
        __typename
        ... on ProgrammePayload { programme { surveyDelayMinutes surveyReminderHours } }
      }
    }"""
    done = await api.gql(
        update, {"input": {"surveyDelayMinutes": 30, "surveyReminderHours": 12}}, key=two.admin_a
    )
    assert done["updateProgramme"]["programme"] == {
        "surveyDelayMinutes": 30,
        "surveyReminderHours": 12,
    }
    # a reminder after the invitation lapsed (72 h) would reach nobody
    late = await api.gql(update, {"input": {"surveyReminderHours": 80}}, key=two.admin_a)
    assert late["updateProgramme"]["__typename"] == "ValidationError"
