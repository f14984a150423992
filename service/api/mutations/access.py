"""API keys, managed by admins of the programme."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.api.errors import Conflict, NotAllowed, NotFound, ValidationError
from service.api.mutations.base import mutate
from service.api.types.access import ApiKeyNode
from service.api.types.common import Info_, Scope
from service.domain.apikeys import create_api_key, revoke_api_key
from service.models import Programme


@strawberry.type
class ApiKeyCreated:
    api_key: ApiKeyNode
    secret: str = strawberry.field(description="The whole key. Shown only now: store it safely.")


@strawberry.type
class ApiKeyPayload:
    api_key: ApiKeyNode


CreateApiKeyResult = Annotated[
    ApiKeyCreated | NotFound | NotAllowed | ValidationError | Conflict,
    strawberry.union("CreateApiKeyResult"),
]
RevokeApiKeyResult = Annotated[
    ApiKeyPayload | NotFound | NotAllowed | ValidationError | Conflict,
    strawberry.union("RevokeApiKeyResult"),
]


@strawberry.type
class AccessMutations:
    @strawberry.mutation(description="A new key for this programme (scope admin).")
    async def create_api_key(
        self, info: Info_, name: str, scopes: list[Scope]
    ) -> CreateApiKeyResult:
        async def work(session: AsyncSession, programme: Programme) -> ApiKeyCreated:
            issued = await create_api_key(
                programme,
                name,
                list(dict.fromkeys(scopes)),
                session=session,
                actor=info.context.actor,
            )
            return ApiKeyCreated(api_key=ApiKeyNode.from_row(issued.key), secret=issued.secret)

        return await mutate(info, Scope.admin, work)

    @strawberry.mutation(description="Revoke a key at once (scope admin).")
    async def revoke_api_key(self, info: Info_, id: strawberry.ID) -> RevokeApiKeyResult:
        async def work(session: AsyncSession, programme: Programme) -> ApiKeyPayload:
            assert programme.id is not None
            key = await revoke_api_key(
                programme.id, ids.decode(id, "ApiKey"), session=session, actor=info.context.actor
            )
            return ApiKeyPayload(api_key=ApiKeyNode.from_row(key))

        return await mutate(info, Scope.admin, work)
