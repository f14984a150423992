"""FLOIP Flow Results packages of a programme's surveys, for partner apps (RapidPro,
Viamo, dashboards that read the standard):

- `GET /flow-results/surveys`: the packages the key may read, one per survey version;
- `GET /flow-results/surveys/{id}`: a version's `datapackage.json` (`id` is the survey's
  GraphQL id), whose resource points at
- `GET /flow-results/surveys/{id}/responses`: its rows, streamed as one JSON array.

The key is read exactly as for /graphql and /exports: `read` to download, and only
with `read:pii` are contacts phones (otherwise pseudonyms) and short-text answers in.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from service.api import ids
from service.api.context import Context
from service.api.exports import unavailable
from service.api.view import INVALID, MISSING, _token
from service.domain import flow_results
from service.domain.apikeys import authenticate
from service.domain.errors import NotFound
from service.domain.surveys import in_language
from service.models import Programme, Survey
from service.models.enums import Scope
from service.services import Services

JSON = "application/json; charset=utf-8"


def _refuse(status: int, message: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return PlainTextResponse(message, status_code=status, headers=headers)


@dataclass
class Caller:
    programme: Programme
    pii: bool


def routes(services: Services) -> list[Route]:
    secret = services.settings.secret_key.get_secret_value()

    async def caller(request: Request) -> Caller | Response:
        token = _token(request.headers.get("authorization"))
        if token is None:
            return _refuse(401, MISSING)
        # A Context only to ask `has`: scopes mean the same here as in GraphQL.
        context = Context(request=request, response=None, services=services)
        # On the primary: authenticating may note when the key was last used. What
        # follows reads from the read sessions (a replica, when one is set).
        async with services.sessions() as session:
            context.key = await authenticate(session, token)
            if context.key is None:
                return _refuse(401, INVALID)
            programme = await session.get(Programme, context.key.programme_id)
        if programme is None:
            return _refuse(401, INVALID)
        if not context.has(Scope.read):
            return _refuse(403, f"this API key lacks the {Scope.read.value!r} scope")
        return Caller(programme, context.has(Scope.read_pii))

    def survey_pk(request: Request) -> int | None:
        try:
            return ids.decode(request.path_params["survey"], "Survey")
        except NotFound:
            return None

    async def spec(request: Request, who: Caller) -> flow_results.PackageSpec | Response:
        pk = survey_pk(request)
        if pk is None:
            return _refuse(404, "no such survey: use a Survey id from the GraphQL API")
        try:
            async with services.read_sessions() as session:
                return await flow_results.prepare(
                    session, who.programme, pk, pii=who.pii, secret=secret
                )
        except NotFound:
            return _refuse(404, "no such survey in this programme")
        except Exception as exc:
            return unavailable(exc, "flow_results")

    async def listing(request: Request) -> Response:
        who = await caller(request)
        if isinstance(who, Response):
            return who
        language = who.programme.default_language.value
        try:
            async with services.read_sessions() as session:
                surveys = (
                    await session.exec(
                        select(Survey)
                        .where(Survey.programme_id == who.programme.id)
                        .order_by(col(Survey.key), col(Survey.version))
                    )
                ).all()
        except Exception as exc:
            return unavailable(exc, "flow_results")
        packages = []
        for s in surveys:
            gid = ids.encode("Survey", s.id)
            packages.append(
                {
                    "survey_id": gid,
                    "key": s.key,
                    "version": s.version,
                    "status": s.status.value,
                    "title": in_language(s.title, language, "en") or s.key,
                    "descriptor": str(request.url_for("flow_results_package", survey=gid)),
                }
            )
        return JSONResponse({"packages": packages}, media_type=JSON)

    async def package(request: Request) -> Response:
        who = await caller(request)
        if isinstance(who, Response):
            return who
        found = await spec(request, who)
        if isinstance(found, Response):
            return found
        gid = request.path_params["survey"]
        url = str(request.url_for("flow_results_responses", survey=gid))
        body = json.dumps(flow_results.descriptor(found, url), ensure_ascii=False, indent=2)
        return Response(body, media_type=JSON)

    async def responses(request: Request) -> Response:
        who = await caller(request)
        if isinstance(who, Response):
            return who
        found = await spec(request, who)
        if isinstance(found, Response):
            return found
        chosen = found

        async def body() -> AsyncIterator[str]:
            # The response outlives the handler: the rows get a session of their own.
            async with services.read_sessions() as session:
                async for chunk in flow_results.json_chunks(flow_results.rows(session, chosen)):
                    yield chunk

        return StreamingResponse(body(), media_type=JSON)

    return [
        Route("/flow-results/surveys", listing, methods=["GET"]),
        Route(
            "/flow-results/surveys/{survey}", package, methods=["GET"], name="flow_results_package"
        ),
        Route(
            "/flow-results/surveys/{survey}/responses",
            responses,
            methods=["GET"],
            name="flow_results_responses",
        ),
    ]
