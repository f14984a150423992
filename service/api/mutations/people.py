"""Schools and people."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.api.errors import Conflict, NotAllowed, NotFound, ValidationError
from service.api.mutations.base import given, mutate
from service.api.types.common import ConsoleRole, Gender, Info_, Language, Reach, Role
from service.api.types.people import PersonNode
from service.api.types.places import SchoolNode
from service.domain import console_access
from service.domain.lookup import get_owned
from service.domain.people import PersonInput, create_person, update_person
from service.domain.reach import set_reach
from service.domain.schools import SchoolInput, create_school, update_school
from service.models import Person, Programme, School
from service.models.enums import Scope
from service.models.types import utcnow


@strawberry.input
class CreateSchoolInput:
    code: str
    name: str
    district: str | None = None
    sector: str | None = None
    external_id: str | None = strawberry.field(
        default=None, description="Its id in another system (an EMIS code); unique."
    )


@strawberry.input
class UpdateSchoolInput:
    code: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    district: str | None = strawberry.UNSET
    sector: str | None = strawberry.UNSET
    external_id: str | None = strawberry.field(
        default=strawberry.UNSET, description="null (or empty) removes it."
    )


@strawberry.input
class CreatePersonInput:
    name: str
    phone: str | None = strawberry.field(default=None, description="Any local or E.164 form.")
    language: Language | None = None
    school_id: strawberry.ID | None = None
    roles: list[Role] | None = None
    subjects: list[str] | None = None
    gender: Gender | None = None
    reach: Reach | None = strawberry.field(
        default=None,
        description="sms (default) or whatsapp; whatsapp set here is not their opt-in: "
        "SMS goes until they choose WhatsApp themselves.",
    )
    external_id: str | None = strawberry.field(
        default=None, description="Their id in another system (a TSC number); unique."
    )


@strawberry.input
class UpdatePersonInput:
    name: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    language: Language | None = strawberry.UNSET
    school_id: strawberry.ID | None = strawberry.UNSET
    roles: list[Role] | None = strawberry.UNSET
    subjects: list[str] | None = strawberry.UNSET
    gender: Gender | None = strawberry.UNSET
    reach: Reach | None = strawberry.field(
        default=strawberry.UNSET, description="As setPersonReach (null: as it is)."
    )
    external_id: str | None = strawberry.field(
        default=strawberry.UNSET, description="null (or empty) removes it."
    )


@strawberry.type
class SchoolPayload:
    school: SchoolNode


@strawberry.type
class PersonPayload:
    person: PersonNode


SchoolResult = Annotated[
    SchoolPayload | NotFound | NotAllowed | ValidationError | Conflict,
    strawberry.union("SchoolResult"),
]
PersonResult = Annotated[
    PersonPayload | NotFound | NotAllowed | ValidationError | Conflict,
    strawberry.union("PersonResult"),
]


def _patch(current: dict[str, Any], patch: Any, fields: list[str]) -> dict[str, Any]:
    return current | {name: getattr(patch, name) for name in fields if given(getattr(patch, name))}


def _school_id(value: strawberry.ID | None) -> int | None:
    return ids.decode(value, "School") if value else None


@strawberry.type
class PeopleMutations:
    @strawberry.mutation
    async def create_school(self, info: Info_, input: CreateSchoolInput) -> SchoolResult:
        async def work(session: AsyncSession, programme: Programme) -> SchoolPayload:
            data = SchoolInput(
                code=input.code, name=input.name, district=input.district, sector=input.sector,
                external_id=input.external_id,
            )  # fmt: skip
            school = await create_school(programme, data, session=session, actor=info.context.actor)
            return SchoolPayload(school=SchoolNode.from_row(school))

        return await mutate(info, Scope.write, work)

    @strawberry.mutation(description="Change the fields given; the others stay.")
    async def update_school(
        self, info: Info_, id: strawberry.ID, input: UpdateSchoolInput
    ) -> SchoolResult:
        async def work(session: AsyncSession, programme: Programme) -> SchoolPayload:
            assert programme.id is not None
            pk = ids.decode(id, "School")
            school = await get_owned(session, School, pk, programme.id)
            current = {
                "code": school.code,
                "name": school.name,
                "district": school.district,
                "sector": school.sector,
                "external_id": school.external_id,
            }
            fields = ["code", "name", "district", "sector", "external_id"]
            data = SchoolInput(**_patch(current, input, fields))
            updated = await update_school(
                programme, pk, data, session=session, actor=info.context.actor
            )
            return SchoolPayload(school=SchoolNode.from_row(updated))

        return await mutate(info, Scope.write, work)

    @strawberry.mutation
    async def create_person(self, info: Info_, input: CreatePersonInput) -> PersonResult:
        async def work(session: AsyncSession, programme: Programme) -> PersonPayload:
            values: dict[str, Any] = {
                "name": input.name,
                "phone": input.phone,
                "language": input.language,
                "school_id": _school_id(input.school_id),
                "gender": input.gender,
                "reach": input.reach,
                "external_id": input.external_id,
            }
            if input.roles is not None:
                values["roles"] = input.roles
            if input.subjects is not None:
                values["subjects"] = input.subjects
            person = await create_person(
                programme, PersonInput(**values), session=session, actor=info.context.actor
            )
            return PersonPayload(person=PersonNode.from_row(person))

        return await mutate(info, Scope.write, work)

    @strawberry.mutation(
        description=(
            "Change the fields given; the others stay. A new language given here counts as "
            "the person's own choice (made on their request), like one made on the USSD "
            "menu: later roster imports keep it."
        )
    )
    async def update_person(
        self, info: Info_, id: strawberry.ID, input: UpdatePersonInput
    ) -> PersonResult:
        async def work(session: AsyncSession, programme: Programme) -> PersonPayload:
            assert programme.id is not None
            pk = ids.decode(id, "Person")
            person = await get_owned(session, Person, pk, programme.id)
            current: dict[str, Any] = {
                "name": person.name,
                "phone": person.phone,
                "language": person.language,
                "school_id": person.school_id,
                "roles": person.roles,
                "subjects": person.subjects,
                "gender": person.gender,
                "external_id": person.external_id,
            }
            values = _patch(
                current,
                input,
                [
                    "name",
                    "phone",
                    "language",
                    "roles",
                    "subjects",
                    "gender",
                    "reach",
                    "external_id",
                ],
            )
            if given(input.school_id):
                values["school_id"] = _school_id(input.school_id)
            updated = await update_person(
                programme, pk, PersonInput(**values), session=session, actor=info.context.actor
            )
            return PersonPayload(person=PersonNode.from_row(updated))

        return await mutate(info, Scope.write, work)

    @strawberry.mutation(
        description=(
            "Set how messages reach a person: sms or whatsapp (scope write). Audited. "
            "WhatsApp set by a partner app is not the person's opt-in: they get SMS (the "
            "reason recorded) until they choose WhatsApp themselves, by USSD or by "
            "replying WHATSAPP. Someone with no phone cannot be set to whatsapp."
        )
    )
    async def set_person_reach(
        self, info: Info_, person_id: strawberry.ID, reach: Reach
    ) -> PersonResult:
        async def work(session: AsyncSession, programme: Programme) -> PersonPayload:
            person = await set_reach(
                programme,
                ids.decode(person_id, "Person"),
                reach,
                session=session,
                actor=info.context.actor,
                now=utcnow(),
                opt_in=False,
            )
            return PersonPayload(person=PersonNode.from_row(person))

        return await mutate(info, Scope.write, work)

    @strawberry.mutation(
        description=(
            "Let a person sign in to the web console with this role, change it, or with "
            "role null take their access away (scope admin). Their open console sessions "
            "end: what they may reach has changed. Audited."
        )
    )
    async def set_console_role(
        self, info: Info_, person_id: strawberry.ID, role: ConsoleRole | None = None
    ) -> PersonResult:
        async def work(session: AsyncSession, programme: Programme) -> PersonPayload:
            assert programme.id is not None
            pk = ids.decode(person_id, "Person")
            person = await get_owned(session, Person, pk, programme.id)
            await console_access.set_console_role(
                session, person, role, actor=info.context.actor, now=utcnow()
            )
            return PersonPayload(person=PersonNode.from_row(person))

        return await mutate(info, Scope.admin, work)
