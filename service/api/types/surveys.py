"""Surveys and their questions, with text in the language asked for."""

from __future__ import annotations

from datetime import datetime

import strawberry

from service.api import ids
from service.api.types.common import Info_, Language, Node, QuestionKind, SurveyStatus
from service.models import Question, Survey


def _text(texts: dict[str, str], language: Language | None, fallback: str) -> str:
    if language is not None and language.value in texts:
        return texts[language.value]
    return texts.get(fallback) or next(iter(texts.values()), "")


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
        return _text(self.texts, language, _default_language(info))

    @strawberry.field
    def options(self, info: Info_, language: Language | None = None) -> list[str]:
        return [_text(o, language, _default_language(info)) for o in self.option_texts]


def _default_language(info: Info_) -> str:
    programme = info.context.programme
    return programme.default_language.value if programme else "en"


@strawberry.type(name="Survey")
class SurveyNode(Node):
    key: str
    version: int
    status: SurveyStatus
    created_at: datetime
    pk: strawberry.Private[int]
    titles: strawberry.Private[dict[str, str]]

    @classmethod
    def from_row(cls, row: Survey) -> SurveyNode:
        assert row.id is not None
        return cls(id=ids.encode("Survey", row.id), key=row.key, version=row.version,
                   status=row.status, created_at=row.created_at, pk=row.id,
                   titles=row.title)  # fmt: skip

    @strawberry.field
    def title(self, info: Info_, language: Language | None = None) -> str:
        return _text(self.titles, language, _default_language(info))

    @strawberry.field
    async def questions(self, info: Info_) -> list[QuestionNode]:
        rows = await info.context.loaders.questions_of_survey.load(self.pk)
        return [QuestionNode.from_row(q) for q in rows]
