"""`GET /exports/{kind}.csv`: a programme's CSV exports for partner apps, streamed.

The key is read exactly as for /graphql; the file never holds more than the key may
see: whole phones, message bodies and free-text answers only with `read:pii`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from service.api.context import Context
from service.api.view import INVALID, MISSING, _token
from service.db import unreachable
from service.domain.apikeys import authenticate
from service.domain.errors import NotFound
from service.domain.exports import EXPORTS, ExportKind, csv_chunks, file_name, prepare
from service.models import Programme
from service.models.enums import Scope
from service.services import Services

log = structlog.get_logger(__name__)

UNAVAILABLE_TEXT = "the database for exports is not answering; try again in a minute"


def _refuse(status: int, message: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return PlainTextResponse(message, status_code=status, headers=headers)


def unavailable(exc: Exception, what: str) -> Response:
    """503 while the database is away (a replica down, say); anything else is a bug."""
    if not unreachable(exc):
        raise exc
    log.warning(f"{what}.database_unavailable", error=type(exc).__name__)
    return _refuse(503, UNAVAILABLE_TEXT)


def routes(services: Services) -> list[Route]:
    async def download(request: Request) -> Response:
        token = _token(request.headers.get("authorization"))
        if token is None:
            return _refuse(401, MISSING)
        # A Context only to ask `has`: scopes mean the same here as in GraphQL.
        caller = Context(request=request, response=None, services=services)
        # The key on the primary: authenticating may note when it was last used.
        try:
            async with services.sessions() as session:
                caller.key = await authenticate(session, token)
                if caller.key is None:
                    return _refuse(401, INVALID)
                programme = await session.get(Programme, caller.key.programme_id)
        except Exception as exc:
            return unavailable(exc, "export")
        if programme is None:
            return _refuse(401, INVALID)
        if not caller.has(Scope.read):
            return _refuse(403, f"this API key lacks the {Scope.read.value!r} scope")
        try:
            kind = ExportKind(request.path_params["kind"])
        except ValueError:
            known = ", ".join(f"{k.value}.csv" for k in ExportKind)
            return _refuse(404, f"no such export (known: {known})")
        # The rows from the read sessions (a replica, when one is set).
        try:
            async with services.read_sessions() as session:
                spec = await prepare(
                    session,
                    programme,
                    term=request.query_params.get("term") or None,
                    pii=caller.has(Scope.read_pii),
                )
        except NotFound as exc:
            return _refuse(404, exc.message)
        except Exception as exc:
            return unavailable(exc, "export")

        async def body() -> AsyncIterator[str]:
            # The response outlives the handler: the rows get a session of their own.
            async with services.read_sessions() as rows_session:
                async for chunk in csv_chunks(EXPORTS[kind](rows_session, spec)):
                    yield chunk

        return StreamingResponse(
            body(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{file_name(spec, kind)}"'},
        )

    return [Route("/exports/{kind}.csv", download, methods=["GET"])]
