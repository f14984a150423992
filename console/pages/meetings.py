"""One meeting: its RSVPs, and moving, cancelling or editing it.

Members are told of a move or a cancellation exactly as when a facilitator does it by
USSD or SMS (the domain queues the notices); the page then says what became of them:
going out now, held for quiet hours until a time, or sent to nobody.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.auth import Page, page
from console.pages import community_reads as reads
from console.pages.communities import path_id
from console.pages.community_forms import (
    attempt,
    local,
    parse_day,
    parse_time,
    shown,
    told_text,
)
from service.domain.errors import DomainError
from service.domain.meetings import (
    ACTIVITY_LINK_MAX,
    ACTIVITY_MAX,
    ACTIVITY_PAGE_MAX,
    MeetingChange,
    MeetingEdit,
    cancel_meeting,
    check_link,
    reschedule_meeting,
    update_meeting,
)
from service.models import Community, Meeting, Term
from service.models.enums import MeetingStatus, Modality, Scope


async def _meeting_page(
    current: Page,
    meeting: Meeting,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    assert meeting.id is not None
    community = await current.session.get(Community, meeting.community_id)
    term = await current.session.get(Term, meeting.term_id) if meeting.term_id else None
    figures = await reads.figures_of(current.session, meeting.community_id, [meeting.id])
    timezone = current.viewer.programme.timezone
    starts = local(meeting.starts_at, timezone)
    values = {
        "day": starts.date().isoformat(),
        "time": starts.strftime("%H:%M"),
        "venue": meeting.venue or "",
        "agenda": meeting.agenda or "",
        "activity": meeting.activity or "",
        "activity_link": meeting.activity_link or "",
        "activity_page": str(meeting.activity_page or ""),
        "modality": meeting.modality.value,
        "reason": "",
    }
    values.update(typed or {})
    return current.render(
        "meeting.html",
        {
            "meeting": meeting,
            "community": community,
            "term": term,
            "figures": figures[meeting.id],
            **shown(current),
            "minutes": int((meeting.ends_at - meeting.starts_at).total_seconds() // 60),
            "open": meeting.status is MeetingStatus.scheduled,
            "over": meeting.ends_at <= current.now,
            "values": values,
            "errors": errors or {},
            "modalities": [m.value for m in Modality],
        },
        status_code=status_code,
    )


def meeting_url(meeting: Meeting) -> str:
    return f"/meetings/{meeting.id}"


@page()
async def meeting_detail(current: Page) -> Response:
    meeting = await reads.covered_meeting(current, path_id(current, "meeting_id"))
    return await _meeting_page(current, meeting)


async def _refused(
    current: Page, meeting: Meeting, form: str, exc: DomainError, typed: dict[str, str]
) -> Response:
    await current.session.refresh(meeting)  # the savepoint's rollback expired it
    return await _meeting_page(
        current, meeting, typed=typed, errors={form: current.error(exc)}, status_code=422
    )


@page(scope=Scope.write)
async def move(current: Page) -> Response:
    meeting = await reads.covered_meeting(current, path_id(current, "meeting_id"))
    assert meeting.id is not None
    programme = current.viewer.programme
    form = await current.form()
    typed = {name: str(form.get(name, "")).strip()[:200] for name in ("day", "time", "venue")}
    day, at = parse_day(typed["day"]), parse_time(typed["time"])
    if day is None or at is None:
        error = current._("Give the new day and time, e.g. 2026-04-07 and 14:30.")
        return await _meeting_page(
            current, meeting, typed=typed, errors={"move": error}, status_code=422
        )
    starts_at = datetime.combine(day, at, tzinfo=ZoneInfo(programme.timezone))
    actor = current.viewer.coverage.actor()
    changes: list[MeetingChange] = []
    venue_changed = typed["venue"] != (meeting.venue or "")

    async def work() -> None:
        assert meeting.id is not None
        if venue_changed:
            edit = MeetingEdit(venue=typed["venue"])
            await update_meeting(
                programme, meeting.id, edit, session=current.session, actor=actor, now=current.now
            )
        if starts_at != meeting.starts_at:
            change = await reschedule_meeting(
                programme,
                meeting.id,
                starts_at,
                session=current.session,
                actor=actor,
                now=current.now,
            )
            changes.append(change)

    refused = await attempt(current.session, work)
    if refused is not None:
        return await _refused(current, meeting, "move", refused, typed)
    if not changes and not venue_changed:
        return current.redirect(meeting_url(meeting), notice=current._("Nothing changed."))
    told = changes[0].told if changes else None
    if told is None:
        notice = current._("The meeting's venue was changed. Members are not sent an SMS for it.")
    else:
        notice = current._("The meeting was moved.") + " " + told_text(current, told)
    return current.redirect(meeting_url(meeting), notice=notice)


@page(scope=Scope.write)
async def cancel(current: Page) -> Response:
    meeting = await reads.covered_meeting(current, path_id(current, "meeting_id"))
    form = await current.form()
    reason = str(form.get("reason", "")).strip()[:200]
    changes: list[MeetingChange] = []

    async def work() -> None:
        assert meeting.id is not None
        change = await cancel_meeting(
            current.viewer.programme,
            meeting.id,
            reason,
            session=current.session,
            actor=current.viewer.coverage.actor(),
            now=current.now,
        )
        changes.append(change)

    refused = await attempt(current.session, work)
    if refused is not None:
        return await _refused(current, meeting, "cancel", refused, {"reason": reason})
    notice = current._("The meeting was cancelled.") + " " + told_text(current, changes[0].told)
    return current.redirect(meeting_url(meeting), notice=notice)


def _activity(current: Page, form: Any) -> tuple[dict[str, str], dict[str, Any], str | None]:
    """The activity fields as typed, as values for the domain, and what is wrong with
    them in the reader's words (the domain would refuse the same, in English)."""
    typed = {
        name: str(form.get(name, "")).strip()[:200]
        for name in ("activity", "activity_link", "activity_page")
    }
    values: dict[str, Any] = {name: typed[name] for name in ("activity", "activity_link")}
    if len(typed["activity"]) > ACTIVITY_MAX:
        return (
            typed,
            values,
            current._(
                "The activity's title can be at most %(count)s characters.", count=ACTIVITY_MAX
            ),
        )
    try:
        check_link(typed["activity_link"])
        link_ok = len(typed["activity_link"]) <= ACTIVITY_LINK_MAX
    except ValueError:
        link_ok = False
    if not link_ok:
        return (
            typed,
            values,
            current._(
                "The activity link must be a web address starting with http:// or https://, "
                "at most %(count)s characters.",
                count=ACTIVITY_LINK_MAX,
            ),
        )
    page_typed = typed["activity_page"]
    if page_typed:
        number = int(page_typed) if page_typed.isascii() and page_typed.isdigit() else 0
        if not 1 <= number <= ACTIVITY_PAGE_MAX:
            return (
                typed,
                values,
                current._(
                    "The toolkit page must be a whole number from 1 to %(max)s.",
                    max=ACTIVITY_PAGE_MAX,
                ),
            )
        values["activity_page"] = number
    else:
        values["activity_page"] = None
    if (typed["activity_link"] or page_typed) and not typed["activity"]:
        return typed, values, current._("Give the activity's title with its link or page.")
    return typed, values, None


