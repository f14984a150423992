"""Every console page's routes, one module per area of the console."""

from __future__ import annotations

from starlette.routing import BaseRoute

from console.pages import (
    communities,
    exports,
    meetings,
    messages,
    overview,
    people,
    register,
    roster,
    series,
    signing_in,
    surveys,
    webhooks,
)


def page_routes() -> list[BaseRoute]:
    return [
        *signing_in.routes(),
        *overview.routes(),
        *messages.routes(),
        *register.routes(),
        *exports.routes(),
        *people.routes(),
        *roster.routes(),
        *communities.routes(),
        *series.routes(),
        *meetings.routes(),
        *surveys.routes(),
        *webhooks.routes(),
    ]
