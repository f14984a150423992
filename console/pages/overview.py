"""The overview: this term at a glance for the part of the programme a role covers.

Every figure comes from `service.domain.reports`, bounded by the viewer's coverage
(`ReportFilter.community_ids`): a filter can only narrow it. The filters are a GET
form whose choices are the districts, schools, communities and subjects inside the
coverage; any other value in the URL is refused as not found, like any id outside
it. About twenty statements whatever the size of the programme: the reports' GROUP
BYs (the weekly trend comes out of attendance's own, CoP health reuses attendance's
figures), the filter's choices and the names of the members at risk shown. With
`COPLINE_DATABASE_READ_URL` set they are all read from the replica (`Page.reads`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from babel.dates import format_date
from babel.numbers import format_currency
from cachetools import TTLCache
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console import charts
from console.auth import Page, page
from console.charts import Chart, Kind, Series
from console.i18n import _
from service.domain import reports
from service.domain.console_access import Coverage
from service.domain.errors import NotFound
from service.domain.reports import Band, ReportFilter
from service.domain.terms import term_on
from service.models import Community, CommunitySchool, Person, School, Term
from service.models.enums import Gender, Reach

T = TypeVar("T")
RECENT_DAYS = 90  # the window when no term is on
RECENT = "recent"  # the term choice meaning "the last 90 days"
AT_RISK_PAGE = 25
MISSED = 2  # held meetings in a row that put a member at risk (the API's default)
FUNNEL_STEPS = 8  # USSD screens shown, most abandoned first

GENDERS = {
    Gender.female: _("Female"),
    Gender.male: _("Male"),
    Gender.other: _("Other"),
    Gender.undisclosed: _("Undisclosed"),
}
CHANNELS = {Reach.sms: _("SMS"), Reach.whatsapp: _("WhatsApp")}
BANDS = {
    Band.HIGH: _("High"),
    Band.MEDIUM: _("Medium"),
    Band.LOW: _("Low"),
    Band.UNRATED: _("Unrated"),
}


@dataclass
class Choices:
    """What the filter form offers: only what the viewer's coverage holds."""

    districts: list[str] = field(default_factory=list)
    schools: list[tuple[int, str]] = field(default_factory=list)
    communities: list[tuple[int, str]] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    terms: list[Term] = field(default_factory=list)


@dataclass
class Chosen:
    """The filter as asked, every value checked against the choices."""

    district: str = ""
    school: int | None = None
    community: int | None = None
    subject: str = ""
    gender: Gender | None = None
    term: str = ""  # a term's id, or RECENT

    def query(self, **extra: Any) -> str:
        values = {
            "district": self.district,
            "school": self.school or "",
            "community": self.community or "",
            "subject": self.subject,
            "gender": self.gender.value if self.gender else "",
            "term": self.term,
            **extra,
        }
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


async def choices(current: Page) -> Choices:
    """Three small statements: communities, their schools, the programme's terms."""
    coverage = current.viewer.coverage
    programme_id = coverage.programme_id
    stmt = sa.select(col(Community.id), col(Community.name), col(Community.subjects)).where(
        col(Community.programme_id) == programme_id, *_covered(coverage, col(Community.id))
    )
    found = Choices()
    subjects: set[str] = set()
    for community_id, name, its_subjects in (await current.reads.execute(stmt)).all():
        found.communities.append((community_id, name))
        subjects.update(s for s in its_subjects or [] if isinstance(s, str) and s)
    found.communities.sort(key=lambda c: (c[1].casefold(), c[0]))
    found.subjects = sorted(subjects, key=str.casefold)
    schools = sa.select(col(School.id), col(School.name), col(School.district)).where(
        col(School.programme_id) == programme_id
    )
    if coverage.community_ids is not None:
        schools = schools.where(
            col(School.id).in_(
                sa.select(col(CommunitySchool.school_id)).where(
                    *_covered(coverage, col(CommunitySchool.community_id))
                )
            )
        )
    districts: set[str] = set()
    for school_id, name, district in (await current.reads.execute(schools)).all():
        found.schools.append((school_id, name))
        if district:
            districts.add(district)
    found.schools.sort(key=lambda s: (s[1].casefold(), s[0]))
    found.districts = sorted(districts, key=str.casefold)
    terms = sa.select(Term).where(col(Term.programme_id) == programme_id)
    found.terms = list(
        (await current.reads.execute(terms.order_by(col(Term.starts_on).desc()))).scalars()
    )
    return found


