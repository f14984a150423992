"""The console as one ASGI app that `create_app` mounts at `/`, after the API's routes.

Everything it serves is its own: templates, styles, scripts, the chart library's
output (no CDN, no web font), so it works at a workshop with no internet. Pages
and assets are compressed; assets carry a content hash and are cached for a year.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console.auth import language_of, refusal
from console.i18n import _
from console.limits import SignInLimits
from console.pages import page_routes
from console.render import STATIC
from service.services import Services

# Scripts only from copline itself; pygal's SVG carries its own <style>, hence styles inline.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; object-src 'none'"
)
HEADERS = [
    (b"content-security-policy", POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
YEAR = b"public, max-age=31536000, immutable"


class Hardened:
    """Security headers on every console response; a year's caching for hashed assets,
    none for pages (they show private figures)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        asset = scope["path"].startswith("/static/") and b"v=" in scope.get("query_string", b"")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"
                ]
                headers += HEADERS
                headers.append((b"cache-control", YEAR if asset else b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


async def not_found(request: Request, exc: Exception) -> Response:
    return refusal(request, language_of(request), 404, _("There is nothing here for you."))


def build_console(services: Services) -> Starlette:
    routes: list[BaseRoute] = [
        *page_routes(),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Hardened), Middleware(GZipMiddleware, minimum_size=300)],
        exception_handlers={404: not_found},
    )
    app.state.services = services
    app.state.sign_in_limits = SignInLimits(services.settings.rate_limit_storage)
    return app
