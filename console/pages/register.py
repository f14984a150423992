"""A meeting's register as a grid a facilitator fills from the paper one, and the list of
registers that can be filled now (the last 30 days' meetings), one tap from a phone."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.auth import Page, page
from console.i18n import _
from service.domain.errors import NotFound, ValidationError
from service.domain.lookup import get_owned
from service.domain.register import (
    REGISTER_DAYS,
    RegisterState,
    joined_since,
    may_fill,
    recent_registers,
    record_register,
    register_rows,
    register_state,
)
from service.models import Community, Meeting
from service.models.enums import MeetingStatus, Modality, Presence, Scope

PER_PAGE = 50
FIELD = re.compile(r"p([0-9]{1,12})")  # one radio group per person: p<person id>

PRESENCE_LABELS = {
    Presence.present: _("Present"),
    Presence.remote: _("Remote"),
    Presence.absent: _("Absent"),
    Presence.unknown: _("Not marked"),
}
WHY_READ_ONLY = {
    RegisterState.cancelled: _("This meeting was cancelled, so its register cannot be filled in."),
    RegisterState.not_started: _(
        "This meeting has not started yet: its register opens an hour before it starts."
    ),
    RegisterState.too_old: _(
        "This meeting began more than %(days)s days ago: its register can no longer be changed."
    ),
}
NOT_FACILITATOR = _("Only the community's facilitators can fill in its register.")
STATUS_LABELS = {
    MeetingStatus.scheduled: _("Scheduled"),
    MeetingStatus.held: _("Held"),
    MeetingStatus.cancelled: _("Cancelled"),
}


def register_url(meeting_id: int) -> str:
    return f"/meetings/{meeting_id}/register"


def _page_number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and 0 < int(value) < 10_000 else 1


async def _covered_meeting(current: Page, meeting_id: int) -> tuple[Meeting, Community]:
    """The meeting if it is this programme's and in the viewer's communities; NotFound
    (as for a missing id) otherwise."""
    programme_id = current.viewer.programme.id
    assert programme_id is not None
    meeting = await get_owned(current.session, Meeting, meeting_id, programme_id)
    if not current.viewer.coverage.covers(meeting.community_id):
        raise NotFound(f"meeting {meeting_id} not found", id=meeting_id)
    community = await current.session.get(Community, meeting.community_id)
    assert community is not None
    return meeting, community


@page()
async def registers(current: Page) -> Response:
    programme_id = current.viewer.programme.id
    assert programme_id is not None
    number = _page_number(current.request.query_params.get("page"))
    found, total = await recent_registers(
        current.session,
        programme_id,
        current.viewer.coverage.community_ids,
        now=current.now,
        offset=(number - 1) * PER_PAGE,
        limit=PER_PAGE,
    )
    return current.render(
        "registers.html",
        {
            "registers": found,
            "total": total,
            "page": number,
            "pages": max(1, -(-total // PER_PAGE)),
            "days": REGISTER_DAYS,
            "timezone": current.viewer.programme.timezone,
            "register_url": register_url,
        },
    )


@page()
async def show_register(current: Page) -> Response:
    meeting, community = await _covered_meeting(current, current.request.path_params["id"])
    assert meeting.id is not None
    session = current.session
    rows = await register_rows(session, meeting)
    state = register_state(meeting, current.now)
    why: str | None = None
    if state is not RegisterState.open:
        why = current._(WHY_READ_ONLY[state], days=REGISTER_DAYS)
    elif not current.viewer.has(Scope.write) or not await may_fill(
        session, meeting, current.viewer.coverage.actor()
    ):
        why = current._(NOT_FACILITATOR)
    choices = [Presence.present, Presence.remote, Presence.absent, Presence.unknown]
    in_person = meeting.modality is Modality.in_person
    marked = sum(1 for row in rows if row.presence is not Presence.unknown)
    grid: list[dict[str, Any]] = [
        {
            "id": row.person_id,
            "name": row.name,
            "phone": current.viewer.phone(row.phone),
            "facilitator": row.role.value == "facilitator",
            "active": row.active,
            "presence": row.presence.value,
            "label": current._(PRESENCE_LABELS[row.presence]),
            # In person, nobody can be remote: offer it only to keep a mark made before.
            "choices": [
                (c.value, current._(PRESENCE_LABELS[c]))
                for c in choices
                if not (in_person and c is Presence.remote and row.presence is not c)
            ],
        }
        for row in rows
    ]
    return current.render(
        "register.html",
        {
            "meeting": meeting,
            "community": community,
            "status": current._(STATUS_LABELS[meeting.status]),
            "grid": grid,
            "editable": why is None,
            "why": why,
            "marked": marked,
            "joined_since": await joined_since(session, meeting),
            "timezone": current.viewer.programme.timezone,
            "action": register_url(meeting.id),
        },
    )


@page(scope=Scope.write)
async def save_register(current: Page) -> Response:
    meeting, _community = await _covered_meeting(current, current.request.path_params["id"])
    assert meeting.id is not None
    marks: dict[int, Presence] = {}
    for key, value in (await current.form()).multi_items():
        found = FIELD.fullmatch(key)
        if found is None:
            continue  # the CSRF token
        try:
            marks[int(found.group(1))] = Presence(value if isinstance(value, str) else "")
        except ValueError:
            raise ValidationError(
                "a mark is present, remote, absent or unknown", field=key
            ) from None
    saved = await record_register(
        current.viewer.programme,
        meeting.id,
        marks,
        session=current.session,
        actor=current.viewer.coverage.actor(),
        now=current.now,
    )
    notice = current._("Register saved. Marks changed: %(n)s.", n=saved.changed)
    if saved.held:
        notice += " " + current._("The meeting is now marked as held.")
    return current.redirect(register_url(meeting.id), notice=notice)


def routes() -> list[BaseRoute]:
    return [
        Route("/register", registers, methods=["GET"]),
        Route("/meetings/{id:int}/register", show_register, methods=["GET"]),
        Route("/meetings/{id:int}/register", save_register, methods=["POST"]),
    ]
