"""Surveys: versions that keep old answers, skip rules, answer checks, resuming."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError as SpecError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import surveys as sv
from service.models import Answer, Question, Survey
from service.models.enums import Channel, Language, QuestionKind, ResponseStatus, SurveyStatus
from tests import factories as f

OP = f.OPERATOR


def spec(**changes: object) -> sv.SurveySpec:
    data: dict[str, object] = {
        "key": "pulse",
        "title": {"en": "Pulse"},
        "questions": [
            {"kind": "yes_no", "text": {"en": "Did you teach maths today?"}},
            {
                "kind": "single_choice",
                "text": {"en": "Which class?"},
                "options": [{"en": "P4"}, {"en": "P5"}, {"en": "P6"}],
                "show_if_position": 1,
                "show_if_value": "yes",
            },
            {"kind": "rating", "text": {"en": "How did it go?"}},
            {
                "kind": "number",
                "text": {"en": "How many learners?"},
                "min_value": 1,
                "max_value": 120,
            },
            {"kind": "short_text", "text": {"en": "One word for today"}},
        ],
    }
    return sv.SurveySpec.model_validate(data | changes)


def views(survey_questions: list[Question]) -> list[sv.QuestionView]:
    return [sv.QuestionView.of(q) for q in survey_questions]


async def questions(session: AsyncSession, survey: Survey) -> list[sv.QuestionView]:
    assert survey.id is not None
    return (await sv.questions_of(session, [survey.id]))[survey.id]


async def test_a_survey_without_answers_is_edited_in_place(session: AsyncSession) -> None:
    w = await f.world(session)
    first = await sv.save_survey(w.programme, spec(), session=session, actor=OP)
    again = await sv.save_survey(
        w.programme, spec(title={"en": "Pulse check"}), session=session, actor=OP
    )
    assert (again.id, again.version, again.title) == (first.id, 1, {"en": "Pulse check"})
    assert len(await questions(session, again)) == 5


async def test_a_survey_with_answers_changes_as_a_new_version_and_old_answers_stay(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    first = await sv.save_survey(w.programme, spec(), session=session, actor=OP)
    await sv.set_status(w.programme, first.id or 0, SurveyStatus.active, session=session, actor=OP)
    teacher = w.members[0].id or 0
    response = await sv.open_response(session, first.id or 0, teacher, Channel.ussd, f.now())
    await sv.record_answer(session, response, 1, "yes", channel=Channel.ussd, now=f.now())

    second = await sv.save_survey(
        w.programme, spec(questions=spec().questions[:2]), session=session, actor=OP
    )
    assert (second.version, second.status) == (2, SurveyStatus.active)
    assert first.status is SurveyStatus.closed
    assert len(await questions(session, first)) == 5  # what was answered still has its question
    [answer] = (await session.exec(select(Answer))).all()
    old_question = await session.get(Question, answer.question_id)
    assert old_question is not None and old_question.survey_id == first.id


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {
                "questions": [
                    {"kind": "single_choice", "text": {"en": "?"}, "options": [{"en": "a"}]}
                ]
            },
            "two options",
        ),
        ({"questions": [{"kind": "number", "text": {"en": "?"}}]}, "min_value and max_value"),
        (
            {
                "questions": [
                    {
                        "kind": "yes_no",
                        "text": {"en": "?"},
                        "show_if_position": 1,
                        "show_if_value": "yes",
                    }
                ]
            },
            "earlier question",
        ),
        ({"key": "Has Spaces"}, "pattern"),
    ],
)
def test_a_survey_that_a_keypad_cannot_answer_is_refused(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        spec(**changes)


async def test_skip_rules_ask_a_question_only_after_the_answer_it_depends_on(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    qs = await questions(
        session, await sv.save_survey(w.programme, spec(), session=session, actor=OP)
    )
    assert sv.next_question(qs, {}) == qs[0]
    assert sv.next_question(qs, {1: "yes"}) == qs[1]
    assert sv.next_question(qs, {1: "no"}) == qs[2]  # "which class" is skipped
    assert sv.next_question(qs, {1: "no", 3: "4", 4: "30", 5: "fun"}) is None


@pytest.mark.parametrize(
    ("position", "given", "stored", "reason"),
    [
        (1, " YES ", "yes", None),
        (1, "maybe", None, "yes_no"),
        (2, "3", "3", None),
        (2, "4", None, "choice"),
        (2, "²", None, "choice"),
        (3, "5", "5", None),
        (3, "6", None, "rating"),
        (3, "0", None, "rating"),
        (4, "120", "120", None),
        (4, "121", None, "number"),
        (4, "ten", None, "number"),
        (5, "  ", None, "text_empty"),
        (5, "x" * 300, "x" * sv.MAX_TEXT, None),
    ],
)
async def test_answers_are_checked_against_their_question(
    session: AsyncSession, position: int, given: str, stored: str | None, reason: str | None
) -> None:
    w = await f.world(session)
    qs = await questions(
        session, await sv.save_survey(w.programme, spec(), session=session, actor=OP)
    )
    question = qs[position - 1]
    if reason is None:
        assert sv.check_answer(question, given) == stored
    else:
        with pytest.raises(sv.InvalidAnswer) as refused:
            sv.check_answer(question, given)
        assert refused.value.reason == reason


async def test_answering_resumes_where_it_stopped_and_completes(session: AsyncSession) -> None:
    w = await f.world(session)
    survey = await sv.save_survey(w.programme, spec(), session=session, actor=OP)
    await sv.set_status(w.programme, survey.id or 0, SurveyStatus.active, session=session, actor=OP)
    teacher = w.members[0].id or 0
    now = f.now()
    response = await sv.open_response(session, survey.id or 0, teacher, Channel.ussd, now)
    following = await sv.record_answer(
        session, response, 1, "no", channel=Channel.ussd, now=now, session_ref="s1"
    )
    assert following is not None and following.position == 3
    await session.commit()

    # a new session: the same response, starting at question 3
    [pending] = await sv.pending_for(session, teacher, now, session_ref="s2")
    assert (pending.response_id, pending.answered) == (response.id, {1: "no"})
    again = await sv.open_response(session, survey.id or 0, teacher, Channel.ussd, now)
    assert again.id == response.id
    for position, value in ((3, "4"), (4, "31")):
        await sv.record_answer(session, again, position, value, channel=Channel.ussd, now=now)
    done = await sv.record_answer(session, again, 5, "groups", channel=Channel.ussd, now=now)
    assert done is None and again.status is ResponseStatus.completed
    assert await sv.pending_for(session, teacher, now) == []


async def test_this_sessions_own_answers_are_told_apart(session: AsyncSession) -> None:
    w = await f.world(session)
    survey = await sv.save_survey(w.programme, spec(), session=session, actor=OP)
    await sv.set_status(w.programme, survey.id or 0, SurveyStatus.active, session=session, actor=OP)
    teacher = w.members[0].id or 0
    response = await sv.open_response(session, survey.id or 0, teacher, Channel.ussd, f.now())
    await sv.record_answer(
        session, response, 1, "yes", channel=Channel.ussd, now=f.now(), session_ref="a"
    )
    await sv.record_answer(
        session, response, 2, "1", channel=Channel.ussd, now=f.now(), session_ref="b"
    )
    [pending] = await sv.pending_for(session, teacher, f.now(), session_ref="b")
    assert pending.answered == {1: "yes"}


async def test_active_surveys_reach_only_their_audience(session: AsyncSession) -> None:
    w = await f.world(session)
    coaches = await sv.save_survey(
        w.programme, spec(key="coaches", audience={"roles": ["coach"]}), session=session, actor=OP
    )
    await sv.set_status(
        w.programme, coaches.id or 0, SurveyStatus.active, session=session, actor=OP
    )
    assert [p.survey_id for p in await sv.pending_for(session, w.facilitator.id or 0, f.now())] == [
        coaches.id
    ]
    assert await sv.pending_for(session, w.members[0].id or 0, f.now()) == []


async def test_unfinished_invitations_are_abandoned_after_the_window(session: AsyncSession) -> None:
    w = await f.world(session)
    survey = await sv.save_survey(w.programme, spec(), session=session, actor=OP)
    response = await sv.open_response(
        session, survey.id or 0, w.members[0].id or 0, Channel.sms, f.now() - timedelta(days=4)
    )
    assert await sv.expire_responses(session, f.now()) == 1
    await session.refresh(response)
    assert response.status is ResponseStatus.abandoned


async def test_the_reflection_survey_ships_in_every_language_and_installs_once(
    session: AsyncSession,
) -> None:
    reflection = sv.reflection_spec()
    for question in reflection.questions:
        assert set(question.text) == set(Language)
        for option in question.options:
            assert set(option) == set(Language)
    # Translated, not English copied in: every text differs from the English one.
    for language in set(Language) - {Language.en}:
        texts = [reflection.title] + [q.text for q in reflection.questions]
        texts += [o for q in reflection.questions for o in q.options]
        assert [t[Language.en] for t in texts if t[language] == t[Language.en]] == [], language
    assert {q.kind for q in reflection.questions} >= {
        QuestionKind.single_choice,
        QuestionKind.rating,
        QuestionKind.yes_no,
        QuestionKind.short_text,
    }
    w = await f.world(session)
    first = await sv.ensure_reflection(session, w.programme)
    again = await sv.ensure_reflection(session, w.programme)
    assert first.id == again.id and first.status is SurveyStatus.active
    count = (await session.exec(select(Survey).where(col(Survey.key) == "reflection"))).all()
    assert len(count) == 1
