"""Webhook endpoints and their recent deliveries, for admins."""

from __future__ import annotations

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession
from strawberry.permission import BasePermission

from service.api import ids
from service.api.permissions import IsAdmin
from service.api.types.common import Info_
from service.api.types.webhooks import WebhookDeliveryNode, WebhookEndpointNode
from service.domain import webhooks
from service.models.enums import DeliveryStatus

ADMIN: list[type[BasePermission]] = [IsAdmin]
MAX_DELIVERIES = 100


@strawberry.type
class WebhookQueries:
    @strawberry.field(permission_classes=ADMIN, description="The programme's webhook endpoints.")
    async def webhook_endpoints(self, info: Info_) -> list[WebhookEndpointNode]:
        async def work(session: AsyncSession) -> list[WebhookEndpointNode]:
            assert info.context.programme_id is not None
            rows = await webhooks.list_endpoints(session, info.context.programme_id)
            return [WebhookEndpointNode.from_row(row) for row in rows]

        return await info.context.run(work)

    @strawberry.field(
        permission_classes=ADMIN,
        description="Recent deliveries, newest first, each with its last attempts (at most 100).",
    )
    async def webhook_deliveries(
        self,
        info: Info_,
        endpoint_id: strawberry.ID | None = None,
        status: DeliveryStatus | None = None,
        first: int = 20,
    ) -> list[WebhookDeliveryNode]:
        endpoint = ids.decode(endpoint_id, "WebhookEndpoint") if endpoint_id else None

        async def work(session: AsyncSession) -> list[WebhookDeliveryNode]:
            assert info.context.programme_id is not None
            rows = await webhooks.recent_deliveries(
                session, info.context.programme_id, endpoint_id=endpoint, status=status,
                limit=max(1, min(first, MAX_DELIVERIES)),
            )  # fmt: skip
            attempts = await webhooks.attempts_of(session, [r.id for r in rows if r.id])
            return [WebhookDeliveryNode.from_row(r, attempts[r.id or 0]) for r in rows]

        return await info.context.run(work)
