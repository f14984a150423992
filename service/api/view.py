"""The /graphql endpoint: authenticates the API key and builds the typed context."""

from __future__ import annotations

from typing import Any

import strawberry
from cross_web import HTTPException
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UnsetType

from service.api.context import Context
from service.api.ide import graphiql_page
from service.api.limits import MAX_BODY_BYTES
from service.domain.apikeys import authenticate
from service.models import Programme
from service.services import Services

MISSING = "missing API key: send the header 'Authorization: Bearer <key>'"
INVALID = "invalid or revoked API key"
TOO_LARGE = f"request body too large: at most {MAX_BODY_BYTES // 1024} KiB"


class BodyTooLarge(Exception):
    pass


async def read_bounded(receive: Receive, limit: int) -> Receive:
    """Read the whole body, refusing past `limit` bytes (declared or streamed), and give
    back a `receive` that replays it."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away; the app sees that as it would have
        size += len(message.get("body", b""))
        if size > limit:
            raise BodyTooLarge
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            break
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return message

    return replay


def _error(status: int, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """GraphQL's JSON error shape, which every client can parse."""
    return JSONResponse(
        {"errors": [{"message": reason, "extensions": {"status": status}}]},
        status_code=status,
        headers=headers,
    )


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
        # Failures before execution (too large, no key, bad JSON…) answer in GraphQL's
        # JSON shape instead of Strawberry's plain text.
        declared = Headers(scope=scope).get("content-length", "")
        try:
            if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                raise BodyTooLarge  # said up front: no need to read it
            receive = await read_bounded(receive, MAX_BODY_BYTES)
            response = await self.run(Request(scope=scope, receive=receive))
        except BodyTooLarge:
            response = _error(413, TOO_LARGE, {"Connection": "close"})
        except HTTPException as exc:
            auth = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
            response = _error(exc.status_code, exc.reason, auth)
        await response(scope, receive, send)

    async def render_graphql_ide(self, request: Request) -> Response:
        # Strawberry's page loads its scripts from a CDN; ours are served by copline.
        return graphiql_page(request)

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
