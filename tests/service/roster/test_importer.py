"""Roster import: all-or-nothing, every bad row reported, re-imports change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.outcome import Outcome
from service.models import AuditEntry, Community, Membership, Person, Programme, School
from service.models.enums import MembershipRole
from service.roster import FileError, ImportKind, ImportReport, import_csv, read_csv
from tests import factories as f

SCHOOLS = """code,name,district,sector
KSM-01,Kisumu Central Primary School,Kisumu,Kisumu Central
KSM-02,Kondele Primary School,Kisumu,Kisumu Central
"""
COMMUNITIES = """code,name,kind,subjects,schools
KSM-CL,Kisumu Central Cluster CoP,cluster,Mathematics;English,KSM-01;KSM-02
"""
# Line 5 repeats line 2's phone in another format, line 6 names an unknown school,
# line 7 has a number too short to be real. Everyone else is fine.
PEOPLE = """name,phone,language,school,roles,subjects,gender,communities,facilitates
Achieng Otieno,0712 345 678,sw,KSM-01,teacher,Mathematics,female,KSM-CL,
Brian Wafula,+254722000111,English,KSM-01,teacher;Subject lead,English,M,,KSM-CL
Chebet Kiprotich,254733000222,,KSM-02,teacher,,female,KSM-CL,
Achieng O.,254712345678,sw,KSM-01,teacher,,female,,
Dennis Omondi,0744000333,sw,NOPE-99,teacher,,male,,
Faith Auma,0712 34,sw,KSM-01,teacher,,female,,
Grace Nafula,,sw,KSM-02,teacher,,female,KSM-CL,
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def run_import(
    session: AsyncSession, programme: Programme, kind: ImportKind, path: Path, *, skip: bool = False
) -> ImportReport:
    return await import_csv(
        kind, read_csv(path, kind), programme, session=session, actor=f.OPERATOR, skip_invalid=skip
    )


async def count(session: AsyncSession, model: type) -> int:
    return (await session.exec(select(func.count()).select_from(model))).one()


@pytest.fixture
async def kenya(session: AsyncSession, tmp_path: Path) -> Programme:
    programme = await f.programme(session)
    await session.commit()
    for kind, text in ((ImportKind.schools, SCHOOLS), (ImportKind.communities, COMMUNITIES)):
        report = await run_import(session, programme, kind, write(tmp_path, f"{kind}.csv", text))
        assert report.applied, report.errors
    return programme


async def test_a_file_with_bad_rows_changes_nothing_and_lists_each_with_its_line(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    audits_before = await count(session, AuditEntry)
    report = await run_import(session, kenya, ImportKind.people, write(tmp_path, "p.csv", PEOPLE))
    assert not report.applied
    assert [e.line for e in report.errors] == [5, 6, 7]
    reasons = {e.line: e.reason for e in report.errors}
    assert "+254712345678" in reasons[5] and "line 2" in reasons[5]
    assert "unknown school 'NOPE-99'" in reasons[6]
    assert "not a valid mobile number" in reasons[7]
    assert await count(session, Person) == 0
    assert await count(session, Membership) == 0
    assert await count(session, AuditEntry) == audits_before


async def test_skip_invalid_imports_the_good_rows_and_reports_the_rest(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    report = await run_import(
        session, kenya, ImportKind.people, write(tmp_path, "p.csv", PEOPLE), skip=True
    )
    assert report.applied
    assert report.outcomes[Outcome.created] == 4
    assert [e.line for e in report.errors] == [5, 6, 7]
    phones = set((await session.exec(select(Person.phone))).all())
    assert phones == {"+254712345678", "+254722000111", "+254733000222", None}
    brian = (await session.exec(select(Person).where(Person.phone == "+254722000111"))).one()
    assert brian.roles == ["teacher", "subject_lead"] and brian.language == "en"
    assert brian.gender == "male"
    roles = (
        await session.exec(select(Membership.role).where(Membership.person_id == brian.id))
    ).all()
    assert roles == [MembershipRole.facilitator]
    assert await count(session, Membership) == 4


async def test_importing_the_same_file_again_changes_nothing(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    path = write(tmp_path, "p.csv", PEOPLE)
    await run_import(session, kenya, ImportKind.people, path, skip=True)
    counts = [await count(session, m) for m in (Person, Membership, AuditEntry, School, Community)]
    again = await run_import(session, kenya, ImportKind.people, path, skip=True)
    assert again.outcomes == {Outcome.created: 0, Outcome.updated: 0, Outcome.unchanged: 4}
    assert [
        await count(session, m) for m in (Person, Membership, AuditEntry, School, Community)
    ] == counts


async def test_a_changed_row_updates_the_person_found_by_phone(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    await run_import(session, kenya, ImportKind.people, write(tmp_path, "p.csv", PEOPLE), skip=True)
    changed = PEOPLE.replace(
        "Achieng Otieno,0712 345 678,sw", "Achieng Otieno-Were,+254712345678,en"
    )
    report = await run_import(
        session, kenya, ImportKind.people, write(tmp_path, "p2.csv", changed), skip=True
    )
    assert report.outcomes[Outcome.updated] == 1
    person = (await session.exec(select(Person).where(Person.phone == "+254712345678"))).one()
    assert (person.name, person.language) == ("Achieng Otieno-Were", "en")


async def test_a_community_naming_an_unknown_school_is_refused(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    text = "code,name,kind,schools\nNEW,New cluster,cluster,KSM-01;KSM-77\nBAD,Bad,circle,\n"
    report = await run_import(
        session, kenya, ImportKind.communities, write(tmp_path, "c.csv", text)
    )
    assert [(e.line, e.reason) for e in report.errors] == [
        (2, "unknown school 'KSM-77'; import schools first"),
        (3, "community kind must be 'school' or 'cluster', not 'circle'"),
    ]


def test_missing_and_unknown_columns_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", "full_name,phone,colour\nA,0712345678,red\n")
    with pytest.raises(FileError) as caught:
        read_csv(path, ImportKind.people)
    assert "missing column(s): name" in str(caught.value)
    assert "unknown column(s): full_name, colour" in str(caught.value)


def test_a_spreadsheet_export_with_bom_blank_lines_and_quoted_newlines_keeps_line_numbers(
    tmp_path: Path,
) -> None:
    text = '\ufeffCode,Name\nA,"Line one\nline two"\n\nB,School B\n'
    rows = read_csv(write(tmp_path, "s.csv", text), ImportKind.schools)
    assert [(line, row["code"]) for line, row in rows] == [(2, "A"), (5, "B")]


def test_a_file_that_is_not_utf8_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes("code,name\nA,École Saint-André\n".encode("cp1252"))
    with pytest.raises(FileError, match="not UTF-8"):
        read_csv(path, ImportKind.schools)
