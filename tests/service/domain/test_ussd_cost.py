"""A USSD session costs the programme's price once, or per 20 seconds begun, as the
network bills; cost per teacher counts it beside SMS, over everyone reached by either.

The programme is the one built in test_reports.py: in its term SMS cost 4.0 KES and
reached Amina, Beatrice and Esther.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import reports
from service.domain.programmes import ProgrammeSettings, update_programme
from service.domain.ussd_billing import units_of
from service.models import Programme, UssdSession
from service.models.enums import UssdBilling, UssdOutcome
from tests import factories as f
from tests.service.domain.test_reports import Built, build, scope

IN_TERM = datetime(2025, 2, 3, 8, 0, tzinfo=UTC)
AFTER_TERM = datetime(2025, 5, 2, 8, 0, tzinfo=UTC)
_ids = iter(range(1, 1_000_000))


def dial(
    prog: Programme,
    person_id: int | None,
    duration_ms: int | None,
    at: datetime = IN_TERM,
    outcome: UssdOutcome = UssdOutcome.completed,
) -> UssdSession:
    assert prog.id is not None
    return UssdSession(
        session_id=f"ATUid_{next(_ids)}",
        programme_id=prog.id,
        person_id=person_id,
        phone="+254722000000",
        service_code=prog.service_code,
        duration_ms=duration_ms,
        outcome=outcome,
        started_at=at,
        updated_at=at,
    )


async def dials(session: AsyncSession, b: Built) -> None:
    p = {name: person.id for name, person in b.people.items()}
    session.add_all(
        [
            dial(b.programme, p["Amina"], 15_000),  # 1 slice
            dial(b.programme, p["Amina"], 41_000),  # 3 slices
            dial(b.programme, p["Esther"], None, outcome=UssdOutcome.open),  # never ended: 1
            dial(b.programme, None, 25_000),  # an unknown caller: 2 slices, reaches nobody
            dial(b.programme, p["Chege"], 20_000),  # exactly 1 slice; his only SMS failed
            dial(b.programme, p["Daudi"], 90_000, at=AFTER_TERM),  # outside the term
            dial(b.other.programme, b.other.members[0].id, 60_000),  # another programme
        ]
    )
    await session.commit()


@dataclass(frozen=True)
class Case:
    billing: UssdBilling
    units: int  # billed in the term
    ussd: str  # units x 1.5
    ussd_each: str  # over the 4 reached
    each: str  # (4.0 + ussd) / 4


CASES = [
    Case(UssdBilling.session, 5, "7.5000", "1.8750", "2.8750"),
    Case(UssdBilling.per_20s, 1 + 3 + 1 + 2 + 1, "12.0000", "3.0000", "4.0000"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.billing.value)
async def test_ussd_cost_counts_in_cost_per_teacher_beside_sms(
    session: AsyncSession, case: Case
) -> None:
    b = await build(session)
    await dials(session, b)
    assert b.programme.id is not None
    await update_programme(
        b.programme.id,
        ProgrammeSettings(ussd_price=Decimal("1.5"), ussd_billing=case.billing),
        session=session,
        actor=f.OPERATOR,
    )
    await session.commit()
    session.expunge_all()  # the price and billing as stored

    report = await reports.messaging(session, await scope(session, b, term_id=b.term_id))
    assert (report.ussd.billed.sessions, report.ussd.billed.units) == (5, case.units)
    assert report.ussd.billed.cost == {"KES": Decimal(case.ussd)}
    cost = report.cost
    assert cost.reached == 4  # Amina, Beatrice and Esther by SMS; Chege by USSD only
    assert cost.sms == {"KES": Decimal("4.0")} and cost.ussd == {"KES": Decimal(case.ussd)}
    assert cost.total == {"KES": Decimal("4.0") + Decimal(case.ussd)}
    assert cost.sms_per_teacher == {"KES": Decimal("1.0000")}
    assert cost.ussd_per_teacher == {"KES": Decimal(case.ussd_each)}
    assert cost.per_teacher == {"KES": Decimal(case.each)}
    assert report.sms.cost_per_teacher == {"KES": Decimal("1.3333")}  # SMS alone, as before


async def test_a_community_counts_its_members_sessions_only(session: AsyncSession) -> None:
    b = await build(session)
    await dials(session, b)
    assert b.programme.id is not None
    await update_programme(
        b.programme.id,
        ProgrammeSettings(ussd_price=Decimal("2"), ussd_billing=UssdBilling.per_20s),
        session=session,
        actor=f.OPERATOR,
    )
    await session.commit()
    alpha = await scope(session, b, term_id=b.term_id, community_id=b.alpha.id)
    report = await reports.messaging(session, alpha)
    assert report.ussd.billed.units == 1 + 3 + 1  # Amina's two and Chege's
    assert report.cost.ussd == {"KES": Decimal("10.0000")}
    assert report.cost.reached == 3  # Amina, Beatrice (SMS) and Chege (USSD)


async def test_a_programme_that_never_priced_ussd_counts_sessions_at_nothing(
    session: AsyncSession,
) -> None:
    b = await build(session)
    await dials(session, b)
    stored = await session.get(Programme, b.programme.id)
    assert stored is not None
    assert (stored.ussd_price, stored.ussd_billing) == (Decimal("0"), UssdBilling.session)
    report = await reports.messaging(session, await scope(session, b, term_id=b.term_id))
    assert report.cost.ussd == {"KES": Decimal("0")}
    assert report.cost.per_teacher == {"KES": Decimal("1.0000")}  # 4.0 SMS over 4 reached


@pytest.mark.parametrize(
    ("billing", "duration_ms", "units"),
    [
        (UssdBilling.session, 95_000, 1),
        (UssdBilling.per_20s, None, 1),
        (UssdBilling.per_20s, 1, 1),
        (UssdBilling.per_20s, 20_000, 1),
        (UssdBilling.per_20s, 20_001, 2),
        (UssdBilling.per_20s, 60_000, 3),
    ],
)
def test_units_of_one_session(billing: UssdBilling, duration_ms: int | None, units: int) -> None:
    assert units_of(billing, duration_ms) == units


async def test_sessions_after_the_window_do_not_count(session: AsyncSession) -> None:
    b = await build(session)
    session.add(dial(b.programme, b.people["Daudi"].id, 90_000, at=AFTER_TERM + timedelta(days=1)))
    await session.commit()
    report = await reports.messaging(session, await scope(session, b, term_id=b.term_id))
    assert report.ussd.billed.sessions == 0 and report.cost.ussd == {}
