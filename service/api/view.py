"""The /graphql endpoint: authenticates the API key and builds the typed context."""

from __future__ import annotations

from typing import Any

import strawberry
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UnsetType

from service.api.context import Context
from service.domain.apikeys import authenticate
from service.models import Programme
from service.services import Services

MISSING = "missing API key: send the header 'Authorization: Bearer <key>'"
INVALID = "invalid or revoked API key"


def _token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class CoplineGraphQL(GraphQL[Context, None]):
    def __init__(self, schema: strawberry.Schema, services: Services, **options: Any) -> None:
        super().__init__(schema, **options)
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        # Failures before execution (no key, bad JSON…) answer in GraphQL's JSON shape,
        # which every client can parse, instead of Strawberry's plain text.
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as exc:
            headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
            response = JSONResponse(
                {"errors": [{"message": exc.reason, "extensions": {"status": exc.status_code}}]},
                status_code=exc.status_code,
                headers=headers,
            )
        await response(scope, receive, send)

    async def _sign_in(self, context: Context, token: str) -> bool:
        async with self.services.sessions() as session:
            key = await authenticate(session, token)
            if key is None:
                return False
            programme = await session.get(Programme, key.programme_id)
        context.key, context.programme = key, programme
        return programme is not None

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        context = Context(request=request, response=response, services=self.services)
        if isinstance(request, WebSocket):
            return context  # signed in by on_ws_connect, from the connection_init payload
        token = _token(request.headers.get("authorization"))
        if token is None:
            wants_ide = request.method == "GET" and "text/html" in request.headers.get("accept", "")
            if wants_ide and "query" not in request.query_params:
                return context  # the GraphiQL page itself; every query still needs a key
            raise HTTPException(401, MISSING)
        if not await self._sign_in(context, token):
            raise HTTPException(401, INVALID)
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        if not isinstance(header, str):
            header = context.request.headers.get("authorization")
        token = _token(header)
        if token is None or not await self._sign_in(context, token):
            raise ConnectionRejectionError({"message": INVALID if token else MISSING})
        return strawberry.UNSET
