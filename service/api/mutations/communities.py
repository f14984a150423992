"""Communities and who belongs to them."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.api.errors import Conflict, NotAllowed, NotFound, ValidationError
from service.api.mutations.base import given, mutate
from service.api.types.common import CommunityKind, Info_, MembershipRole
from service.api.types.communities import CommunityNode, MembershipNode
from service.domain.communities import (
    CommunityInput,
    add_member,
    create_community,
    remove_member,
    school_ids_of,
    upsert_community,
)
from service.domain.lookup import get_owned
from service.models import Community, Programme
from service.models.enums import Scope


@strawberry.input
class CreateCommunityInput:
    code: str
    name: str
    kind: CommunityKind
    subjects: list[str] | None = None
    school_ids: list[strawberry.ID] | None = None
    meetings_per_term: int = 3
    reminder_offsets_hours: list[int] | None = None


@strawberry.input
class UpdateCommunityInput:
    name: str | None = strawberry.UNSET
    kind: CommunityKind | None = strawberry.UNSET
    subjects: list[str] | None = strawberry.UNSET
    school_ids: list[strawberry.ID] | None = strawberry.UNSET
    meetings_per_term: int | None = strawberry.UNSET
    reminder_offsets_hours: list[int] | None = strawberry.UNSET


@strawberry.type
class CommunityPayload:
    community: CommunityNode


@strawberry.type
class MembershipPayload:
    membership: MembershipNode


CommunityResult = Annotated[
    CommunityPayload | NotFound | NotAllowed | ValidationError | Conflict,
    strawberry.union("CommunityResult"),
]
MembershipResult = Annotated[
    MembershipPayload | NotFound | NotAllowed | ValidationError | Conflict,
    strawberry.union("MembershipResult"),
]


def _school_ids(values: list[strawberry.ID] | None) -> list[int]:
    return [ids.decode(v, "School") for v in values or []]


@strawberry.type
class CommunityMutations:
    @strawberry.mutation
    async def create_community(self, info: Info_, input: CreateCommunityInput) -> CommunityResult:
        async def work(session: AsyncSession, programme: Programme) -> CommunityPayload:
            data = CommunityInput(
                code=input.code,
                name=input.name,
                kind=input.kind,
                subjects=input.subjects or [],
                school_ids=_school_ids(input.school_ids),
                meetings_per_term=input.meetings_per_term,
                reminder_offsets_h=input.reminder_offsets_hours,
            )
            community = await create_community(
                programme, data, session=session, actor=info.context.actor
            )
            return CommunityPayload(community=CommunityNode.from_row(community))

        return await mutate(info, Scope.write, work)

    @strawberry.mutation(description="Change the fields given; the others stay. The code is fixed.")
    async def update_community(
        self, info: Info_, id: strawberry.ID, input: UpdateCommunityInput
    ) -> CommunityResult:
        async def work(session: AsyncSession, programme: Programme) -> CommunityPayload:
            assert programme.id is not None
            community = await get_owned(
                session, Community, ids.decode(id, "Community"), programme.id
            )
            assert community.id is not None
            values: dict[str, Any] = {
                "code": community.code,
                "name": community.name,
                "kind": community.kind,
                "subjects": community.subjects,
                "school_ids": await school_ids_of(session, community.id),
                "meetings_per_term": community.meetings_per_term,
                "reminder_offsets_h": community.reminder_offsets_h,
            }
            for name in ("name", "kind", "subjects", "meetings_per_term"):
                if given(getattr(input, name)):
                    values[name] = getattr(input, name)
            if given(input.school_ids):
                values["school_ids"] = _school_ids(input.school_ids)
            if given(input.reminder_offsets_hours):
                values["reminder_offsets_h"] = input.reminder_offsets_hours
            updated, _ = await upsert_community(
                programme, CommunityInput(**values), session=session, actor=info.context.actor
            )
            return CommunityPayload(community=CommunityNode.from_row(updated))

        return await mutate(info, Scope.write, work)

    @strawberry.mutation(description="Add a member or facilitator; someone who left rejoins.")
    async def add_member(
        self, info: Info_, community_id: strawberry.ID, person_id: strawberry.ID,
        role: MembershipRole = MembershipRole.member,
    ) -> MembershipResult:  # fmt: skip
        async def work(session: AsyncSession, programme: Programme) -> MembershipPayload:
            assert programme.id is not None
            membership, _ = await add_member(
                programme.id,
                ids.decode(community_id, "Community"),
                ids.decode(person_id, "Person"),
                role=role,
                session=session,
                actor=info.context.actor,
            )
            return MembershipPayload(membership=MembershipNode.from_row(membership))

        return await mutate(info, Scope.write, work)

    @strawberry.mutation(description="The person leaves: their history stays, messages stop.")
    async def remove_member(
        self, info: Info_, community_id: strawberry.ID, person_id: strawberry.ID
    ) -> MembershipResult:
        async def work(session: AsyncSession, programme: Programme) -> MembershipPayload:
            assert programme.id is not None
            membership = await remove_member(
                programme.id,
                ids.decode(community_id, "Community"),
                ids.decode(person_id, "Person"),
                session=session,
                actor=info.context.actor,
            )
            return MembershipPayload(membership=MembershipNode.from_row(membership))

        return await mutate(info, Scope.write, work)
