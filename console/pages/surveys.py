"""Surveys: each survey's response rate, its results per question, and inviting its
audience now or at a set time (programme time; the worker sends it then, once).

Results count the responses within the viewer's coverage only (a facilitator's or a
school leader's communities: answers given at their meetings or by their members),
as `service.domain.reports` does for any filter. A survey aimed at one community
outside the coverage is not found. Free-text answers are shown to roles holding
`read:pii`; the others see how many there are.

The results are read from the replica (`Page.reads`, with `COPLINE_DATABASE_READ_URL`
set); the survey itself and its set time from the primary, so the page after an
invitation or a set time shows it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import col
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.auth import Page, page
from console.charts import Chart, Kind, Series
from console.i18n import _
from console.pages.community_forms import attempt, local, parse_day, parse_time, shown
from service.domain import reports
from service.domain.errors import NotAllowed, NotFound
from service.domain.lookup import get_owned
from service.domain.outbox import Fate
from service.domain.reports import ReportFilter
from service.domain.survey_dispatch import can_invite_now, invite_now
from service.domain.survey_schedule import cancel_invitation, schedule_invitation
from service.domain.surveys import in_language
from service.models import Survey
from service.models.enums import QuestionKind, Scope, SurveyStatus

STATUSES = {
    SurveyStatus.draft: _("Draft"),
    SurveyStatus.active: _("Open"),
    SurveyStatus.closed: _("Closed"),
}
KINDS = {
    QuestionKind.single_choice: _("One choice"),
    QuestionKind.yes_no: _("Yes or no"),
    QuestionKind.rating: _("Rating from 1 to 5"),
    QuestionKind.number: _("Number"),
    QuestionKind.short_text: _("Short text"),
}


@dataclass
class Row:
    survey: Survey
    title: str
    status: str
    counts: reports.ResponseCounts


def _title(current: Page, survey: Survey) -> str:
    programme = current.viewer.programme
    texts = survey.title or {}
    return in_language(texts, current.viewer.language.value, programme.default_language.value) or (
        survey.key
    )


async def _scope(current: Page) -> reports.ReportScope:
    coverage = current.viewer.coverage
    return await reports.resolve(
        current.reads,
        current.viewer.programme,
        ReportFilter(community_ids=coverage.community_ids),
        now=current.now,
    )


def _visible(current: Page, survey: Survey) -> bool:
    return survey.community_id is None or current.viewer.coverage.covers(survey.community_id)


async def _survey(current: Page) -> Survey:
    """The survey in the URL, if this programme's and within the viewer's coverage."""
    raw = str(current.request.path_params.get("survey_id", ""))
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise NotFound("no such survey")
    survey = await get_owned(
        current.session, Survey, int(raw), current.viewer.coverage.programme_id
    )
    if not _visible(current, survey):
        raise NotFound("no such survey")
    return survey


@page(replica=True)
async def survey_list(current: Page) -> Response:
    programme_id = current.viewer.coverage.programme_id
    found = await current.session.execute(
        sa.select(Survey)
        .where(col(Survey.programme_id) == programme_id)
        .order_by(col(Survey.key), col(Survey.version).desc())
    )
    surveys = [s for s in found.scalars() if _visible(current, s)]
    counts = await reports.responses_by_survey(current.reads, await _scope(current))
    rows = [
        Row(
            survey=s,
            title=_title(current, s),
            status=current._(STATUSES[s.status]),
            counts=counts.get(s.id or 0, reports.ResponseCounts()),
        )
        for s in surveys
    ]
    return current.render("surveys.html", {"rows": rows})


def _chart(current: Page, result: reports.QuestionResult) -> Chart | None:
    if not result.options:
        return None
    _ = current._  # translates at once; marks for extraction as `_()` does
    names = {"yes": _("Yes"), "no": _("No")}
    labels = tuple(a.label or names.get(a.value, a.value) for a in result.options)
    return Chart(
        key=f"q-{result.position}",
        title=result.text or _("Question %(n)s", n=result.position),
        kind=Kind.horizontal_bar,
        labels=labels,
        series=(Series(_("Answers"), tuple(a.count for a in result.options)),),
        heading=_("Answer"),
        extra=(
            Series(
                _("Share"),
                tuple(None if a.percent is None else a.percent / 100 for a in result.options),
                percent=True,
            ),
        ),
        no_data=_("Nobody has answered yet."),
    )


def _pending(survey: Survey) -> datetime | None:
    """When the survey is set to be sent, if it has not been yet."""
    return survey.send_at if survey.sent_at is None else None


def _may_schedule(current: Page, survey: Survey) -> bool:
    """A time set for communities beyond the viewer's coverage is theirs who set it: a
    facilitator neither moves nor cancels a programme-wide sending."""
    coverage = current.viewer.coverage
    if _pending(survey) is None or coverage.whole_programme:
        return True
    mine = coverage.community_ids or frozenset()
    return survey.send_to is not None and set(survey.send_to) <= set(mine)


@page(replica=True)
async def survey_detail(current: Page) -> Response:
    return await _detail(current, await _survey(current))


async def _detail(
    current: Page,
    survey: Survey,
    *,
    typed: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    viewer = current.viewer
    scope = await _scope(current)
    results = None
    for reads in dict.fromkeys((current.reads, current.session)):
        # A survey made a moment ago may not have reached the replica yet: then the
        # primary, where it was just read, has its (empty) results.
        results = await reports.survey_results(
            reads,
            scope,
            survey.key,
            survey.version,
            language=viewer.language.value,
            with_texts=viewer.has(Scope.read_pii),
        )
        if results is not None:
            break
    assert results is not None  # the survey exists: it was just read
    questions: list[dict[str, Any]] = [
        {
            "result": q,
            "kind": current._(KINDS[q.kind]),
            "chart": _chart(current, q),
        }
        for q in results.questions
    ]
    context = {
        "survey": survey,
        "title": _title(current, survey),
        "status": current._(STATUSES[survey.status]),
        "results": results,
        "questions": questions,
        "can_invite": viewer.has(Scope.sms_send) and can_invite_now(survey),
        "invite_allowed": viewer.has(Scope.sms_send),
        "whole": viewer.coverage.whole_programme,
        **shown(current),
        "pending": _pending(survey),
        "may_schedule": _may_schedule(current, survey),
        "schedule": typed or _schedule_values(current, survey),
        "schedule_error": error,
    }
    return current.render("survey.html", context, status_code=status_code)


def _schedule_values(current: Page, survey: Survey) -> dict[str, str]:
    pending = _pending(survey)
    if pending is None:
        return {"day": "", "time": ""}
    at = local(pending, current.viewer.programme.timezone)
    return {"day": at.date().isoformat(), "time": at.strftime("%H:%M")}


@page(scope=Scope.sms_send)
async def invite(current: Page) -> Response:
    survey = await _survey(current)
    viewer = current.viewer
    done = await invite_now(
        current.session,
        viewer.programme,
        survey,
        viewer.coverage.community_ids,
        current.now,
        viewer.coverage.actor(),
    )
    fate = done.sent.fate(current.now)
    if not done.people:
        notice = current._(
            "Everyone in the audience has been invited already; nobody new to invite."
        )
    elif fate is Fate.held:
        notice = current._(
            "%(n)s people invited. Their SMS wait for the end of quiet hours.", n=done.people
        )
    else:
        notice = current._("%(n)s people invited. Their SMS are on the way.", n=done.people)
    return current.redirect(f"/surveys/{survey.id}", notice=notice)


@page(scope=Scope.sms_send)
async def schedule(current: Page) -> Response:
    survey = await _survey(current)
    viewer = current.viewer
    if not _may_schedule(current, survey):
        raise NotAllowed("its time was set for communities beyond yours")
    form = await current.form()
    typed = {name: str(form.get(name, "")).strip()[:20] for name in ("day", "time")}
    day, at = parse_day(typed["day"]), parse_time(typed["time"])
    if day is None or at is None:
        error = current._("Give the day and time to send it, e.g. 2026-04-07 and 14:30.")
        return await _detail(current, survey, typed=typed, error=error, status_code=422)
    send_at = datetime.combine(day, at, tzinfo=ZoneInfo(viewer.programme.timezone))

    async def work() -> None:
        await schedule_invitation(
            current.session,
            viewer.programme,
            survey,
            send_at,
            viewer.coverage.community_ids,
            current.now,
            viewer.coverage.actor(),
        )

    refused = await attempt(current.session, work)
    if refused is not None:
        await current.session.refresh(survey)  # the savepoint's rollback expired it
        error = current.error(refused)
        return await _detail(current, survey, typed=typed, error=error, status_code=422)
    when = shown(current)["when"](send_at)
    notice = current._("The survey will be sent on %(when)s.", when=when)
    return current.redirect(f"/surveys/{survey.id}", notice=notice)


@page(scope=Scope.sms_send)
async def cancel_schedule(current: Page) -> Response:
    survey = await _survey(current)
    if not _may_schedule(current, survey):
        raise NotAllowed("its time was set for communities beyond yours")
    viewer = current.viewer
    await cancel_invitation(
        current.session, viewer.programme, survey, current.now, viewer.coverage.actor()
    )
    notice = current._("The set time was cancelled: the survey will not be sent then.")
    return current.redirect(f"/surveys/{survey.id}", notice=notice)


def routes() -> list[BaseRoute]:
    return [
        Route("/surveys", survey_list, methods=["GET"]),
        Route("/surveys/{survey_id}", survey_detail, methods=["GET"]),
        Route("/surveys/{survey_id}/invite", invite, methods=["POST"]),
        Route("/surveys/{survey_id}/schedule", schedule, methods=["POST"]),
        Route("/surveys/{survey_id}/schedule/cancel", cancel_schedule, methods=["POST"]),
    ]
