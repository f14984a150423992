"""Scheduling a term's series for one community: a weekday and time across a term,
skipping the closed days (public holidays) typed in, spread as the domain spreads it."""

from __future__ import annotations

from datetime import date
from typing import Any

from babel.dates import format_date, get_day_names
from sqlmodel import col, select
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.auth import Page, page
from console.pages import community_reads as reads
from console.pages.communities import path_id
from console.pages.community_forms import (
    MAX_CLOSED_DAYS,
    attempt,
    local,
    parse_closed_days,
    parse_day,
    parse_time,
)
from service.domain.errors import DomainError, MeetingClash, NotEnoughDates
from service.domain.meetings import SeriesInput, schedule_term_meetings
from service.domain.terms import TermInput, create_term
from service.models import Community, Meeting, Term
from service.models.enums import Modality, Scope

NEW_TERM = "new"
FIELDS = (
    "term", "term_name", "term_starts", "term_ends", "weekday", "time", "duration", "count",
    "modality", "venue", "agenda", "closed_days",
)  # fmt: skip


def _today(current: Page) -> date:
    return local(current.now, current.viewer.programme.timezone).date()


async def _terms(current: Page) -> list[Term]:
    """The programme's terms not over yet, the current one first."""
    stmt = (
        select(Term)
        .where(
            col(Term.programme_id) == current.viewer.coverage.programme_id,
            col(Term.ends_on) >= _today(current),
        )
        .order_by(col(Term.starts_on))
        .limit(20)
    )
    return list((await current.session.exec(stmt)).all())


async def _form(
    current: Page,
    community: Community,
    typed: dict[str, str],
    errors: list[str],
    *,
    status_code: int = 200,
) -> Response:
    terms = await _terms(current)
    may_create = current.viewer.coverage.whole_programme
    values = dict.fromkeys(FIELDS, "") | {
        "term": str(terms[0].id) if terms else (NEW_TERM if may_create else ""),
        "weekday": "1",
        "time": "14:00",
        "duration": "90",
        "count": str(community.meetings_per_term or 3),
        "modality": Modality.in_person.value,
    }
    values.update({k: v for k, v in typed.items() if v or k == "closed_days"})
    days = get_day_names("wide", locale=current.viewer.language.value)
    return current.render(
        "community_schedule.html",
        {
            "community": community,
            "terms": terms,
            "may_create": may_create,
            "values": values,
            "errors": errors,
            "weekdays": [(str(i), days[i]) for i in range(7)],
            "modalities": [m.value for m in Modality],
            "new_term": NEW_TERM,
        },
        status_code=status_code,
    )


@page(scope=Scope.write)
async def schedule_form(current: Page) -> Response:
    community = await reads.covered_community(current, path_id(current, "community_id"))
    return await _form(current, community, {}, [])


def _number(text: str, low: int, high: int) -> int | None:
    text = text.strip()
    if not text.isdigit() or not low <= int(text) <= high:
        return None
    return int(text)


