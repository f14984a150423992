"""Roster import: all-or-nothing, every bad row reported, re-imports change nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.outcome import Outcome
from service.models import AuditEntry, Community, Membership, Person, Programme, School
from service.models.enums import Country, Language, MembershipRole
from service.roster import FileError, ImportKind, ImportReport, Phase, import_csv, read_csv
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


def test_a_cell_too_big_to_read_is_refused_with_the_line_it_starts_on(tmp_path: Path) -> None:
    huge = "x" * 2_000_000
    text = f'name,phone\nAchieng Otieno,0712345678\n"{huge}",0722000111\nBrian,0733000222\n'
    with pytest.raises(FileError) as caught:
        read_csv(write(tmp_path, "p.csv", text), ImportKind.people)
    message = str(caught.value)
    assert message.startswith("p.csv line 3: a cell is longer than 131,072 characters")
    assert len(message) < 300


async def test_an_overlong_cell_and_a_control_character_are_bad_rows_with_their_lines(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    subjects = ";".join(["Mathematics"] * 250)
    text = (
        "name,phone,school,subjects\n"
        f"Achieng Otieno,0712345678,KSM-01,{subjects}\n"
        "Brian\x00Wafula,0722000111,KSM-01,English\n"
        "Chebet Kiprotich,0733000222,KSM-02,\n"
    )
    report = await run_import(session, kenya, ImportKind.people, write(tmp_path, "p.csv", text))
    assert [(e.line, e.reason) for e in report.errors] == [
        (2, f"the subjects cell is {len(subjects):,} characters long; a cell holds at most 2,000"),
        (3, "the name cell contains a control character (U+0000)"),
    ]
    assert not report.applied and await count(session, Person) == 0


def _statements(session: AsyncSession) -> tuple[list[str], Callable[[], None]]:
    """The SQL statements sent on the session's engine until the returned `stop` is called."""
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    engine = session.bind
    assert isinstance(engine, AsyncEngine)
    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    return statements, lambda: event.remove(engine.sync_engine, "before_cursor_execute", seen)


WRITES = ("INSERT", "UPDATE", "DELETE", "SAVEPOINT")


def people_csv(rows: int, last: str = "") -> str:
    lines = ["name,phone,language,school,roles,communities"] + [
        f"Teacher {i},0733{i:06d},sw,KSM-0{1 + i % 2},teacher,KSM-CL" for i in range(rows)
    ]
    return "\n".join([*lines, last]) + "\n"


