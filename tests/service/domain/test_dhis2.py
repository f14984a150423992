"""A term's figures per school as DHIS2 data values: the reports' own figures, a period
that holds the term, and a mapping file whose mistakes are named by line."""

from __future__ import annotations

from datetime import date

import pytest
import pytest_asyncio
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import dhis2, reports
from service.domain.dhis2 import MappingInvalid, PeriodMismatch, PeriodType, parse_mapping
from service.domain.reports import ReportFilter
from service.models import Term
from tests import factories as f
from tests.dhis2 import ELEMENTS, MAPPING, ORG_UNIT, Termly, term_with_a_held_meeting


@pytest_asyncio.fixture
async def termly(session: AsyncSession) -> Termly:
    return await term_with_a_held_meeting(session)


async def test_the_payload_carries_the_figures_the_reports_show_for_the_school(
    session: AsyncSession, termly: Termly
) -> None:
    w = termly.world
    push = await dhis2.build(session, w.programme, "Term 3", parse_mapping(MAPPING), now=f.now())
    sent = {v["dataElement"]: v["value"] for v in push.payload["dataValues"]}
    by_figure = {figure: sent.get(uid) for figure, uid in ELEMENTS.items()}

    scope = await reports.resolve(
        session,
        w.programme,
        ReportFilter(school_id=w.school.id, term_id=termly.term.id),
        now=f.now(),
    )
    shown = await reports.attendance(session, scope)
    assert by_figure["meetings_held"] == str(shown.meetings.held) == "1"
    assert by_figure["members"] == str(shown.totals.members) == "2"
    assert by_figure["attendances"] == str(shown.totals.attended) == "1"
    assert by_figure["teachers_attending"] == "1"
    assert shown.totals.rate is not None
    assert by_figure["attendance_rate"] == f"{100 * shown.totals.rate:.1f}" == "50.0"
    # Nobody was asked a survey: no rate is sent rather than a made-up zero.
    assert by_figure["survey_response_rate"] is None
    assert push.skipped == [("School SCH-1", "survey_response_rate")]
    assert {v["orgUnit"] for v in push.payload["dataValues"]} == {ORG_UNIT}
    assert {v["period"] for v in push.payload["dataValues"]} == {push.period}
    assert push.period == dhis2.term_period(termly.term, None)


def term(starts: date, ends: date) -> Term:
    return Term(programme_id=1, name="Term 1", starts_on=starts, ends_on=ends)


def test_the_period_is_the_shortest_that_holds_the_term_or_the_one_the_mapping_sets() -> None:
    assert dhis2.term_period(term(date(2026, 9, 1), date(2026, 9, 30)), None) == "202609"
    assert dhis2.term_period(term(date(2026, 7, 6), date(2026, 9, 25)), None) == "2026Q3"
    assert dhis2.term_period(term(date(2026, 1, 5), date(2026, 4, 3)), None) == "2026S1"
    assert dhis2.term_period(term(date(2026, 5, 4), date(2026, 8, 7)), None) == "2026"
    with pytest.raises(PeriodMismatch, match="crosses the end of a year"):
        dhis2.term_period(term(date(2026, 10, 19), date(2027, 3, 12)), None)
    fits = term(date(2026, 9, 1), date(2026, 9, 30))
    assert dhis2.term_period(fits, PeriodType.Yearly) == "2026"
    with pytest.raises(
        PeriodMismatch,
        match=r"spans more than one Quarterly period \(2026Q1 to 2026Q2\): set period_type to SixMonthly or Yearly",
    ):
        dhis2.term_period(term(date(2026, 1, 5), date(2026, 4, 3)), PeriodType.Quarterly)


def test_mapping_mistakes_are_listed_with_their_lines() -> None:
    text = (
        "kind,copline,dhis2\n"
        "figure,meetings_held,FTRrcoaog83\n"
        "figure,meetings_hold,FTRrcoaog84\n"
        "figure,meetings_held,FTRrcoaog85\n"
        "school,SCH-1,12345678901\n"
        "school,SCH-2,DiszpKrYNg8\n"
        "school,sch-2,DiszpKrYNg9\n"
        "setting,period_type,Weekly\n"
        "schol,SCH-3,DiszpKrYNg7\n"
        "figure,members\n"
    )
    assert parse_mapping(text).problems == [
        "line 3: unknown figure 'meetings_hold' (figures: meetings_planned, meetings_held, "
        "members, attendances, teachers_attending, attendance_rate, survey_response_rate)",
        "line 4: figure 'meetings_held' is mapped twice",
        "line 5: '12345678901' is not a DHIS2 organisation unit uid (11 letters and digits, "
        "a letter first)",
        "line 7: school 'sch-2' is mapped twice (line 6)",
        "line 8: unknown period_type 'Weekly' (Monthly, Quarterly, SixMonthly, Yearly)",
        "line 9: unknown kind 'schol' (figure, school or setting)",
        "line 10: expected 3 cells (kind,copline,dhis2), found 2",
    ]
    assert parse_mapping("a,b\n").problems == ["line 1: the header must be kind,copline,dhis2"]


async def test_a_school_the_programme_does_not_have_is_named_with_its_line(
    session: AsyncSession, termly: Termly
) -> None:
    mapping = parse_mapping(MAPPING + "school,Nowhere Primary,DiszpKrYNg9\n")
    with pytest.raises(MappingInvalid) as refused:
        await dhis2.build(session, termly.world.programme, "Term 3", mapping, now=f.now())
    assert refused.value.problems == [
        "line 9: no school 'Nowhere Primary' in ke-clusters (code or name)"
    ]
