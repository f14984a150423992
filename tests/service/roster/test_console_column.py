"""The `console` column of people.csv, and the preview that writes nothing."""

from __future__ import annotations

import pytest
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.outcome import Outcome
from service.models import AuditEntry, ConsoleSession, Membership, Person, Programme
from service.models.enums import ConsoleRole
from service.roster import ImportKind, import_csv, parse_csv, preview_roster
from tests import factories as f
from tests.service.roster.test_importer import COMMUNITIES, PEOPLE, SCHOOLS

GRANTS = """name,phone,school,console
Achieng Otieno,0712 345 678,KSM-01,facilitator
Brian Wafula,+254722000111,KSM-01,
Chebet Kiprotich,254733000222,KSM-02,School Leader
Grace Nafula,,KSM-02,facilitator
Dennis Omondi,0744000333,KSM-02,root
"""


async def people(
    session: AsyncSession, programme: Programme, text: str, *, may_grant: bool = True
) -> tuple[list[tuple[int, str]], dict[Outcome, int]]:
    report = await import_csv(
        ImportKind.people, parse_csv(text, "people.csv", ImportKind.people), programme,
        session=session, actor=f.OPERATOR, skip_invalid=True, may_grant_console=may_grant,
    )  # fmt: skip
    return [(e.line, e.reason) for e in report.errors], report.outcomes


async def role_of(session: AsyncSession, phone: str) -> ConsoleRole | None:
    session.expunge_all()
    person = (await session.exec(select(Person).where(Person.phone == phone))).one()
    return person.console_role


@pytest.fixture
async def kenya(session: AsyncSession) -> Programme:
    programme = await f.programme(session)
    await session.commit()
    for kind, text in ((ImportKind.schools, SCHOOLS), (ImportKind.communities, COMMUNITIES)):
        report = await import_csv(
            kind, parse_csv(text, f"{kind}.csv", kind), programme, session=session,
            actor=f.OPERATOR,
        )  # fmt: skip
        assert report.applied
    return programme


async def test_the_console_column_grants_access_and_refuses_what_cannot_sign_in(
    session: AsyncSession, kenya: Programme
) -> None:
    errors, outcomes = await people(session, kenya, GRANTS)
    assert errors == [
        (5, "console access needs a phone number to sign in with"),
        (
            6,
            "unknown console role 'root' (known: programme_admin, programme_staff, "
            "school_leader, facilitator)",
        ),
    ]
    assert outcomes[Outcome.created] == 3
    assert await role_of(session, "+254712345678") is ConsoleRole.facilitator
    assert await role_of(session, "+254722000111") is None
    assert await role_of(session, "+254733000222") is ConsoleRole.school_leader
    grants = (
        await session.exec(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "person.console_role")
        )
    ).one()
    assert grants == 2
    again_errors, again = await people(session, kenya, GRANTS)
    assert again[Outcome.unchanged] == 3 and again_errors == errors


async def test_an_empty_cell_leaves_access_and_a_new_role_ends_sessions(
    session: AsyncSession, kenya: Programme
) -> None:
    await people(session, kenya, GRANTS)
    person = (await session.exec(select(Person).where(Person.phone == "+254712345678"))).one()
    assert person.id is not None
    session.add(ConsoleSession(token_hash="h" * 64, person_id=person.id, csrf_token="c"))
    await session.commit()
    row = "name,phone,school,console\nAchieng Otieno,0712345678,KSM-01,{}\n"
    _, kept = await people(session, kenya, row.format(""))
    assert kept[Outcome.unchanged] == 1
    assert await role_of(session, "+254712345678") is ConsoleRole.facilitator
    _, changed = await people(session, kenya, row.format("programme_staff"))
    assert changed[Outcome.updated] == 1  # only the console role changed
    assert await role_of(session, "+254712345678") is ConsoleRole.programme_staff
    open_sessions = (
        await session.exec(select(ConsoleSession).where(col(ConsoleSession.revoked_at).is_(None)))
    ).all()
    assert open_sessions == []


async def test_an_importer_who_may_not_grant_can_repeat_access_but_not_change_it(
    session: AsyncSession, kenya: Programme
) -> None:
    await people(session, kenya, GRANTS)
    text = (
        "name,phone,school,console\n"
        "Achieng Otieno,0712345678,KSM-01,facilitator\n"  # as it is
        "Brian Wafula,0722000111,KSM-01,programme_admin\n"  # a new grant
        "Chebet Kiprotich,0733000222,KSM-02,facilitator\n"  # a change
    )
    errors, outcomes = await people(session, kenya, text, may_grant=False)
    refusal = "only a programme administrator may give or change console access"
    assert errors == [(3, refusal), (4, refusal)]
    assert outcomes[Outcome.unchanged] == 1
    assert await role_of(session, "+254722000111") is None


async def test_the_preview_counts_what_the_import_then_does_and_writes_nothing(
    session: AsyncSession,
) -> None:
    programme = await f.programme(session)
    await session.commit()
    files = {
        ImportKind.schools: parse_csv(SCHOOLS, "s.csv", ImportKind.schools),
        ImportKind.communities: parse_csv(COMMUNITIES, "c.csv", ImportKind.communities),
        ImportKind.people: parse_csv(PEOPLE, "p.csv", ImportKind.people),
    }
    tables = (Person, Membership, AuditEntry)
    before = [(await session.exec(select(func.count()).select_from(t))).one() for t in tables]
    previewed = await preview_roster(files, programme, session=session)
    after = [(await session.exec(select(func.count()).select_from(t))).one() for t in tables]
    assert after == before
    done = []
    for kind, rows in files.items():
        report = await import_csv(
            kind, rows, programme, session=session, actor=f.OPERATOR, skip_invalid=True
        )
        done.append(report)
    assert [(r.kind, r.outcomes, [(e.line, e.reason) for e in r.errors]) for r in previewed] == [
        (r.kind, r.outcomes, [(e.line, e.reason) for e in r.errors]) for r in done
    ]
    # Now everything exists: a changed row, a new membership and an unchanged one.
    changed = (
        "name,phone,language,school,roles,subjects,gender,communities,facilitates\n"
        "Achieng Otieno-Were,0712 345 678,sw,KSM-01,teacher,Mathematics,female,KSM-CL,\n"
        "Brian Wafula,+254722000111,English,KSM-01,teacher;Subject lead,English,M,,KSM-CL\n"
        "Chebet Kiprotich,254733000222,,KSM-02,teacher,,female,,KSM-CL\n"  # now facilitates
    )
    rows = parse_csv(changed, "p.csv", ImportKind.people)
    (second,) = await preview_roster({ImportKind.people: rows}, programme, session=session)
    assert second.outcomes == {Outcome.created: 0, Outcome.updated: 2, Outcome.unchanged: 1}
    report = await import_csv(ImportKind.people, rows, programme, session=session, actor=f.OPERATOR)
    assert report.outcomes == second.outcomes