def _covered(coverage: Coverage, community_id: Any) -> list[Any]:
    if coverage.community_ids is None:
        return []
    return [community_id.in_(sorted(coverage.community_ids))]


def _number(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) < 12 else None


def chosen(current: Page, offered: Choices, default_term: str) -> Chosen:
    """The query's filter; a value the form does not offer is NotFound, so an id typed
    into the URL outside the viewer's coverage reveals nothing."""
    params = current.request.query_params
    asked = Chosen(term=default_term)
    if district := params.get("district", "").strip():
        if district not in offered.districts:
            raise NotFound("no such district here")
        asked.district = district
    if school := params.get("school", "").strip():
        asked.school = _number(school)
        if asked.school not in {s for s, _ in offered.schools}:
            raise NotFound("no such school here")
    if community := params.get("community", "").strip():
        asked.community = _number(community)
        if asked.community not in {c for c, _ in offered.communities}:
            raise NotFound("no such community here")
    if subject := params.get("subject", "").strip():
        if subject not in offered.subjects:
            raise NotFound("no such subject here")
        asked.subject = subject
    if gender := params.get("gender", "").strip():
        if gender not in {g.value for g in Gender}:
            raise NotFound("no such gender")
        asked.gender = Gender(gender)
    if term := params.get("term", "").strip():
        if term != RECENT and term not in {str(t.id) for t in offered.terms}:
            raise NotFound("no such term here")
        asked.term = term
    return asked


async def default_term(current: Page, today: date) -> str:
    term = await term_on(current.reads, current.viewer.programme.id or 0, today)
    return str(term.id) if term is not None else RECENT


def report_filter(coverage: Coverage, asked: Chosen, today: date) -> ReportFilter:
    recent = asked.term == RECENT
    return ReportFilter(
        district=asked.district or None,
        school_id=asked.school,
        community_id=asked.community,
        subject=asked.subject or None,
        term_id=None if recent else int(asked.term),
        since=today - timedelta(days=RECENT_DAYS - 1) if recent else None,
        until=today if recent else None,
        community_ids=coverage.community_ids,
        gender=asked.gender,
    )


@dataclass
class AtRiskRow:
    name: str
    phone: str | None
    community: str
    held: int
    attended: int
    last_attended: Any


@dataclass
class Figures:
    attendance: reports.AttendanceReport
    health: list[reports.CommunityHealth]
    at_risk: reports.AtRiskPage
    people: dict[int, Person]  # the members at risk on this page
    messaging: reports.MessagingReport
    responses: reports.ResponseCounts


def at_once(session: AsyncSession) -> bool:
    """Whether the database answers several of the page's transactions at once."""
    return session.bind is not None and session.bind.dialect.name == "postgresql"


class _FanOut:
    """How many pages are running their groups at once in this process.

    A page holds its own connection while it waits for two more. Were every
    connection of the pool held by pages waiting for more, none would ever get one;
    so at most a third of the pool fans out, and a page beyond that runs its groups
    in turn on its own connection (one event loop: no lock is needed)."""

    running = 0

    @classmethod
    def room(cls, pool_size: int) -> bool:
        return cls.running < (pool_size - 1) // 3


# A programme officer reloads the overview, flips a filter and comes back to it; the
# figures of one term hardly move in half a minute, and computing them is the page's
# whole cost (the attendance report alone is about 100 ms at 5,000 teachers). So each
# process keeps them 30 s per programme, window, filter (the coverage is part of it)
# and page of members at risk. A change is on the overview at most 30 s later.
FIGURES_FOR_S = 30
_recent: TTLCache[tuple[object, ...], Figures] = TTLCache(maxsize=256, ttl=FIGURES_FOR_S)


async def _figures(current: Page, scope: reports.ReportScope, risk_page: int) -> Figures:
    key = (scope.programme_id, scope.filter, scope.starts, scope.ends, risk_page)
    found = _recent.get(key)
    if found is None:
        found = _recent[key] = await _compute(current, scope, risk_page)
    return found


