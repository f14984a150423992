"""A term's figures per school, as DHIS2 aggregate data values (`dataValueSets`).

The programme fills a mapping file (CSV, header `kind,copline,dhis2`) saying which
DHIS2 data element takes each figure and which organisation unit is each school:

    kind,copline,dhis2
    figure,meetings_held,FTRrcoaog83
    figure,attendance_rate,eY5ehpbEsB7
    school,KSM-CEN-01,DiszpKrYNg8
    setting,period_type,Quarterly

Each figure is read from the reports the console and GraphQL show, filtered to the
school and the term (`ReportFilter(school_id=…, term_id=…)`): a school's figures are
those of the communities spanning it, as on the console's overview for that school.

The period is a DHIS2 period holding the whole term: the mapping's `period_type`
(Monthly, Quarterly, SixMonthly or Yearly: the data set's own period type) or, without
one, the shortest of them that holds it. A term that crosses that period's end is
refused, naming the types that would hold it. A rate is a percentage (0-100, one
decimal); a rate with nothing to divide by sends no value rather than a zero.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import reports
from service.domain.errors import DomainError, NotFound
from service.domain.reports import ReportFilter, ReportScope
from service.models import Programme, School, Term

# DHIS2 uids: 11 characters, a letter first.
UID = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}$")
HEADER = ["kind", "copline", "dhis2"]


class PeriodType(StrEnum):
    Monthly = "Monthly"
    Quarterly = "Quarterly"
    SixMonthly = "SixMonthly"
    Yearly = "Yearly"


def period_of(kind: PeriodType, day: date) -> str:
    """The DHIS2 period of `kind` holding `day`: 202609, 2026Q3, 2026S2, 2026."""
    match kind:
        case PeriodType.Monthly:
            return f"{day.year}{day.month:02d}"
        case PeriodType.Quarterly:
            return f"{day.year}Q{(day.month - 1) // 3 + 1}"
        case PeriodType.SixMonthly:
            return f"{day.year}S{(day.month - 1) // 6 + 1}"
        case _:
            return f"{day.year}"


PERIOD_FORMATS = {
    PeriodType.Monthly: re.compile(r"^[0-9]{4}(0[1-9]|1[0-2])$"),
    PeriodType.Quarterly: re.compile(r"^[0-9]{4}Q[1-4]$"),
    PeriodType.SixMonthly: re.compile(r"^[0-9]{4}S[12]$"),
    PeriodType.Yearly: re.compile(r"^[0-9]{4}$"),
}


def is_period(text: str) -> bool:
    return any(p.match(text) for p in PERIOD_FORMATS.values())


class PeriodMismatch(DomainError):
    code = "period_mismatch"


def term_period(term: Term, kind: PeriodType | None) -> str:
    """The one period of `kind` (the shortest that fits, without one) holding the term."""
    kinds = [kind] if kind is not None else list(PeriodType)
    for candidate in kinds:
        first, last = period_of(candidate, term.starts_on), period_of(candidate, term.ends_on)
        if first == last:
            return first
    if kind is None:  # not even a year holds it
        raise PeriodMismatch(
            f"term {term.name!r} ({term.starts_on} to {term.ends_on}) crosses the end of "
            "a year: no DHIS2 period of these types holds it; give --period"
        )
    fitting = [
        k.value for k in PeriodType if period_of(k, term.starts_on) == period_of(k, term.ends_on)
    ]
    raise PeriodMismatch(
        f"term {term.name!r} ({term.starts_on} to {term.ends_on}) spans more than one "
        f"{kind.value} period ({period_of(kind, term.starts_on)} to "
        f"{period_of(kind, term.ends_on)}): set period_type to "
        f"{' or '.join(fitting) or 'a longer type'} in the mapping, or give --period"
    )


# ---------------------------------------------------------------- figures


@dataclass(frozen=True)
class Figure:
    description: str
    percent: bool = False


FIGURES: dict[str, Figure] = {
    "meetings_planned": Figure("meetings planned in the term: scheduled, held and cancelled"),
    "meetings_held": Figure("meetings held"),
    "members": Figure("active members of the school's communities (facilitators apart)"),
    "attendances": Figure("members' attendances at held meetings (present or remote)"),
    "teachers_attending": Figure("members who attended at least one held meeting"),
    "attendance_rate": Figure("attendances / expected seats, as a percentage", percent=True),
    "survey_response_rate": Figure(
        "survey responses completed / invited, as a percentage", percent=True
    ),
}


async def figures(session: AsyncSession, scope: ReportScope) -> dict[str, float | int | None]:
    """Every figure for one scope, from the reports the console and GraphQL show."""
    attendance = await reports.attendance(session, scope)
    responses = reports.ResponseCounts()
    for counts in (await reports.responses_by_survey(session, scope)).values():
        responses.add(counts)
    rate = attendance.totals.rate
    response_rate = responses.response_rate
    return {
        "meetings_planned": attendance.meetings.planned,
        "meetings_held": attendance.meetings.held,
        "members": attendance.totals.members,
        "attendances": attendance.totals.attended,
        "teachers_attending": await reports.attendees(session, scope),
        "attendance_rate": None if rate is None else round(100 * rate, 1),
        "survey_response_rate": None if response_rate is None else round(100 * response_rate, 1),
    }


# ---------------------------------------------------------------- the mapping file


class MappingInvalid(DomainError):
    """The mapping file has mistakes: each with its line, all of them at once."""

    code = "mapping_invalid"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("the mapping file has mistakes:\n" + "\n".join(problems))
        self.problems = problems


@dataclass
class Mapping:
    """The parsed file: figure -> data element, school (code or name) -> org unit."""

    figures: dict[str, str] = field(default_factory=dict)
    schools: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # "school:<name>" -> its line
    period_type: PeriodType | None = None
    data_set: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def data_elements(self) -> set[str]:
        return set(self.figures.values())

    @property
    def org_units(self) -> set[str]:
        return set(self.schools.values())


SETTINGS = ("period_type", "data_set")


def parse_mapping(text: str) -> Mapping:
    """Read the file; every mistake is kept with its line (the caller raises them)."""
    found = Mapping()
    problems = found.problems
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        rows = list(reader)
    except csv.Error as exc:
        problems.append(f"line {reader.line_num}: not readable as CSV ({exc})")
        return found
    if not rows or [c.strip().lower() for c in rows[0]] != HEADER:
        problems.append(f"line 1: the header must be {','.join(HEADER)}")
        return found
    for line, row in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if len(cells) != 3:
            problems.append(
                f"line {line}: expected 3 cells (kind,copline,dhis2), found {len(cells)}"
            )
            continue
        kind, ours, theirs = cells[0].lower(), cells[1], cells[2]
        if kind == "figure":
            if ours not in FIGURES:
                known = ", ".join(FIGURES)
                problems.append(f"line {line}: unknown figure {ours!r} (figures: {known})")
            elif ours in found.figures:
                problems.append(f"line {line}: figure {ours!r} is mapped twice")
            elif _uid(theirs, line, "data element", problems):
                found.figures[ours] = theirs
        elif kind == "school":
            key = ours.casefold()
            if not ours:
                problems.append(f"line {line}: a school needs its code or name")
            elif f"school:{key}" in found.lines:
                problems.append(
                    f"line {line}: school {ours!r} is mapped twice "
                    f"(line {found.lines[f'school:{key}']})"
                )
            elif _uid(theirs, line, "organisation unit", problems):
                found.schools[ours] = theirs
                found.lines[f"school:{key}"] = line
        elif kind == "setting":
            _setting(found, ours, theirs, line)
        else:
            problems.append(f"line {line}: unknown kind {cells[0]!r} (figure, school or setting)")
    if not found.figures and not problems:
        problems.append("no figure rows: map at least one figure to a data element")
    if not found.schools and not problems:
        problems.append("no school rows: map at least one school to an organisation unit")
    return found


def _uid(value: str, line: int, what: str, problems: list[str]) -> bool:
    if UID.match(value):
        return True
    problems.append(
        f"line {line}: {value!r} is not a DHIS2 {what} uid (11 letters and digits, a letter first)"
    )
    return False


def _setting(found: Mapping, name: str, value: str, line: int) -> None:
    if name == "period_type":
        try:
            found.period_type = PeriodType(value)
        except ValueError:
            kinds = ", ".join(PeriodType)
            found.problems.append(f"line {line}: unknown period_type {value!r} ({kinds})")
    elif name == "data_set":
        if _uid(value, line, "data set", found.problems):
            found.data_set = value
    else:
        known = ", ".join(SETTINGS)
        found.problems.append(f"line {line}: unknown setting {name!r} (settings: {known})")


# ---------------------------------------------------------------- the payload


@dataclass(frozen=True)
class Value:
    school: str
    org_unit: str
    figure: str
    data_element: str
    value: str


@dataclass(frozen=True)
class Push:
    """What would be sent for one programme and term, and the payload itself."""

    programme: str
    term: str
    period: str
    values: list[Value]
    skipped: list[tuple[str, str]]  # (school, figure) with nothing to divide by
    payload: dict[str, Any]


async def _schools(
    session: AsyncSession, programme: Programme, mapping: Mapping
) -> list[tuple[School, str]]:
    """The mapped schools of the programme (by code or name, any case) with their org
    units, in the file's order."""
    rows = (await session.exec(select(School).where(School.programme_id == programme.id))).all()
    by_key: dict[str, School] = {}
    for row in rows:
        by_key.setdefault(row.code.casefold(), row)
        by_key.setdefault(row.name.casefold(), row)
    found: list[tuple[School, str]] = []
    problems: list[str] = []
    for name, org_unit in mapping.schools.items():
        school = by_key.get(name.casefold())
        if school is None:
            line = mapping.lines[f"school:{name.casefold()}"]
            problems.append(f"line {line}: no school {name!r} in {programme.slug} (code or name)")
        else:
            found.append((school, org_unit))
    if problems:
        raise MappingInvalid(problems)
    return found