def _read(current: Page, typed: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The form's values for the domain, and what is wrong with them in the viewer's words."""
    _ = current._
    errors: list[str] = []
    values: dict[str, Any] = {}
    if typed["term"] == NEW_TERM and current.viewer.coverage.whole_programme:
        starts, ends = parse_day(typed["term_starts"]), parse_day(typed["term_ends"])
        if not typed["term_name"]:
            errors.append(_("Give the new term a name."))
        if starts is None or ends is None:
            errors.append(_("Give the new term's first and last days, e.g. 2026-04-07."))
        elif ends < starts or (ends - starts).days > 200:
            errors.append(_("The term must end after it starts, and last at most 200 days."))
        values["new_term"] = (typed["term_name"][:60], starts, ends)
    elif typed["term"].isdigit():
        values["term_id"] = int(typed["term"])
    else:
        errors.append(_("Choose a term."))
    values["weekday"] = _number(typed["weekday"], 0, 6)
    if values["weekday"] is None:
        errors.append(_("Choose a day of the week."))
    values["local_time"] = parse_time(typed["time"])
    if values["local_time"] is None:
        errors.append(_("Give the time the meetings start, e.g. 14:30."))
    values["duration_minutes"] = _number(typed["duration"], 15, 12 * 60)
    if values["duration_minutes"] is None:
        errors.append(_("A meeting lasts 15 to 720 minutes."))
    values["count"] = _number(typed["count"], 1, 30)
    if values["count"] is None:
        errors.append(_("Give the number of meetings, 1 to 30."))
    modality = typed["modality"]
    values["modality"] = Modality(modality) if modality in Modality.__members__ else None
    values["venue"] = typed["venue"][:200] or None
    values["agenda"] = typed["agenda"][:500] or None
    closed, wrong = parse_closed_days(typed["closed_days"])
    if wrong:
        errors.append(
            _(
                "These closed days are not dates: %(words)s. Write each like 2026-04-07, one a "
                "line or separated by commas.",
                words=", ".join(wrong[:5]),
            )
        )
    if len(closed) > MAX_CLOSED_DAYS:
        errors.append(_("At most 200 closed days."))
    values["closed_days"] = closed
    return values, errors


def _refusal(current: Page, exc: DomainError) -> str:
    if isinstance(exc, NotEnoughDates):
        return current._(
            "Only %(available)s suitable days are left in this term for %(requested)s meetings, "
            "once past days and closed days are left out. Choose fewer meetings, another day "
            "of the week or another term.",
            available=exc.params.get("available", 0),
            requested=exc.params.get("requested", 0),
        )
    if isinstance(exc, MeetingClash) and "starts_at" in exc.params:
        day = local(exc.params["starts_at"], current.viewer.programme.timezone).date()
        return current._(
            "On %(day)s the community already has a meeting at that time. Choose another time "
            "or day of the week, or add that day to the closed days.",
            day=format_date(day, "medium", locale=current.viewer.language.value),
        )
    return current.error(exc)


@page(scope=Scope.write)
async def schedule(current: Page) -> Response:
    community = await reads.covered_community(current, path_id(current, "community_id"))
    assert community.id is not None
    community_id = community.id
    form = await current.form()
    typed = {name: str(form.get(name, "")).strip()[:4000] for name in FIELDS}
    values, errors = _read(current, typed)
    if errors:
        return await _form(current, community, typed, errors, status_code=422)
    programme = current.viewer.programme
    actor = current.viewer.coverage.actor()
    scheduled: list[Meeting] = []

    async def work() -> None:
        term_id = values.get("term_id")
        if "new_term" in values:
            name, starts_on, ends_on = values["new_term"]
            term = await create_term(
                programme,
                TermInput(name=name, starts_on=starts_on, ends_on=ends_on),
                session=current.session,
                actor=actor,
            )
            term_id = term.id
        series = SeriesInput(
            community_id=community_id,
            term_id=term_id,
            weekday=values["weekday"],
            local_time=values["local_time"],
            count=values["count"],
            duration_minutes=values["duration_minutes"],
            modality=values["modality"] or Modality.in_person,
            venue=values["venue"],
            agenda=values["agenda"],
            closed_days=values["closed_days"],
        )
        made = await schedule_term_meetings(
            programme, series, session=current.session, actor=actor, now=current.now
        )
        scheduled.extend(made)

    refused = await attempt(current.session, work)
    if refused is not None:
        return await _form(current, community, typed, [_refusal(current, refused)], status_code=422)
    days = ", ".join(
        format_date(
            local(m.starts_at, programme.timezone).date(),
            "medium",
            locale=current.viewer.language.value,
        )
        for m in scheduled
    )
    notice = current._("%(count)s meetings scheduled: %(days)s.", count=len(scheduled), days=days)
    return current.redirect(f"/communities/{community_id}", notice=notice)


def routes() -> list[BaseRoute]:
    return [
        Route("/communities/{community_id:int}/schedule", schedule_form, methods=["GET"]),
        Route("/communities/{community_id:int}/schedule", schedule, methods=["POST"]),
    ]
