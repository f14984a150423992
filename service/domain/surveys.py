"""Keypad surveys: definitions with versions, who is asked, and answering one question at a time.

A survey with responses is never changed in place: saving it again makes a new
version, so every stored answer keeps the question it answered. Answers are stored
as normalised strings whatever the channel: a single choice as its option number
("1".."n"), yes/no as "yes"/"no", a rating as "1".."5", a number as digits, short
text as typed. Channels turn key presses and words into these values; the rules
(ranges, skip rules, what comes next) live here.

Answering is resumable: every answer is stored as it is given, with the channel
session it came in (`session_ref`), so a dropped USSD session starts again at the
first unanswered question, and a USSD replay can tell this session's answers from
earlier ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit, webhooks
from service.domain.actor import Actor
from service.domain.errors import DomainError, NotFound, ValidationError
from service.domain.lookup import get_owned
from service.models import (
    Answer,
    Community,
    Membership,
    Person,
    Programme,
    Question,
    School,
    Survey,
    SurveyResponse,
)
from service.models.enums import (
    Channel,
    Language,
    MembershipStatus,
    QuestionKind,
    ResponseStatus,
    SurveyStatus,
)
from service.models.types import utcnow

MAX_TEXT = 160
RATING = range(1, 6)
# An invitation stays open this long after the last answer (or the invitation).
ANSWER_WINDOW = timedelta(hours=72)


class InvalidAnswer(DomainError):
    """The answer does not fit the question; `reason` names the rule for the channel's text."""

    code = "invalid_answer"

    def __init__(self, reason: str, **params: Any) -> None:
        super().__init__(f"invalid answer: {reason}", reason=reason, **params)
        self.reason = reason


# --- definitions ------------------------------------------------------------------


class QuestionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: QuestionKind
    text: dict[Language, str]
    options: list[dict[Language, str]] = Field(default_factory=list, max_length=9)
    min_value: int | None = None
    max_value: int | None = None
    required: bool = True
    show_if_position: int | None = None
    show_if_value: str | None = Field(default=None, max_length=40)

    @model_validator(mode="after")
    def _fits_the_kind(self) -> QuestionSpec:
        if self.kind is QuestionKind.single_choice and len(self.options) < 2:
            raise ValueError("a single choice needs at least two options")
        if self.kind is not QuestionKind.single_choice and self.options:
            raise ValueError("only a single choice has options")
        if self.kind is QuestionKind.number and (self.min_value is None or self.max_value is None):
            raise ValueError("a number needs min_value and max_value")
        low, high = self.min_value, self.max_value
        if low is not None and high is not None and low > high:
            raise ValueError("min_value is above max_value")
        if (self.show_if_position is None) != (self.show_if_value is None):
            raise ValueError("a skip rule needs both show_if_position and show_if_value")
        return self


class SurveySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: dict[Language, str]
    questions: list[QuestionSpec] = Field(min_length=1, max_length=20)
    community_id: int | None = None
    meeting_id: int | None = None
    audience: dict[str, list[str]] = Field(default_factory=dict)
    # Sent to a meeting's attendees after it is held, rather than offered to an audience.
    after_meetings: bool = False

    @field_validator("audience")
    @classmethod
    def _known_audience(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = set(value) - {"roles", "districts", "school_ids"}
        if unknown:
            raise ValueError(f"unknown audience keys: {', '.join(sorted(unknown))}")
        return value

    @model_validator(mode="after")
    def _rules_point_back(self) -> SurveySpec:
        for position, question in enumerate(self.questions, start=1):
            target = question.show_if_position
            if target is not None and not 1 <= target < position:
                raise ValueError(f"question {position}: a skip rule must name an earlier question")
        return self


async def _has_responses(session: AsyncSession, survey_id: int) -> bool:
    found = await session.exec(
        select(SurveyResponse.id).where(SurveyResponse.survey_id == survey_id).limit(1)
    )
    return found.first() is not None


async def latest(session: AsyncSession, programme_id: int, key: str) -> Survey | None:
    found = await session.exec(
        select(Survey)
        .where(Survey.programme_id == programme_id, Survey.key == key)
        .order_by(col(Survey.version).desc())
        .limit(1)
    )
    return found.first()


async def save_survey(
    programme: Programme,
    spec: SurveySpec,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> Survey:
    """Create the survey, or change it: in place while nobody has answered, else as a new
    version (the old one is closed and keeps its answers)."""
    assert programme.id is not None
    now = now or utcnow()
    if spec.community_id is not None:
        await get_owned(session, Community, spec.community_id, programme.id)
    current = await latest(session, programme.id, spec.key)
    if (
        current is not None
        and current.id is not None
        and not await _has_responses(session, current.id)
    ):
        survey = current
        for old in (
            await session.exec(select(Question).where(Question.survey_id == current.id))
        ).all():
            await session.delete(old)
        await session.flush()
    else:
        survey = Survey(
            programme_id=programme.id,
            key=spec.key,
            version=1 if current is None else current.version + 1,
            status=current.status if current is not None else SurveyStatus.draft,
            created_at=now,
        )
        if current is not None:
            current.status = SurveyStatus.closed
        session.add(survey)
    survey.title = {k.value: v for k, v in spec.title.items()}
    survey.community_id = spec.community_id
    survey.meeting_id = spec.meeting_id
    survey.audience = {**spec.audience, **({"after_meetings": True} if spec.after_meetings else {})}
    await session.flush()
    assert survey.id is not None
    for position, q in enumerate(spec.questions, start=1):
        session.add(
            Question(
                survey_id=survey.id,
                position=position,
                kind=q.kind,
                text={k.value: v for k, v in q.text.items()},
                options=[{k.value: v for k, v in o.items()} for o in q.options],
                min_value=q.min_value,
                max_value=q.max_value,
                required=q.required,
                show_if_position=q.show_if_position,
                show_if_value=q.show_if_value,
            )
        )
    audit.record(session, actor, "survey.save", survey, changes={"version": survey.version}, at=now)
    await session.flush()
    return survey


async def set_status(
    programme: Programme,
    survey_id: int,
    status: SurveyStatus,
    *,
    session: AsyncSession,
    actor: Actor,
) -> Survey:
    assert programme.id is not None
    survey = await get_owned(session, Survey, survey_id, programme.id)
    if status is SurveyStatus.active:
        newer = await latest(session, programme.id, survey.key)
        if newer is not None and newer.version != survey.version:
            raise ValidationError("only the latest version can be made active", field="id")
    changes = audit.apply_changes(survey, {"status": status})
    if changes:
        audit.record(session, actor, "survey.status", survey, changes=changes)
    await session.flush()
    return survey


def in_language(texts: Mapping[str, str], *languages: str | None) -> str:
    """A text of a per-language dict: the first of `languages` it has, else any, else ""."""
    for language in languages:
        if language and (text := texts.get(language)):
            return text
    return next(iter(texts.values()), "")


# --- answering ---------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionView:
    id: int
    position: int
    kind: QuestionKind
    text: Mapping[str, str]
    options: tuple[Mapping[str, str], ...]
    min_value: int | None
    max_value: int | None
    required: bool
    show_if_position: int | None
    show_if_value: str | None

    @classmethod
    def of(cls, q: Question) -> QuestionView:
        assert q.id is not None
        return cls(
            id=q.id,
            position=q.position,
            kind=q.kind,
            text=q.text,
            options=tuple(q.options),
            min_value=q.min_value,
            max_value=q.max_value,
            required=q.required,
            show_if_position=q.show_if_position,
            show_if_value=q.show_if_value,
        )

    def question(self, language: Language, fallback: Language) -> str:
        return in_language(self.text, language, fallback)

    def choices(self, language: Language, fallback: Language) -> list[str]:
        return [in_language(o, language, fallback) for o in self.options]


def next_question(
    questions: Sequence[QuestionView], answers: Mapping[int, str]
) -> QuestionView | None:
    """The first question not answered yet whose skip rule lets it be asked.

    `answers` maps question position to value. A question whose rule names a question
    that was itself skipped, or answered otherwise, is skipped.
    """
    for q in sorted(questions, key=lambda q: q.position):
        if q.position in answers:
            continue
        if q.show_if_position is not None and answers.get(q.show_if_position) != q.show_if_value:
            continue
        return q
    return None


def check_answer(question: QuestionView, value: str) -> str:
    """The normalised value, or InvalidAnswer with the rule it broke."""
    value = value.strip()
    match question.kind:
        case QuestionKind.single_choice:
            if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= len(
                question.options
            ):
                raise InvalidAnswer("choice", count=len(question.options))
            return str(int(value))
        case QuestionKind.yes_no:
            if value.lower() not in ("yes", "no"):
                raise InvalidAnswer("yes_no")
            return value.lower()
        case QuestionKind.rating:
            if not (value.isascii() and value.isdigit()) or int(value) not in RATING:
                raise InvalidAnswer("rating")
            return str(int(value))
        case QuestionKind.number:
            low, high = question.min_value or 0, question.max_value or 0
            digits = value.lstrip("-")
            if not (digits.isascii() and digits.isdigit()) or not low <= int(value) <= high:
                raise InvalidAnswer("number", min=low, max=high)
            return str(int(value))
        case _:
            if not value:
                raise InvalidAnswer("text_empty")
            return value[:MAX_TEXT]


@dataclass(frozen=True)
class Pending:
    """A survey the person may answer now, with what they answered in earlier sessions."""

    survey_id: int
    response_id: int | None
    meeting_id: int | None
    title: Mapping[str, str]
    questions: tuple[QuestionView, ...]
    answered: Mapping[int, str]  # position -> value, from sessions other than the current one


async def questions_of(
    session: AsyncSession, survey_ids: Sequence[int]
) -> dict[int, list[QuestionView]]:
    found: dict[int, list[QuestionView]] = {i: [] for i in survey_ids}
    if not survey_ids:
        return found
    rows = await session.exec(
        select(Question)
        .where(col(Question.survey_id).in_(list(survey_ids)))
        .order_by(col(Question.survey_id), col(Question.position))
    )
    for q in rows.all():
        found[q.survey_id].append(QuestionView.of(q))
    return found


async def pending_for(
    session: AsyncSession,
    person_id: int,
    now: datetime,
    *,
    session_ref: str | None = None,
) -> list[Pending]:
    """Invitations still open (resumable), then active surveys aimed at the person's
    communities or at them by role, area or school that they have not started."""
    person = await session.get(Person, person_id)
    if person is None:
        return []
    responses = (
        await session.exec(
            select(SurveyResponse)
            .where(
                SurveyResponse.person_id == person_id,
                SurveyResponse.status == ResponseStatus.in_progress,
                col(SurveyResponse.updated_at) > now - ANSWER_WINDOW,
            )
            .order_by(col(SurveyResponse.started_at))
        )
    ).all()
    started = (
        await session.exec(
            select(SurveyResponse.survey_id).where(SurveyResponse.person_id == person_id)
        )
    ).all()
    communities = (
        await session.exec(
            select(Membership.community_id).where(
                Membership.person_id == person_id, Membership.status == MembershipStatus.active
            )
        )
    ).all()
    candidates = (
        await session.exec(
            select(Survey).where(
                Survey.programme_id == person.programme_id,
                Survey.status == SurveyStatus.active,
                col(Survey.meeting_id).is_(None),
                col(Survey.id).not_in(list(started) or [0]),
            )
        )
    ).all()
    aimed = [
        s
        for s in candidates
        if not (s.audience or {}).get("after_meetings")
        and await _aims_at(session, s, person, set(communities))
    ]
    surveys = {s.id: s for s in aimed}
    for r in responses:
        if r.survey_id not in surveys:
            s = await session.get(Survey, r.survey_id)
            if s is not None:
                surveys[s.id] = s
    questions = await questions_of(session, [i for i in surveys if i is not None])
    answered = await _answers(session, [r.id for r in responses if r.id is not None], session_ref)
    pending = [
        Pending(
            survey_id=r.survey_id,
            response_id=r.id,
            meeting_id=r.meeting_id,
            title=surveys[r.survey_id].title,
            questions=tuple(questions.get(r.survey_id, ())),
            answered=answered.get(r.id or 0, {}),
        )
        for r in responses
        if r.survey_id in surveys
    ]
    pending += [
        Pending(s.id, None, None, s.title, tuple(questions.get(s.id, ())), {})
        for s in aimed
        if s.id is not None
    ]
    return [
        p for p in pending if next_question(p.questions, p.answered) is not None or p.response_id
    ]


async def _aims_at(
    session: AsyncSession, survey: Survey, person: Person, communities: set[int]
) -> bool:
    if survey.community_id is not None:
        return survey.community_id in communities
    audience = survey.audience or {}
    roles, schools = audience.get("roles"), audience.get("school_ids")
    if roles and not set(roles) & set(person.roles):
        return False
    if schools and str(person.school_id) not in {str(s) for s in schools}:
        return False
    if districts := audience.get("districts"):
        school = await session.get(School, person.school_id) if person.school_id else None
        if school is None or school.district not in districts:
            return False
    return True


async def _answers(
    session: AsyncSession, response_ids: Sequence[int], session_ref: str | None
) -> dict[int, dict[int, str]]:
    found: dict[int, dict[int, str]] = {}
    if not response_ids:
        return found
    rows = await session.execute(
        sa.select(col(Answer.response_id), col(Question.position), col(Answer.value))
        .join(Question, col(Question.id) == col(Answer.question_id))
        .where(
            col(Answer.response_id).in_(list(response_ids)),
            sa.or_(
                col(Answer.session_ref).is_(None), col(Answer.session_ref) != (session_ref or "")
            ),
        )
    )
    for response_id, position, value in rows.all():
        found.setdefault(response_id, {})[position] = value
    return found


async def open_response(
    session: AsyncSession,
    survey_id: int,
    person_id: int,
    channel: Channel,
    now: datetime,
    meeting_id: int | None = None,
) -> SurveyResponse:
    """The person's open response to this survey, or a new one."""
    found = (
        await session.exec(
            select(SurveyResponse)
            .where(
                SurveyResponse.survey_id == survey_id,
                SurveyResponse.person_id == person_id,
                SurveyResponse.status == ResponseStatus.in_progress,
            )
            .order_by(col(SurveyResponse.id).desc())
            .limit(1)
        )
    ).first()
    if found is not None:
        return found
    response = SurveyResponse(
        survey_id=survey_id,
        person_id=person_id,
        meeting_id=meeting_id,
        channel=channel,
        started_at=now,
        updated_at=now,
    )
    session.add(response)
    await session.flush()
    return response


async def record_answer(
    session: AsyncSession,
    response: SurveyResponse,
    position: int,
    raw: str,
    *,
    channel: Channel,
    now: datetime,
    session_ref: str | None = None,
) -> QuestionView | None:
    """Check and store the answer to the question at `position`; the next question, or
    None when the response is now complete."""
    assert response.id is not None
    if response.status is not ResponseStatus.in_progress:
        raise InvalidAnswer("closed")
    questions = (await questions_of(session, [response.survey_id]))[response.survey_id]
    question = next((q for q in questions if q.position == position), None)
    if question is None:
        raise NotFound(f"question {position} of survey {response.survey_id}")
    value = check_answer(question, raw)
    existing = (
        await session.exec(
            select(Answer).where(
                Answer.response_id == response.id, Answer.question_id == question.id
            )
        )
    ).first()
    if existing is None:
        session.add(
            Answer(
                response_id=response.id,
                question_id=question.id,
                value=value,
                channel=channel,
                answered_at=now,
                session_ref=session_ref,
            )
        )
    else:
        existing.value, existing.channel, existing.answered_at = value, channel, now
        existing.session_ref = session_ref
    response.updated_at = now
    await session.flush()
    answers = await answers_of(session, response.id)
    following = next_question(questions, answers)
    if following is None:
        response.status = ResponseStatus.completed
        response.completed_at = now
        survey = await session.get(Survey, response.survey_id)
        assert survey is not None
        event = webhooks.response_completed_event(response, survey.programme_id, now)
        await webhooks.emit(session, [event])
    await session.flush()
    return following


async def answers_of(session: AsyncSession, response_id: int) -> dict[int, str]:
    return (await _answers(session, [response_id], None)).get(response_id, {})


async def expire_responses(session: AsyncSession, now: datetime) -> int:
    """Invitations nobody finished within the window are abandoned (reports count them)."""
    result = await session.execute(
        sa.update(SurveyResponse)
        .where(
            col(SurveyResponse.status) == ResponseStatus.in_progress,
            col(SurveyResponse.updated_at) <= now - ANSWER_WINDOW,
        )
        .values(status=ResponseStatus.abandoned, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- the default reflection survey ------------------------------------------------

REFLECTION = "reflection"


def reflection_spec() -> SurveySpec:
    import tomllib
    from importlib.resources import files

    data = tomllib.loads(files("service.surveys").joinpath("reflection.toml").read_text("utf-8"))
    return SurveySpec.model_validate(data)


async def ensure_reflection(
    session: AsyncSession, programme: Programme, actor: Actor | None = None
) -> Survey:
    """The programme's reflection survey, installed and active if it had none."""
    assert programme.id is not None
    current = await latest(session, programme.id, REFLECTION)
    if current is not None:
        return current
    survey = await save_survey(
        programme, reflection_spec(), session=session, actor=actor or Actor.system()
    )
    survey.status = SurveyStatus.active
    await session.flush()
    return survey
