"""The `external_id` column: another system's id for a person or school (a TSC number, an
EMIS code) finds them first, and a row it would make ambiguous is refused with its line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.outcome import Outcome
from service.models import Person, Programme, School
from service.roster import ImportKind, parse_csv, preview_roster
from tests.service.roster.test_importer import kenya, run_import, write

__all__ = ["kenya"]  # the fixture, shared with the importer's tests

HEADER = "name,phone,school,external_id\n"
KNOWN = HEADER + "Achieng Otieno,0712345678,KSM-01,TSC-100\nBrian Wafula,0722000111,KSM-01,\n"


async def _people(session: AsyncSession) -> dict[str, tuple[str | None, str | None]]:
    session.expunge_all()
    rows = (await session.exec(select(Person))).all()
    return {p.name: (p.phone, p.external_id) for p in rows}


async def _import(session: AsyncSession, programme: Programme, tmp_path: Path, text: str) -> Any:
    return await run_import(session, programme, ImportKind.people, write(tmp_path, "p.csv", text))


async def test_an_external_id_finds_its_person_whose_phone_changed(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    await _import(session, kenya, tmp_path, KNOWN)
    report = await _import(
        session, kenya, tmp_path, HEADER + "Achieng Otieno,0733999888,,TSC-100\n"
    )
    assert report.applied, report.errors
    assert report.outcomes[Outcome.updated] == 1 and report.outcomes[Outcome.created] == 0
    assert (await _people(session))["Achieng Otieno"] == ("+254733999888", "TSC-100")


async def test_an_external_id_is_trimmed_kept_as_written_and_an_empty_cell_keeps_it(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    await _import(session, kenya, tmp_path, HEADER + "Brian Wafula,0722000111,KSM-01,  tsc-200 \n")
    assert (await _people(session))["Brian Wafula"] == ("+254722000111", "tsc-200")
    report = await _import(session, kenya, tmp_path, HEADER + "Brian Wafula,0722000111,KSM-01,\n")
    assert report.outcomes[Outcome.unchanged] == 1
    assert (await _people(session))["Brian Wafula"] == ("+254722000111", "tsc-200")


async def test_a_phone_known_without_an_external_id_gets_the_rows(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    await _import(session, kenya, tmp_path, KNOWN)
    report = await _import(
        session, kenya, tmp_path, HEADER + "Brian Wafula,0722000111,KSM-01,TSC-7\n"
    )
    assert report.outcomes[Outcome.updated] == 1
    assert (await _people(session))["Brian Wafula"] == ("+254722000111", "TSC-7")


async def test_a_row_whose_external_id_and_phone_are_two_peoples_is_refused_with_its_line(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    await _import(session, kenya, tmp_path, KNOWN)
    text = (
        HEADER
        + "Grace Nafula,0744000333,KSM-02,TSC-300\n"  # new: fine
        + "Achieng Otieno,0722000111,KSM-01,TSC-100\n"  # TSC-100 is Achieng's, the phone Brian's
    )
    report = await _import(session, kenya, tmp_path, text)
    assert not report.applied
    assert [e.line for e in report.errors] == [3]
    assert report.errors[0].reason == (
        "external id 'TSC-100' belongs to 'Achieng Otieno', but phone +254722000111 to "
        "another person, 'Brian Wafula'"
    )
    assert await _people(session) == {
        "Achieng Otieno": ("+254712345678", "TSC-100"),
        "Brian Wafula": ("+254722000111", None),
    }  # all or nothing: the good rows were not written either


async def test_a_phone_whose_person_has_another_external_id_is_refused(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    await _import(session, kenya, tmp_path, KNOWN)
    text = HEADER + "Achieng Otieno,0712345678,KSM-01,TSC-101\n"
    report = await _import(session, kenya, tmp_path, text)
    assert [(e.line, e.reason) for e in report.errors] == [
        (2, "phone +254712345678 belongs to 'Achieng Otieno', whose external id is "
         "'TSC-100', not 'TSC-101'"),
    ]  # fmt: skip
    report = await run_import(
        session, kenya, ImportKind.people, write(tmp_path, "p.csv", text), skip=True
    )
    assert report.applied and report.outcomes[Outcome.unchanged] == 0
    assert (await _people(session))["Achieng Otieno"] == ("+254712345678", "TSC-100")


async def test_the_same_external_id_twice_in_one_file_is_a_bad_row(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    text = HEADER + "Achieng Otieno,0712345678,KSM-01,TSC-1\nBrian Wafula,,KSM-01,TSC-1\n"
    report = await _import(session, kenya, tmp_path, text)
    assert [(e.line, e.reason) for e in report.errors] == [
        (3, "duplicate external id 'TSC-1': already on line 2")
    ]


async def test_people_without_a_phone_of_one_name_are_told_apart_by_external_id(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    text = HEADER + "John Banda,,KSM-01,TSC-77\nJohn Banda,,KSM-01,TSC-78\n"
    report = await _import(session, kenya, tmp_path, text)
    assert report.outcomes[Outcome.created] == 2, report.errors
    again = await _import(session, kenya, tmp_path, text)
    assert again.outcomes[Outcome.unchanged] == 2
    ids = sorted(p.external_id or "" for p in (await session.exec(select(Person))).all())
    assert ids == ["TSC-77", "TSC-78"]


async def test_an_external_id_too_long_is_a_bad_row(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    report = await _import(session, kenya, tmp_path, HEADER + f"Achieng Otieno,,,{'9' * 65}\n")
    assert "at most 64 characters" in report.errors[0].reason


async def test_the_preview_refuses_the_same_rows_writing_nothing(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    await _import(session, kenya, tmp_path, KNOWN)
    text = HEADER + "Achieng Otieno,0722000111,KSM-01,TSC-100\nNew Person,0744000333,,TSC-5\n"
    (report,) = await preview_roster(
        {ImportKind.people: parse_csv(text, "p.csv", ImportKind.people)}, kenya, session=session
    )
    assert [e.line for e in report.errors] == [2]
    assert report.outcomes[Outcome.created] == 1
    assert "New Person" not in await _people(session)


SCHOOLS = "code,name,external_id\n"


async def _schools(session: AsyncSession) -> dict[str, str | None]:
    session.expunge_all()
    return {s.code: s.external_id for s in (await session.exec(select(School))).all()}


async def test_a_schools_external_id_finds_it_under_a_new_code(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    path = write(tmp_path, "s.csv", SCHOOLS + "KSM-01,Kisumu Central Primary School,41704108\n")
    assert (await run_import(session, kenya, ImportKind.schools, path)).applied
    path = write(tmp_path, "s.csv", SCHOOLS + "KSM-001,Kisumu Central Primary School,41704108\n")
    report = await run_import(session, kenya, ImportKind.schools, path)
    assert report.outcomes[Outcome.updated] == 1
    assert await _schools(session) == {"KSM-001": "41704108", "KSM-02": None}


async def test_a_school_row_whose_external_id_and_code_are_two_schools_is_refused(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    path = write(tmp_path, "s.csv", SCHOOLS + "KSM-01,Kisumu Central Primary School,41704108\n")
    await run_import(session, kenya, ImportKind.schools, path)
    text = (
        SCHOOLS
        + "KSM-02,Kondele Primary School,41704108\n"
        + "KSM-01,Kisumu Central Primary School,41704999\n"
        + "KSM-03,Nyalenda Primary School,41704555\n"
        + "KSM-04,Manyatta Primary School,41704555\n"
    )
    report = await run_import(session, kenya, ImportKind.schools, write(tmp_path, "s.csv", text))
    assert [(e.line, e.reason) for e in report.errors] == [
        (2, "external id '41704108' belongs to school 'KSM-01', but code 'KSM-02' to another school"),
        (3, "school 'KSM-01' has external id '41704108', not '41704999'"),
        (5, "duplicate external id '41704555': already on line 4"),
    ]  # fmt: skip
    assert await _schools(session) == {"KSM-01": "41704108", "KSM-02": None}


async def test_two_rows_finding_one_person_by_external_id_and_by_phone_are_refused(
    session: AsyncSession, kenya: Programme, tmp_path: Path
) -> None:
    await _import(session, kenya, tmp_path, KNOWN)
    text = HEADER + "Achieng Otieno,0712345678,KSM-01,\nAchieng O.,,KSM-02,TSC-100\n"
    report = await _import(session, kenya, tmp_path, text)
    assert [(e.line, e.reason) for e in report.errors] == [
        (3, "the same person as line 2 (one of the rows finds them by external id)")
    ]
