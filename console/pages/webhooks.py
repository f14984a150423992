"""Webhooks for programme admins: the endpoints, adding one (its secret shown once),
enabling, disabling and removing one, and the recent deliveries with a resend button.
The same use cases as GraphQL's and the CLI's; every change audited as the person."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.auth import Page, page
from console.i18n import _
from service.domain import webhooks
from service.domain.errors import NotFound, ValidationError
from service.models.enums import Scope

# The events as the page names them (the wire names stay beside them).
EVENT_LABELS = {
    "attendance.marked": _("Attendance marked"),
    "rsvp.given": _("RSVP given"),
    "meeting.scheduled": _("Meeting scheduled"),
    "meeting.moved": _("Meeting moved"),
    "meeting.cancelled": _("Meeting cancelled"),
    "meeting.held": _("Meeting held"),
    "survey_response.completed": _("Survey response completed"),
    "message.delivered": _("Message delivered"),
    "message.failed": _("Message failed"),
    "person.opted_out": _("Person opted out"),
}
RECENT = 30


async def _page(
    current: Page,
    *,
    secret: str | None = None,
    error: str | None = None,
    form: dict[str, object] | None = None,
    status: int = 200,
) -> Response:
    programme_id = current.viewer.programme.id
    assert programme_id is not None
    endpoints = await webhooks.list_endpoints(current.session, programme_id)
    deliveries = await webhooks.recent_deliveries(current.session, programme_id, limit=RECENT)
    urls = {e.id: e.url for e in endpoints}
    return current.render(
        "webhooks.html",
        {
            "endpoints": endpoints,
            "deliveries": [(d, urls.get(d.endpoint_id, "")) for d in deliveries],
            "events": [(name, current._(label)) for name, label in EVENT_LABELS.items()],
            "secret": secret,
            "error": error,
            "form": form or {"events": list(EVENT_LABELS)},
        },
        status_code=status,
    )


@page(scope=Scope.admin)
async def webhooks_page(current: Page) -> Response:
    return await _page(current)


@page(scope=Scope.admin)
async def add(current: Page) -> Response:
    programme_id = current.viewer.programme.id
    assert programme_id is not None
    data = await current.form()
    url = str(data.get("url") or "")
    events = [str(e) for e in data.getlist("events")]
    pii = data.get("pii") == "yes"
    description = str(data.get("description") or "")
    try:
        endpoint = await webhooks.create_endpoint(
            programme_id, url, events, pii=pii, description=description,
            session=current.session, actor=current.viewer.coverage.actor(),
        )  # fmt: skip
    except ValidationError as exc:
        form = {"url": url, "events": events, "pii": pii, "description": description}
        return await _page(current, error=current.error(exc), form=form, status=400)
    # Shown once, on this answer: it is never put in a notice or a later page.
    return await _page(current, secret=endpoint.secret)


def _id(current: Page, name: str) -> int:
    raw = str(current.request.path_params[name])
    if not raw.isdigit():
        raise NotFound("no such webhook")
    return int(raw)


@page(scope=Scope.admin)
async def switch(current: Page) -> Response:
    programme_id = current.viewer.programme.id
    assert programme_id is not None
    enabled = current.request.url.path.endswith("/enable")
    endpoint = await webhooks.update_endpoint(
        programme_id, _id(current, "endpoint_id"), enabled=enabled,
        session=current.session, actor=current.viewer.coverage.actor(),
    )  # fmt: skip
    notice = (
        current._("%(url)s gets events again.", url=endpoint.url)
        if enabled
        else current._("%(url)s gets no events until it is enabled again.", url=endpoint.url)
    )
    return current.redirect("/webhooks", notice=notice)


@page(scope=Scope.admin)
async def remove(current: Page) -> Response:
    programme_id = current.viewer.programme.id
    assert programme_id is not None
    await webhooks.delete_endpoint(
        programme_id, _id(current, "endpoint_id"), session=current.session,
        actor=current.viewer.coverage.actor(),
    )  # fmt: skip
    return current.redirect("/webhooks", notice=current._("The endpoint was removed."))


@page(scope=Scope.admin)
async def resend(current: Page) -> Response:
    programme_id = current.viewer.programme.id
    assert programme_id is not None
    await webhooks.resend(
        programme_id, _id(current, "delivery_id"), session=current.session,
        actor=current.viewer.coverage.actor(), now=current.now,
    )  # fmt: skip
    return current.redirect("/webhooks", notice=current._("It will be sent again in a moment."))


def routes() -> list[BaseRoute]:
    return [
        Route("/webhooks", webhooks_page, methods=["GET"]),
        Route("/webhooks", add, methods=["POST"]),
        Route("/webhooks/{endpoint_id}/enable", switch, methods=["POST"]),
        Route("/webhooks/{endpoint_id}/disable", switch, methods=["POST"]),
        Route("/webhooks/{endpoint_id}/remove", remove, methods=["POST"]),
        Route("/webhooks/deliveries/{delivery_id}/resend", resend, methods=["POST"]),
    ]
