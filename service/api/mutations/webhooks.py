"""Webhook endpoints, managed by admins of the programme (scope admin)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.api.errors import Conflict, NotAllowed, NotFound, ValidationError
from service.api.mutations.base import given, mutate
from service.api.types.common import Info_, Scope
from service.api.types.webhooks import WebhookDeliveryNode, WebhookEndpointNode
from service.domain import webhooks
from service.models import Programme
from service.models.enums import WebhookEvent


@strawberry.input
class WebhookEndpointInput:
    url: str = strawberry.field(description="http:// or https://")
    events: list[WebhookEvent]
    pii: bool = strawberry.field(
        default=False, description="Send whole phone numbers and texts to this endpoint."
    )
    description: str = ""


@strawberry.input
class WebhookEndpointUpdate:
    url: str | None = strawberry.UNSET
    events: list[WebhookEvent] | None = strawberry.UNSET
    pii: bool | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET
    description: str | None = strawberry.UNSET


@strawberry.type
class WebhookEndpointCreated:
    endpoint: WebhookEndpointNode
    secret: str = strawberry.field(
        description="The signing secret (whsec_…). Shown only now: store it safely."
    )


@strawberry.type
class WebhookEndpointPayload:
    endpoint: WebhookEndpointNode


@strawberry.type
class WebhookEndpointDeleted:
    deleted_id: strawberry.ID


@strawberry.type
class WebhookDeliveryPayload:
    delivery: WebhookDeliveryNode


CreateResult = Annotated[
    WebhookEndpointCreated | NotFound | NotAllowed | ValidationError | Conflict,
    strawberry.union("CreateWebhookEndpointResult"),
]
UpdateResult = Annotated[
    WebhookEndpointPayload | NotFound | NotAllowed | ValidationError | Conflict,
    strawberry.union("UpdateWebhookEndpointResult"),
]
DeleteResult = Annotated[
    WebhookEndpointDeleted | NotFound | NotAllowed | ValidationError | Conflict,
    strawberry.union("DeleteWebhookEndpointResult"),
]
RotateResult = Annotated[
    WebhookEndpointCreated | NotFound | NotAllowed | ValidationError | Conflict,
    strawberry.union("RotateWebhookSecretResult"),
]
ResendResult = Annotated[
    WebhookDeliveryPayload | NotFound | NotAllowed | ValidationError | Conflict,
    strawberry.union("ResendWebhookDeliveryResult"),
]


def _pid(programme: Programme) -> int:
    assert programme.id is not None
    return programme.id


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        description="Register an endpoint for these events (scope admin); its secret is shown once."
    )
    async def create_webhook_endpoint(
        self, info: Info_, input: WebhookEndpointInput
    ) -> CreateResult:
        async def work(session: AsyncSession, programme: Programme) -> WebhookEndpointCreated:
            endpoint = await webhooks.create_endpoint(
                _pid(programme), input.url, [e.value for e in input.events], pii=input.pii,
                description=input.description, session=session, actor=info.context.actor,
            )  # fmt: skip
            return WebhookEndpointCreated(
                endpoint=WebhookEndpointNode.from_row(endpoint), secret=endpoint.secret
            )

        return await mutate(info, Scope.admin, work)

    @strawberry.mutation(description="Change, disable or enable an endpoint (scope admin).")
    async def update_webhook_endpoint(
        self, info: Info_, id: strawberry.ID, input: WebhookEndpointUpdate
    ) -> UpdateResult:
        def value(v: object) -> object:
            return v if given(v) else None

        async def work(session: AsyncSession, programme: Programme) -> WebhookEndpointPayload:
            events = value(input.events)
            endpoint = await webhooks.update_endpoint(
                _pid(programme), ids.decode(id, "WebhookEndpoint"),
                url=value(input.url),  # type: ignore[arg-type]
                events=[e.value for e in events] if isinstance(events, list) else None,
                pii=value(input.pii),  # type: ignore[arg-type]
                enabled=value(input.enabled),  # type: ignore[arg-type]
                description=value(input.description),  # type: ignore[arg-type]
                session=session, actor=info.context.actor,
            )  # fmt: skip
            return WebhookEndpointPayload(endpoint=WebhookEndpointNode.from_row(endpoint))

        return await mutate(info, Scope.admin, work)

    @strawberry.mutation(description="Remove an endpoint and what it was still owed (scope admin).")
    async def delete_webhook_endpoint(self, info: Info_, id: strawberry.ID) -> DeleteResult:
        async def work(session: AsyncSession, programme: Programme) -> WebhookEndpointDeleted:
            pk = ids.decode(id, "WebhookEndpoint")
            await webhooks.delete_endpoint(
                _pid(programme), pk, session=session, actor=info.context.actor
            )
            return WebhookEndpointDeleted(deleted_id=id)

        return await mutate(info, Scope.admin, work)

    @strawberry.mutation(
        description="A new signing secret, used from now on; shown only now (scope admin)."
    )
    async def rotate_webhook_secret(self, info: Info_, id: strawberry.ID) -> RotateResult:
        async def work(session: AsyncSession, programme: Programme) -> WebhookEndpointCreated:
            endpoint = await webhooks.rotate_secret(
                _pid(programme), ids.decode(id, "WebhookEndpoint"), session=session,
                actor=info.context.actor,
            )  # fmt: skip
            return WebhookEndpointCreated(
                endpoint=WebhookEndpointNode.from_row(endpoint), secret=endpoint.secret
            )

        return await mutate(info, Scope.admin, work)

    @strawberry.mutation(
        description="Send a delivery again, same body and webhook-id, now (scope admin)."
    )
    async def resend_webhook_delivery(self, info: Info_, id: strawberry.ID) -> ResendResult:
        async def work(session: AsyncSession, programme: Programme) -> WebhookDeliveryPayload:
            delivery = await webhooks.resend(
                _pid(programme), ids.decode(id, "WebhookDelivery"), session=session,
                actor=info.context.actor,
            )  # fmt: skip
            assert delivery.id is not None
            attempts = await webhooks.attempts_of(session, [delivery.id])
            return WebhookDeliveryPayload(
                delivery=WebhookDeliveryNode.from_row(delivery, attempts[delivery.id])
            )

        return await mutate(info, Scope.admin, work)
