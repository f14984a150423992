"""CORS on /graphql alone: partners' browser dashboards call it from their own origins.

Scoped to the GraphQL route, not the app: the console at `/` and the Africa's Talking
callbacks answer no page from another site. Credentials are never allowed: partners
send a bearer key in `Authorization`, never a cookie, so no other site's page can ride
on a cookie the browser holds for copline (the console's session).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route
from starlette.types import ASGIApp

PATH = "/graphql"
METHODS = ["GET", "POST"]
HEADERS = ["Authorization", "Content-Type"]
# How long a browser may reuse a preflight (Chrome caps it at 2 hours): one preflight
# per dashboard page load instead of one per query.
MAX_AGE_S = 7200


def graphql_http_route(graphql: ASGIApp, origins: Sequence[str]) -> Route:
    """`/graphql` over HTTP; with `origins` listed, it also answers their preflights and
    names them in `Access-Control-Allow-Origin`. Other origins get no CORS headers."""
    if not origins:
        return Route(PATH, graphql, methods=METHODS)
    cors = CORSMiddleware(
        graphql,
        allow_origins=list(origins),  # exact strings, as Settings normalises them
        allow_methods=METHODS,
        allow_headers=HEADERS,
        allow_credentials=False,
        max_age=MAX_AGE_S,
    )
    # OPTIONS reaches the middleware, which answers preflights; any other OPTIONS goes
    # on to the GraphQL view, which refuses it as before.
    return Route(PATH, cors, methods=[*METHODS, "OPTIONS"])