def _format(value: float | int, percent: bool) -> str:
    if percent:
        return f"{value:.1f}"
    return str(int(value))


async def build(
    session: AsyncSession,
    programme: Programme,
    term_name: str,
    mapping: Mapping,
    *,
    period: str | None = None,
    now: datetime,
    figures_of: Callable[[AsyncSession, ReportScope], Awaitable[dict[str, Any]]] = figures,
) -> Push:
    """The data values of every mapped school and figure for the term."""
    assert programme.id is not None
    if mapping.problems:
        raise MappingInvalid(mapping.problems)
    term = (
        await session.exec(
            select(Term).where(Term.programme_id == programme.id, Term.name == term_name)
        )
    ).first()
    if term is None or term.id is None:
        known = (
            await session.exec(
                select(Term.name)
                .where(Term.programme_id == programme.id)
                .order_by(col(Term.starts_on))
            )
        ).all()
        listed = ", ".join(repr(n) for n in known) or "none yet"
        raise NotFound(f"no term named {term_name!r} in {programme.slug} (terms: {listed})")
    if period is not None:
        if not is_period(period):
            raise PeriodMismatch(
                f"{period!r} is not a DHIS2 period: 202609 (monthly), 2026Q3, 2026S2 or 2026"
            )
        chosen = period
    else:
        chosen = term_period(term, mapping.period_type)
    values: list[Value] = []
    skipped: list[tuple[str, str]] = []
    for school, org_unit in await _schools(session, programme, mapping):
        assert school.id is not None
        f = ReportFilter(school_id=school.id, term_id=term.id)
        scope = await reports.resolve(session, programme, f, now=now)
        found = await figures_of(session, scope)
        for figure, element in mapping.figures.items():
            value = found[figure]
            if value is None:
                skipped.append((school.name, figure))
                continue
            text = _format(value, FIGURES[figure].percent)
            values.append(Value(school.name, org_unit, figure, element, text))
    payload: dict[str, Any] = {}
    if mapping.data_set is not None:
        payload["dataSet"] = mapping.data_set
        payload["completeDate"] = now.astimezone(ZoneInfo(programme.timezone)).date().isoformat()
    payload["period"] = chosen
    payload["dataValues"] = [
        {"dataElement": v.data_element, "period": chosen, "orgUnit": v.org_unit, "value": v.value}
        for v in values
    ]
    return Push(programme.slug, term.name, chosen, values, skipped, payload)
