"""Programme staff write surveys: a new version whenever the old one has answers."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession
from strawberry.scalars import JSON

from service.api import errors as e
from service.api import ids
from service.api.mutations.base import mutate
from service.api.types.common import Info_, SurveyStatus
from service.api.types.surveys import SurveyNode
from service.domain.surveys import SurveySpec, save_survey, set_status
from service.models import Programme
from service.models.enums import Scope


@strawberry.type
class SurveyPayload:
    survey: SurveyNode


SurveyResult = Annotated[
    SurveyPayload | e.NotFound | e.NotAllowed | e.ValidationError | e.Conflict,
    strawberry.union("SurveyResult"),
]


@strawberry.type
class SurveyMutations:
    @strawberry.mutation(
        description="Create or change a survey: {key, title: {en: …}, questions: [{kind, text, "
        "options, minValue, maxValue, required, showIfPosition, showIfValue}], communityId, "
        "audience: {roles, districts, schoolIds}, afterMeetings}. A survey somebody has "
        "answered becomes a new version; the old one keeps its answers."
    )
    async def save_survey(self, info: Info_, survey: JSON) -> SurveyResult:
        async def work(session: AsyncSession, programme: Programme) -> SurveyPayload:
            data: dict[str, Any] = dict(survey) if isinstance(survey, dict) else {}
            if isinstance(data.get("communityId"), str):
                data["communityId"] = ids.decode(data["communityId"], "Community")
            spec = SurveySpec.model_validate(_snake(data))
            saved = await save_survey(programme, spec, session=session, actor=info.context.actor)
            return SurveyPayload(survey=SurveyNode.from_row(saved))

        return await mutate(info, Scope.admin, work)

    @strawberry.mutation(description="Open (active) or close a survey version.")
    async def set_survey_status(
        self, info: Info_, id: strawberry.ID, status: SurveyStatus
    ) -> SurveyResult:
        async def work(session: AsyncSession, programme: Programme) -> SurveyPayload:
            pk = ids.decode(id, "Survey")
            saved = await set_status(
                programme, pk, status, session=session, actor=info.context.actor
            )
            return SurveyPayload(survey=SurveyNode.from_row(saved))

        return await mutate(info, Scope.admin, work)


def _snake(value: Any) -> Any:
    """camelCase keys (GraphQL's habit) to the domain's snake_case, languages left alone."""
    if isinstance(value, list):
        return [_snake(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
        out[snake] = item if key in ("title", "text") else _snake(item)
    return out
