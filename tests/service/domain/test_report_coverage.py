"""Reports bounded by a set of communities (a console role's coverage) and by gender,
and the two summaries the console's overview adds: attendance by week and responses
per survey. The programme is `test_reports.build`'s, whose figures are worked out
there by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import reports
from service.models.enums import Gender
from tests.service.domain.test_reports import build, scope


def _ids(*communities: object) -> frozenset[int]:
    return frozenset(int(getattr(c, "id", 0) or 0) for c in communities)


async def test_a_set_of_communities_bounds_every_report(session: AsyncSession) -> None:
    b = await build(session)
    s = await scope(session, b, term_id=b.term_id, community_ids=_ids(b.alpha))
    attendance = await reports.attendance(session, s)
    assert [c.name for c in attendance.communities] == ["Community ALPHA"]
    assert (attendance.meetings.planned, attendance.totals.expected) == (2, 6)
    health = await reports.cop_health(session, s)
    assert [h.name for h in health] == ["Community ALPHA"]
    at_risk = await reports.members_at_risk(session, s, missed=2, offset=0, limit=10)
    assert [m.person_id for m in at_risk.members] == [b.people["Chege"].id]
    results = await reports.survey_results(session, s, "term-check", language="en", with_texts=True)
    assert results is not None
    assert (results.invited, results.completed) == (4, 3)  # Beta's Esther and Daudi left out
    assert results.questions[3].texts == ["Tulijifunza mengi"]
    sms = (await reports.messaging(session, s)).sms
    assert (sms.delivered, sms.failed, sms.dropped) == (2, 1, 0)  # Beta's SMS left out


async def test_a_filter_outside_the_set_narrows_to_nothing_never_widens(
    session: AsyncSession,
) -> None:
    b = await build(session)
    inside = _ids(b.alpha)
    for extra in (
        {"community_id": b.beta.id},
        {"district": "Siaya"},
        {"community_id": b.other.community.id},
    ):
        s = await scope(session, b, community_ids=inside, **extra)
        attendance = await reports.attendance(session, s)
        assert (attendance.communities, attendance.meetings.planned) == ([], 0), extra
        sms = (await reports.messaging(session, s)).sms
        assert sms.messages == 0, extra
        results = await reports.survey_results(
            session, s, "term-check", language="en", with_texts=True
        )
        assert results is not None and results.invited == 0, extra


async def test_an_empty_set_of_communities_shows_nothing(session: AsyncSession) -> None:
    b = await build(session)
    s = await scope(session, b, community_ids=frozenset())
    attendance = await reports.attendance(session, s)
    assert (attendance.communities, attendance.totals.members) == ([], 0)
    assert (await reports.messaging(session, s)).sms.messages == 0
    assert await reports.responses_by_survey(session, s) == {}


async def test_a_gender_counts_only_its_people(session: AsyncSession) -> None:
    b = await build(session)
    women = await scope(session, b, term_id=b.term_id, gender=Gender.female)
    attendance = await reports.attendance(session, women)
    # Amina and Beatrice (2 seats each, 4 came) and Esther (1 seat, came).
    assert (attendance.totals.members, attendance.totals.expected) == (3, 5)
    assert attendance.totals.attended == 5
    assert attendance.meetings.planned == 4  # meetings are not people: all still count
    men = await scope(session, b, term_id=b.term_id, gender=Gender.male)
    at_risk = await reports.members_at_risk(session, men, missed=2, offset=0, limit=10)
    assert [m.person_id for m in at_risk.members] == [b.people["Chege"].id]
    nobody = await reports.members_at_risk(session, women, missed=2, offset=0, limit=10)
    assert nobody.total == 0
    results = await reports.survey_results(
        session, men, "term-check", language="en", with_texts=True
    )
    assert results is not None
    assert (results.invited, results.completed) == (2, 0)  # Chege abandoned, Daudi answering
    sms = (await reports.messaging(session, women)).sms
    # Women got the two delivered SMS, Amina's sent one and Esther's unknown one, and
    # Esther's cancellation notice; Amina wrote one.
    assert (sms.delivered, sms.sent, sms.queued, sms.received) == (2, 4, 1, 1)
    assert sms.cost == {"KES": Decimal("4.0")}
    health = {h.name: h for h in await reports.cop_health(session, men)}
    assert health["Community ALPHA"].attendance_rate == 0.0  # Chege came to neither


async def test_attendance_per_week_in_the_programmes_weeks(session: AsyncSession) -> None:
    b = await build(session)
    report = await reports.attendance(
        session, await scope(session, b, term_id=b.term_id), weekly=True
    )
    weeks = report.weeks
    assert [(w.week, w.held, w.figures.attended, w.figures.expected) for w in weeks] == [
        (date(2025, 1, 20), 1, 2, 3),  # M1: Amina and Beatrice of three
        (date(2025, 2, 17), 2, 3, 5),  # M2 (Monday) and M3 (Tuesday): one week
    ]
    assert weeks[1].figures.rate == pytest.approx(0.6)
    assert (weeks[1].figures.present, weeks[1].figures.remote) == (2, 1)  # Beatrice remote
    women = await scope(session, b, community_ids=_ids(b.alpha), gender=Gender.female)
    alpha = await reports.attendance(session, women, weekly=True)
    assert [(w.figures.attended, w.figures.expected) for w in alpha.weeks] == [(2, 2), (2, 2)]
    plain = await reports.attendance(session, await scope(session, b, term_id=b.term_id))
    assert plain.weeks == [] and plain.totals == report.totals  # the same figures either way
    by_gender = await scope(session, b, term_id=b.term_id, by=reports.Breakdown.gender)
    split = await reports.attendance(session, by_gender, weekly=True)
    assert split.weeks == report.weeks and split.groups


async def test_responses_by_survey_match_the_results(session: AsyncSession) -> None:
    b = await build(session)
    s = await scope(session, b)
    counts = await reports.responses_by_survey(session, s)
    assert len(counts) == 1  # the other programme's survey of the same key is not here
    [only] = counts.values()
    assert (only.invited, only.completed, only.in_progress, only.abandoned) == (6, 4, 1, 1)
    assert only.response_rate == pytest.approx(4 / 6)
    beta = await reports.responses_by_survey(
        session, await scope(session, b, community_id=b.beta.id)
    )
    assert [(c.invited, c.completed) for c in beta.values()] == [(2, 1)]


async def test_cop_health_from_an_attendance_report_is_the_same(session: AsyncSession) -> None:
    b = await build(session)
    s = await scope(session, b, term_id=b.term_id)
    alone = await reports.cop_health(session, s)
    reused = await reports.cop_health(session, s, await reports.attendance(session, s))
    assert [(h.name, h.band, h.attendance_rate, h.held_rate, h.rating_mean) for h in alone] == [
        (h.name, h.band, h.attendance_rate, h.held_rate, h.rating_mean) for h in reused
    ]
