"""Programme staff write surveys (a new version whenever the old one has answers) and
send an audience survey by SMS now or at a set time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession
from strawberry.scalars import JSON

from service.api import errors as e
from service.api import ids
from service.api.mutations.base import mutate
from service.api.types.common import Info_, SurveyStatus
from service.api.types.surveys import SurveyNode
from service.domain.lookup import get_owned
from service.domain.survey_dispatch import invite_now
from service.domain.survey_schedule import cancel_invitation, schedule_invitation
from service.domain.surveys import SurveySpec, save_survey, set_status
from service.models import Programme, Survey
from service.models.enums import Scope
from service.models.types import utcnow


@strawberry.type
class SurveyPayload:
    survey: SurveyNode


SurveyResult = Annotated[
    SurveyPayload | e.NotFound | e.NotAllowed | e.ValidationError | e.Conflict,
    strawberry.union("SurveyResult"),
]


@strawberry.type(description="An audience invited now: quiet hours may hold the SMS.")
class SurveyInvitationPayload:
    invited: int = strawberry.field(description="People newly invited (each gets one SMS).")
    queued: int
    send_after: datetime | None


SurveyInvitationResult = Annotated[
    SurveyInvitationPayload | e.NotFound | e.NotAllowed | e.ValidationError | e.Conflict,
    strawberry.union("SurveyInvitationResult"),
]

AUDIENCE = (
    "The audience: the active members of these communities (every community of the "
    "programme when left out; only the survey's own if it names one), narrowed by the "
    "survey's roles, schools and districts, with a phone and not opted out, not invited "
    "to it yet. Needs the sms:send scope."
)


def _communities(community_ids: list[strawberry.ID] | None) -> set[int] | None:
    return None if community_ids is None else {ids.decode(c, "Community") for c in community_ids}


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

    @strawberry.mutation(
        description="Send an active audience survey by SMS now, with one reminder to those "
        f"who have not finished after the programme's surveyReminderHours. {AUDIENCE}"
    )
    async def invite_survey_audience(
        self, info: Info_, id: strawberry.ID, community_ids: list[strawberry.ID] | None = None
    ) -> SurveyInvitationResult:
        async def work(session: AsyncSession, programme: Programme) -> SurveyInvitationPayload:
            assert programme.id is not None
            survey = await get_owned(session, Survey, ids.decode(id, "Survey"), programme.id)
            done = await invite_now(
                session,
                programme,
                survey,
                _communities(community_ids),
                utcnow(),
                info.context.actor,
            )
            return SurveyInvitationPayload(
                invited=done.people, queued=done.sent.queued, send_after=done.sent.send_after
            )

        return await mutate(info, Scope.sms_send, work)

    @strawberry.mutation(
        description="Send an active audience survey by SMS at a set time (in the future, "
        "with its offset), once; a new time replaces the one set before. " + AUDIENCE
    )
    async def schedule_survey_invitation(
        self,
        info: Info_,
        id: strawberry.ID,
        send_at: datetime,
        community_ids: list[strawberry.ID] | None = None,
    ) -> SurveyResult:
        async def work(session: AsyncSession, programme: Programme) -> SurveyPayload:
            assert programme.id is not None
            survey = await get_owned(session, Survey, ids.decode(id, "Survey"), programme.id)
            saved = await schedule_invitation(
                session,
                programme,
                survey,
                send_at,
                _communities(community_ids),
                utcnow(),
                info.context.actor,
            )
            return SurveyPayload(survey=SurveyNode.from_row(saved))

        return await mutate(info, Scope.sms_send, work)

    @strawberry.mutation(description="Forget the time set to send a survey, before it is sent.")
    async def cancel_survey_invitation(self, info: Info_, id: strawberry.ID) -> SurveyResult:
        async def work(session: AsyncSession, programme: Programme) -> SurveyPayload:
            assert programme.id is not None
            survey = await get_owned(session, Survey, ids.decode(id, "Survey"), programme.id)
            saved = await cancel_invitation(
                session, programme, survey, utcnow(), info.context.actor
            )
            return SurveyPayload(survey=SurveyNode.from_row(saved))

        return await mutate(info, Scope.sms_send, work)


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
