"""The overview: this term at a glance for the part of the programme a role covers."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.auth import Page, page


@page()
async def overview(current: Page) -> Response:
    return current.render("overview.html", {})


def routes() -> list[BaseRoute]:
    return [Route("/", overview, methods=["GET"])]
