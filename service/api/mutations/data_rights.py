"""A person's data rights: consent recorded, a legal hold, erasure (the export is a query)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.api.errors import Conflict, NotAllowed, NotFound, ValidationError
from service.api.mutations.base import mutate
from service.api.mutations.people import PersonPayload, PersonResult
from service.api.types.common import Channel, ConsentState, Info_
from service.api.types.people import PersonNode
from service.domain.consent import record_consent
from service.domain.erasure import erase_person, set_legal_hold
from service.domain.lookup import get_owned
from service.models import Person, Programme
from service.models.enums import Scope
from service.models.types import utcnow


@strawberry.type
class ErasePersonPayload:
    person: PersonNode
    messages: int = strawberry.field(description="Their messages whose text was removed.")
    free_text_answers: int = strawberry.field(description="Their free-text answers emptied.")
    ussd_sessions: int = strawberry.field(description="Their USSD dials whose number went.")
    console_sessions: int
    sign_in_codes: int
    texts_scrubbed: int = strawberry.field(
        description="Other rows of the programme that named them or held their number "
        "(a colleague's message, an audit entry), the name and number replaced."
    )


ErasePersonResult = Annotated[
    ErasePersonPayload | NotFound | NotAllowed | ValidationError | Conflict,
    strawberry.union("ErasePersonResult"),
]


@strawberry.type
class DataRightsMutations:
    @strawberry.mutation(
        description=(
            "Record a person's consent (scope write): given, refused or withdrawn, by the "
            "channel they gave it on (api unless said). It joins their consent history. "
            "Refused or withdrawn stops every message to them, as STOP does; given again "
            "restarts messages stopped by staff, never a STOP the person sent themselves."
        )
    )
    async def record_consent(
        self,
        info: Info_,
        person_id: strawberry.ID,
        state: ConsentState,
        channel: Channel | None = None,
    ) -> PersonResult:
        async def work(session: AsyncSession, programme: Programme) -> PersonPayload:
            assert programme.id is not None
            pk = ids.decode(person_id, "Person")
            person = await get_owned(session, Person, pk, programme.id, for_update=True)
            await record_consent(
                person, state, channel=channel or Channel.api, session=session,
                actor=info.context.actor,
            )  # fmt: skip
            return PersonPayload(person=PersonNode.from_row(person))

        return await mutate(info, Scope.write, work)

    @strawberry.mutation(
        description=(
            "Set (hold true) or lift a legal hold on a person's data (scope admin); audited. "
            "While it is set the person cannot be erased."
        )
    )
    async def set_legal_hold(
        self, info: Info_, person_id: strawberry.ID, hold: bool
    ) -> PersonResult:
        async def work(session: AsyncSession, programme: Programme) -> PersonPayload:
            person, _ = await set_legal_hold(
                programme, ids.decode(person_id, "Person"), hold, session=session,
                actor=info.context.actor, now=utcnow(),
            )  # fmt: skip
            return PersonPayload(person=PersonNode.from_row(person))

        return await mutate(info, Scope.admin, work)

    @strawberry.mutation(
        description=(
            "Erase what identifies a person (scope admin): their name becomes [erased], "
            "their phone goes, their message texts and free-text answers are emptied, and "
            "their name and number are replaced wherever else the programme's texts hold "
            "them. Attendance, survey choices, messages' status and cost, and consent "
            "history stay, so the programme's figures do not change. Audited, without "
            "the erased values. Conflict (code legal_hold) while a legal hold is set; "
            "Conflict (code erased) when done already. It cannot be undone."
        )
    )
    async def erase_person(self, info: Info_, person_id: strawberry.ID) -> ErasePersonResult:
        async def work(session: AsyncSession, programme: Programme) -> ErasePersonPayload:
            assert programme.id is not None
            pk = ids.decode(person_id, "Person")
            done = await erase_person(
                programme, pk, session=session, actor=info.context.actor, now=utcnow()
            )
            person = await get_owned(session, Person, pk, programme.id)
            return ErasePersonPayload(
                person=PersonNode.from_row(person),
                messages=done.messages,
                free_text_answers=done.free_text_answers,
                ussd_sessions=done.ussd_sessions,
                console_sessions=done.console_sessions,
                sign_in_codes=done.sign_in_codes,
                texts_scrubbed=done.texts_scrubbed,
            )

        return await mutate(info, Scope.admin, work)