@page(scope=Scope.write)
async def edit(current: Page) -> Response:
    meeting = await reads.covered_meeting(current, path_id(current, "meeting_id"))
    form = await current.form()
    typed, values, wrong = _activity(current, form)
    typed["agenda"] = values["agenda"] = str(form.get("agenda", "")).strip()[:600]
    modality = str(form.get("modality", ""))
    if modality in Modality.__members__:
        typed["modality"] = values["modality"] = modality
    if wrong is not None:
        return await _meeting_page(
            current, meeting, typed=typed, errors={"edit": wrong}, status_code=422
        )

    async def work() -> None:
        assert meeting.id is not None
        await update_meeting(
            current.viewer.programme,
            meeting.id,
            MeetingEdit(**values),
            session=current.session,
            actor=current.viewer.coverage.actor(),
            now=current.now,
        )

    refused = await attempt(current.session, work)
    if refused is not None:
        return await _refused(current, meeting, "edit", refused, typed)
    return current.redirect(meeting_url(meeting), notice=current._("The meeting was updated."))


def routes() -> list[BaseRoute]:
    return [
        Route("/meetings/{meeting_id:int}", meeting_detail, methods=["GET"]),
        Route("/meetings/{meeting_id:int}/move", move, methods=["POST"]),
        Route("/meetings/{meeting_id:int}/cancel", cancel, methods=["POST"]),
        Route("/meetings/{meeting_id:int}/edit", edit, methods=["POST"]),
    ]
