"""Programme settings and terms."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from typing import Annotated

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api.errors import Conflict, NotAllowed, NotFound, ValidationError
from service.api.mutations.base import given, mutate
from service.api.types.common import Info_, Language, UssdBilling, Weekday
from service.api.types.places import ProgrammeNode, TermNode
from service.domain.programmes import ProgrammeSettings, update_programme
from service.domain.terms import TermInput, create_term
from service.models import Programme
from service.models.enums import Scope


@strawberry.input
class ProgrammeSettingsInput:
    name: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    default_language: Language | None = strawberry.UNSET
    languages: list[Language] | None = strawberry.UNSET
    service_code: str | None = strawberry.UNSET
    sender_id: str | None = strawberry.UNSET
    short_code: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Two-way SMS short code teachers reply to; null removes it.",
    )
    whatsapp_number: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="The WhatsApp Business number members are written from, E.164 "
        "(+254711082000); null removes it (WhatsApp members then get SMS).",
    )
    reminder_offsets_hours: list[int] | None = strawberry.UNSET
    quiet_hours_start: time | None = strawberry.UNSET
    quiet_hours_end: time | None = strawberry.UNSET
    sms_price: Decimal | None = strawberry.UNSET
    ussd_price: Decimal | None = strawberry.field(
        default=strawberry.UNSET,
        description="What the network charges for a USSD session, per ussdBilling.",
    )
    ussd_billing: UssdBilling | None = strawberry.field(
        default=strawberry.UNSET,
        description="session: ussdPrice once per session; per_20s: per 20 seconds begun.",
    )
    whatsapp_price: Decimal | None = strawberry.field(
        default=strawberry.UNSET,
        description="What WhatsApp charges for a template message (a reminder or notice "
        "outside the 24-hour window); free text within the window costs nothing.",
    )
    survey_delay_minutes: int | None = strawberry.UNSET
    survey_reminder_hours: int | None = strawberry.UNSET
    digest_day: Weekday | None = strawberry.field(
        default=strawberry.UNSET, description="The day school leaders get their weekly digest."
    )
    digest_time: time | None = strawberry.field(
        default=strawberry.UNSET, description="The time (programme time) of the weekly digest."
    )
    retention_months: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="Months message texts and free-text answers are kept (1-120; 24 by "
        "default); older ones are blanked hourly.",
    )


@strawberry.input
class CreateTermInput:
    name: str
    starts_on: date
    ends_on: date


@strawberry.type
class ProgrammePayload:
    programme: ProgrammeNode


@strawberry.type
class TermPayload:
    term: TermNode


UpdateProgrammeResult = Annotated[
    ProgrammePayload | NotFound | NotAllowed | ValidationError | Conflict,
    strawberry.union("UpdateProgrammeResult"),
]
CreateTermResult = Annotated[
    TermPayload | NotFound | NotAllowed | ValidationError | Conflict,
    strawberry.union("CreateTermResult"),
]


_SETTINGS = (
    "name",
    "timezone",
    "default_language",
    "languages",
    "service_code",
    "sender_id",
    "short_code",
    "whatsapp_number",
    "quiet_hours_start",
    "quiet_hours_end",
    "sms_price",
    "ussd_price",
    "ussd_billing",
    "whatsapp_price",
    "survey_delay_minutes",
    "survey_reminder_hours",
    "digest_day",
    "digest_time",
    "retention_months",
)


@strawberry.type
class ProgrammeMutations:
    @strawberry.mutation(description="Change the key's own programme settings (scope admin).")
    async def update_programme(
        self, info: Info_, input: ProgrammeSettingsInput
    ) -> UpdateProgrammeResult:
        values = {name: getattr(input, name) for name in _SETTINGS if given(getattr(input, name))}
        if given(input.reminder_offsets_hours):
            values["reminder_offsets_h"] = input.reminder_offsets_hours

        async def work(session: AsyncSession, programme: Programme) -> ProgrammePayload:
            assert programme.id is not None
            updated = await update_programme(
                programme.id,
                ProgrammeSettings.model_validate(values),
                session=session,
                actor=info.context.actor,
            )
            info.context.programme = updated
            return ProgrammePayload(programme=ProgrammeNode.from_row(updated))

        return await mutate(info, Scope.admin, work)

    @strawberry.mutation
    async def create_term(self, info: Info_, input: CreateTermInput) -> CreateTermResult:
        async def work(session: AsyncSession, programme: Programme) -> TermPayload:
            data = TermInput(name=input.name, starts_on=input.starts_on, ends_on=input.ends_on)
            term = await create_term(programme, data, session=session, actor=info.context.actor)
            return TermPayload(term=TermNode.from_row(term))

        return await mutate(info, Scope.write, work)