async def _compute(current: Page, scope: reports.ReportScope, risk_page: int) -> Figures:
    """Every report of the page, in three independent groups of statements.

    On PostgreSQL the groups run at once, each on a connection of its own (two more
    from the pool, for a few tens of milliseconds; see `_FanOut`), so the page waits
    for the slowest group rather than for all three in turn; the groups read in
    separate snapshots, a moment apart. SQLite takes one transaction at a time:
    there they run in turn on the page's own session.
    """

    async def attendance_and_health(
        session: AsyncSession,
    ) -> tuple[reports.AttendanceReport, list[reports.CommunityHealth]]:
        attendance = await reports.attendance(session, scope, weekly=True)
        return attendance, await reports.cop_health(session, scope, attendance)

    async def at_risk(session: AsyncSession) -> tuple[reports.AtRiskPage, dict[int, Person]]:
        found = await reports.members_at_risk(
            session, scope, missed=MISSED, offset=risk_page * AT_RISK_PAGE, limit=AT_RISK_PAGE
        )
        people: dict[int, Person] = {}
        if found.members:
            rows = await session.execute(
                sa.select(Person).where(col(Person.id).in_([m.person_id for m in found.members]))
            )
            people = {p.id: p for p in rows.scalars() if p.id is not None}
        return found, people

    async def messages_and_responses(
        session: AsyncSession,
    ) -> tuple[reports.MessagingReport, reports.ResponseCounts]:
        messaging = await reports.messaging(session, scope)
        responses = reports.ResponseCounts()
        for counts in (await reports.responses_by_survey(session, scope)).values():
            responses.add(counts)
        return messaging, responses

    async def apart(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with current.reads_beside() as session:
            return await work(session)

    session = current.reads
    if at_once(session) and _FanOut.room(current.services.settings.database_pool_size):
        _FanOut.running += 1
        try:
            (attendance, health), (risk, people), (messaging, responses) = await asyncio.gather(
                attendance_and_health(session), apart(at_risk), apart(messages_and_responses)
            )
        finally:
            _FanOut.running -= 1
    else:
        attendance, health = await attendance_and_health(session)
        risk, people = await at_risk(session)
        messaging, responses = await messages_and_responses(session)
    return Figures(attendance, health, risk, people, messaging, responses)


@page(replica=True)
async def overview(current: Page) -> Response:
    viewer = current.viewer
    programme = viewer.programme
    zone = ZoneInfo(programme.timezone)
    today = current.now.astimezone(zone).date()
    offered = await choices(current)
    asked = chosen(current, offered, await default_term(current, today))
    scope = await reports.resolve(
        current.reads, programme, report_filter(viewer.coverage, asked, today), now=current.now
    )
    risk_page = max(0, (_number(current.request.query_params.get("risk", "")) or 1) - 1)
    figures = await _figures(current, scope, risk_page)
    attendance, health, at_risk, people = (
        figures.attendance,
        figures.health,
        figures.at_risk,
        figures.people,
    )
    weeks, messaging, responses = attendance.weeks, figures.messaging, figures.responses
    names = {c.community_id: c.name for c in attendance.communities}
    risk_rows = [
        AtRiskRow(
            name=people[m.person_id].name if m.person_id in people else "",
            phone=viewer.phone(people[m.person_id].phone) if m.person_id in people else None,
            community=names.get(m.community_id, ""),
            held=m.held,
            attended=m.attended,
            last_attended=m.last_attended_at,
        )
        for m in at_risk.members
    ]
    # A community's band is worked out from its figures on each reading: once here.
    banded = [(h, h.band) for h in health]
    bands = {b: sum(1 for _, its in banded if its is b) for b in Band}
    low = sorted(
        (h for h, its in banded if its is Band.LOW),
        key=lambda h: (h.attendance_rate if h.attendance_rate is not None else 2, h.name),
    )[:10]
    language = viewer.language.value
    term = next((t for t in offered.terms if str(t.id) == asked.term), None)
    context = {
        "offered": offered,
        "asked": asked,
        "genders": [(g.value, current._(label)) for g, label in GENDERS.items()],
        "recent": RECENT,
        "term": term,
        "window": (scope.filter.since, scope.filter.until) if term is None else None,
        "meetings": attendance.meetings,
        "totals": attendance.totals,
        "charts": _charts(current, attendance, weeks, bands, messaging, language),
        "bands": [(current._(BANDS[b]), b.value, bands[b]) for b in Band],
        "low": low,
        "at_risk": at_risk,
        "risk_rows": risk_rows,
        "risk_page": risk_page + 1,
        "risk_pages": max(1, -(-at_risk.total // AT_RISK_PAGE)),
        "responses": responses,
        "sms": messaging.sms,
        "cost": _money(messaging.sms.cost, language),
        "cost_per_teacher": _money(messaging.sms.cost_per_teacher, language),
        "ussd_cost": _money(messaging.ussd.billed.cost, language),
        # Each channel's own figures; WhatsApp's row only once a programme uses it.
        "channels": [
            (current._(label), split, _money(split.cost, language))
            for reach, label in CHANNELS.items()
            if (split := messaging.channels.get(reach)) is not None
            and (reach is Reach.sms or split.messages)
        ],
        "fell_back": messaging.fell_back,
        "reach": messaging.cost,
        "each": {
            "total": _money(messaging.cost.per_teacher, language),
            "sms": _money(messaging.cost.sms_per_teacher, language),
            "ussd": _money(messaging.cost.ussd_per_teacher, language),
        },
        "timezone": programme.timezone,
    }
    return current.render("overview.html", context)


def _money(amounts: dict[str, Decimal], language: str) -> str:
    if not amounts:
        return "\N{EN DASH}"
    return ", ".join(
        format_currency(amount, currency, locale=language)
        for currency, amount in sorted(amounts.items())
    )


def _charts(
    current: Page,
    attendance: reports.AttendanceReport,
    weeks: list[reports.WeekAttendance],
    bands: dict[Band, int],
    messaging: reports.MessagingReport,
    language: str,
) -> dict[str, Chart]:
    _ = current._  # translates at once; marks for extraction as `_()` does
    no_data = _("Nothing to show yet.")
    m = attendance.meetings
    to_come = m.scheduled - m.overdue
    week_labels = tuple(format_date(w.week, "d MMM", locale=language) for w in weeks)
    sms = messaging.sms
    funnel = messaging.ussd.funnel[:FUNNEL_STEPS]
    return {
        "meetings": Chart(
            key="meetings",
            title=_("Meetings"),
            kind=Kind.horizontal_bar,
            labels=(_("Planned"), _("Held"), _("Cancelled"), _("Overdue"), _("To come")),
            series=(Series(_("Meetings"), (m.planned, m.held, m.cancelled, m.overdue, to_come)),),
            heading=_("Meetings"),
            no_data=no_data,
        ),
        "trend": Chart(
            key="attendance-trend",
            title=_("Attendance rate by week"),
            kind=Kind.line,
            labels=week_labels,
            series=(
                Series(_("Attendance rate"), tuple(w.figures.rate for w in weeks), percent=True),
            ),
            heading=_("Week beginning"),
            extra=(
                Series(_("Meetings held"), tuple(w.held for w in weeks)),
                Series(_("Attended"), tuple(w.figures.attended for w in weeks)),
                Series(_("Expected"), tuple(w.figures.expected for w in weeks)),
            ),
            no_data=no_data,
        ),
        "bands": Chart(
            key="health-bands",
            title=_("CoP health bands"),
            kind=Kind.bar,
            labels=tuple(_(BANDS[b]) for b in Band),
            series=(Series(_("Communities"), tuple(bands[b] for b in Band)),),
            heading=_("Band"),
            colours=(charts.BLUE,),
            no_data=no_data,
        ),
        "sms": Chart(
            key="sms",
            title=_("SMS by what became of them"),
            kind=Kind.horizontal_bar,
            labels=(
                _("Delivered"),
                _("Sent, no report yet"),
                _("Failed"),
                _("Not sent"),
                _("Waiting to go"),
            ),
            series=(
                Series(
                    _("SMS"),
                    (sms.delivered, sms.sent - sms.delivered, sms.failed, sms.dropped, sms.queued),
                ),
            ),
            heading=_("Status"),
            colours=(charts.BLUE,),
            no_data=no_data,
        ),
        "ussd": Chart(
            key="ussd-funnel",
            title=_("USSD sessions by the last screen seen"),
            kind=Kind.stacked_horizontal_bar,
            labels=tuple(f.screen for f in funnel),
            series=(
                Series(_("Completed"), tuple(f.completed for f in funnel)),
                Series(_("Abandoned"), tuple(f.abandoned for f in funnel)),
                Series(_("Failed"), tuple(f.failed for f in funnel)),
                Series(_("Still open"), tuple(f.open for f in funnel)),
            ),
            heading=_("Last screen"),
            colours=(charts.GREEN, charts.RED, charts.AMBER, charts.GREY),
            no_data=no_data,
        ),
    }


def routes() -> list[BaseRoute]:
    return [Route("/", overview, methods=["GET"])]
