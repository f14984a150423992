"""Surveys and their questions, with text in the language asked for."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import strawberry
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.api.types.common import (
    Channel,
    Info_,
    Language,
    Node,
    QuestionKind,
    ResponseStatus,
    SurveyStatus,
)
from service.api.types.people import PersonNode
from service.domain.surveys import in_language
from service.models import Answer, Person, Question, Survey, SurveyResponse
from service.models.enums import Scope


@strawberry.type(name="Question")
class QuestionNode:
    position: int
    kind: QuestionKind
    min_value: int | None
    max_value: int | None
    required: bool
    show_if_position: int | None = strawberry.field(
        description="Asked only if the answer at this position equals showIfValue."
    )
    show_if_value: str | None
    texts: strawberry.Private[dict[str, str]]
    option_texts: strawberry.Private[list[dict[str, str]]]

    @classmethod
    def from_row(cls, row: Question) -> QuestionNode:
        return cls(
            position=row.position, kind=row.kind, min_value=row.min_value, max_value=row.max_value,
            required=row.required, show_if_position=row.show_if_position,
            show_if_value=row.show_if_value, texts=row.text, option_texts=row.options,
        )  # fmt: skip

    @strawberry.field
    def text(self, info: Info_, language: Language | None = None) -> str:
        return in_language(self.texts, language, _default_language(info))

    @strawberry.field
    def options(self, info: Info_, language: Language | None = None) -> list[str]:
        return [in_language(o, language, _default_language(info)) for o in self.option_texts]


def _default_language(info: Info_) -> str:
    programme = info.context.programme
    return programme.default_language.value if programme else "en"


@strawberry.type(name="Survey")
class SurveyNode(Node):
    key: str
    version: int
    status: SurveyStatus
    created_at: datetime
    send_at: datetime | None = strawberry.field(
        description="When its audience is to be invited by SMS (scheduleSurveyInvitation)."
    )
    sent_at: datetime | None = strawberry.field(
        description="When the invitation set for sendAt went out; null until then."
    )
    pk: strawberry.Private[int]
    titles: strawberry.Private[dict[str, str]]

    @classmethod
    def from_row(cls, row: Survey) -> SurveyNode:
        assert row.id is not None
        return cls(id=ids.encode("Survey", row.id), key=row.key, version=row.version,
                   status=row.status, created_at=row.created_at, send_at=row.send_at,
                   sent_at=row.sent_at, pk=row.id, titles=row.title)  # fmt: skip

    @strawberry.field
    def title(self, info: Info_, language: Language | None = None) -> str:
        return in_language(self.titles, language, _default_language(info))

    @strawberry.field
    async def questions(self, info: Info_) -> list[QuestionNode]:
        rows = await info.context.loaders.questions_of_survey.load(self.pk)
        return [QuestionNode.from_row(q) for q in rows]

    @strawberry.field(description="Responses with their answers, newest first (at most 100).")
    async def responses(
        self, info: Info_, status: ResponseStatus | None = None, first: int = 20
    ) -> list[ResponseNode]:
        return await responses_of(info, self.pk, status, first)


@strawberry.type(name="SurveyAnswer")
class AnswerNode:
    position: int
    value: str | None = strawberry.field(
        description="Option number, yes/no, rating or number; short text only with read:pii."
    )
    label: str | None = strawberry.field(description="A single choice's option, in the language")
    channel: Channel
    answered_at: datetime


@strawberry.type(name="SurveyResponse")
class ResponseNode:
    id: strawberry.ID
    person: PersonNode | None
    meeting_id: strawberry.ID | None
    channel: Channel
    status: ResponseStatus
    started_at: datetime
    completed_at: datetime | None
    answers: list[AnswerNode]


async def responses_of(
    info: Info_, survey_id: int, status: ResponseStatus | None, first: int
) -> list[ResponseNode]:
    """The survey's responses with their answers, newest first: three statements."""
    fallback = _default_language(info)
    pii = info.context.has(Scope.read_pii)

    async def work(session: AsyncSession) -> list[ResponseNode]:
        query = (
            select(SurveyResponse)
            .where(SurveyResponse.survey_id == survey_id)
            .order_by(col(SurveyResponse.started_at).desc(), col(SurveyResponse.id).desc())
            .limit(min(max(first, 1), 100))
        )
        if status is not None:
            query = query.where(SurveyResponse.status == status)
        responses = (await session.exec(query)).all()
        rows = await session.execute(
            sa.select(Answer, Question)
            .join(Question, col(Question.id) == col(Answer.question_id))
            .where(col(Answer.response_id).in_([r.id for r in responses]))
            .order_by(col(Question.position))
        )
        answers: dict[int, list[AnswerNode]] = {}
        for answer, question in rows.all():
            private = question.kind is QuestionKind.short_text and not pii
            label = None
            if question.kind is QuestionKind.single_choice and answer.value.isdigit():
                index = int(answer.value) - 1
                if 0 <= index < len(question.options):
                    label = in_language(question.options[index], None, fallback)
            answers.setdefault(answer.response_id, []).append(
                AnswerNode(
                    position=question.position,
                    value=None if private else answer.value,
                    label=label,
                    channel=answer.channel,
                    answered_at=answer.answered_at,
                )
            )
        people = {r.person_id for r in responses}
        found = (await session.exec(select(Person).where(col(Person.id).in_(people)))).all()
        by_id = {p.id: PersonNode.from_row(p) for p in found}
        return [
            ResponseNode(
                id=ids.encode("SurveyResponse", r.id),
                person=by_id.get(r.person_id),
                meeting_id=ids.encode("Meeting", r.meeting_id) if r.meeting_id else None,
                channel=r.channel,
                status=r.status,
                started_at=r.started_at,
                completed_at=r.completed_at,
                answers=answers.get(r.id or 0, []),
            )
            for r in responses
        ]

    result: list[ResponseNode] = await info.context.run(work)
    return result