async def test_a_bad_last_row_is_reported_before_anything_is_written(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    text = people_csv(300, last="Zawadi Were,0744000999,sw,NOPE-99,teacher,KSM-CL")
    statements, stop = _statements(session)
    try:
        report = await run_import(session, kenya, ImportKind.people, write(tmp_path, "p.csv", text))
    finally:
        stop()
    assert [(e.line, e.reason) for e in report.errors] == [
        (302, "unknown school 'NOPE-99'; import schools first")
    ]
    assert [s for s in statements if s.lstrip().upper().startswith(WRITES)] == []
    assert len(statements) < 10


async def test_the_statements_of_an_import_grow_with_its_chunks_not_its_rows(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    used = []
    for rows, prefix in ((20, "0722"), (200, "0744")):
        text = people_csv(rows).replace("Teacher ", f"Teacher{rows} ").replace("0733", prefix)
        statements, stop = _statements(session)
        try:
            report = await run_import(
                session, kenya, ImportKind.people, write(tmp_path, f"p{rows}.csv", text)
            )
        finally:
            stop()
        assert report.applied and report.outcomes[Outcome.created] == rows
        used.append(len(statements))
    assert used[0] == used[1], used


async def test_a_database_failure_mid_write_is_reported_and_a_rerun_finishes_the_job(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    path = write(tmp_path, "p.csv", people_csv(10))
    rows = read_csv(path, ImportKind.people)
    engine = session.bind
    assert isinstance(engine, AsyncEngine)
    person_inserts = 0

    def database_goes_away(_conn: object, _cursor: object, statement: str, *_a: object) -> None:
        nonlocal person_inserts
        if statement.lstrip().upper().startswith("INSERT INTO PERSON"):
            person_inserts += 1
            if person_inserts == 3:
                raise OperationalError(
                    statement, None, ConnectionError("server closed the connection")
                )

    event.listen(engine.sync_engine, "before_cursor_execute", database_goes_away)
    try:
        report = await import_csv(
            ImportKind.people, rows, kenya, session=session, actor=f.OPERATOR, chunk_rows=4
        )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", database_goes_away)
    assert not report.applied and report.written == 8
    assert report.failure is not None and "server closed the connection" in report.failure
    assert "lines 10-11" in report.failure
    assert report.outcomes[Outcome.created] == 8
    assert await count(session, Person) == 8 and await count(session, Membership) == 8
    await session.refresh(kenya)  # the failed chunk's rollback expired what the session held
    again = await import_csv(
        ImportKind.people, rows, kenya, session=session, actor=f.OPERATOR, chunk_rows=4
    )
    assert again.applied and again.failure is None and again.written == 10
    assert again.outcomes == {Outcome.created: 2, Outcome.updated: 0, Outcome.unchanged: 8}
    assert await count(session, Person) == 10 and await count(session, Membership) == 10


async def test_each_imported_change_is_in_the_audit_trail_with_who_made_it(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    await run_import(session, kenya, ImportKind.people, write(tmp_path, "p.csv", PEOPLE), skip=True)
    changed = PEOPLE.replace("Achieng Otieno,0712 345 678,sw", "Achieng Were,0712 345 678,en")
    await run_import(
        session, kenya, ImportKind.people, write(tmp_path, "p2.csv", changed), skip=True
    )
    entries = (
        await session.exec(
            select(AuditEntry).where(col(AuditEntry.object_type).in_(["person", "membership"]))
        )
    ).all()
    assert {(e.action, e.actor, e.channel) for e in entries} == {
        ("person.create", f.OPERATOR.label, f.OPERATOR.channel),
        ("person.update", f.OPERATOR.label, f.OPERATOR.channel),
        ("membership.add", f.OPERATOR.label, f.OPERATOR.channel),
    }
    actions = [e.action for e in entries]
    assert actions.count("person.create") == 4 and actions.count("membership.add") == 4
    achieng = (await session.exec(select(Person).where(Person.phone == "+254712345678"))).one()
    update = next(e for e in entries if e.action == "person.update")
    assert update.object_id == achieng.id and update.programme_id == kenya.id
    assert update.changes == {"name": ["Achieng Otieno", "Achieng Were"], "language": ["sw", "en"]}
    created = next(e for e in entries if e.action == "person.create" and e.object_id == achieng.id)
    assert created.changes["phone"] == "+254712345678" and created.changes["roles"] == ["teacher"]


async def test_the_same_person_without_a_phone_twice_in_a_file_is_a_bad_row(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    text = "name,school\nGrace Nafula,KSM-02\nGrace Nafula,KSM-01\nGrace Nafula,KSM-02\n"
    report = await run_import(session, kenya, ImportKind.people, write(tmp_path, "p.csv", text))
    assert [(e.line, e.reason) for e in report.errors] == [
        (4, "duplicate person without a phone 'Grace Nafula' at school KSM-02: already on line 2")
    ]


async def test_progress_is_told_while_checking_and_then_chunk_by_chunk_while_writing(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    rows = read_csv(write(tmp_path, "p.csv", people_csv(10)), ImportKind.people)
    seen: list[tuple[Phase, int]] = []
    report = await import_csv(
        ImportKind.people, rows, kenya, session=session, actor=f.OPERATOR, chunk_rows=4,
        progress=lambda phase, done, _total: seen.append((phase, done)),
    )  # fmt: skip
    assert report.applied
    phases = [phase for phase, _ in seen]
    assert phases == sorted(phases, key=list(Phase).index)  # all checking, then all writing
    assert sum(done for phase, done in seen if phase is Phase.checking) == 10
    assert [done for phase, done in seen if phase is Phase.writing] == [4, 4, 2]


async def test_a_malawi_roster_names_chichewa_as_teachers_write_it(
    session: AsyncSession, tmp_path: Path
) -> None:
    malawi = await f.programme(
        session, slug="mw-cops", country=Country.MW, timezone="Africa/Blantyre"
    )
    await session.commit()
    roster = """name,phone,language
Chikondi Banda,0991 200 111,Chichewa
Tiwonge Phiri,+265991200222,chinyanja
Ŵezi Mwale,265991200333,ny
Kondwani Gondwe,0991200444,
Mphatso Zulu,0991200555,English
"""
    report = await run_import(session, malawi, ImportKind.people, write(tmp_path, "mw.csv", roster))
    assert report.applied, report.errors
    session.expunge_all()
    people = (await session.exec(select(Person).order_by(col(Person.phone)))).all()
    assert [(p.name, p.language) for p in people] == [
        ("Chikondi Banda", Language.ny),
        ("Tiwonge Phiri", Language.ny),
        ("Ŵezi Mwale", Language.ny),  # the name is kept as written; screens show "Wezi"
        ("Kondwani Gondwe", Language.ny),  # the programme's language
        ("Mphatso Zulu", Language.en),
    ]
