"""The roster export is the import's own three files: imported into the same programme it
changes nothing; imported into an empty one it makes the same roster again."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.demo import seed
from service.domain.actor import Actor
from service.domain.communities import find_community
from service.domain.outcome import Outcome
from service.domain.people import find_by_phone, set_language
from service.domain.programmes import ProgrammeCreate, create_programme
from service.models import Programme
from service.models.enums import Channel, Language
from service.roster import ImportKind, ImportReport, import_csv, parse_csv
from service.roster.export import roster_csv
from tests import factories as f
from tests.service.roster.test_importer import run_import, write

SCHOOLS = """code,name,district,sector,external_id
KSM-01,"St. Teresa's Girls' Primary School, Kibuye",Kisumu,Kisumu Central,41704108
KSM-02,Kondele Primary School,Kisumu,,
"""
COMMUNITIES = """code,name,kind,subjects,schools,meetings_per_term
KSM-CL,Kisumu Central Cluster CoP,cluster,Mathematics;English,KSM-01;KSM-02,4
KSM-01-M,-Maths at St. Teresa's,school,Mathematics,KSM-01,3
"""
# Two people without a phone and of one name at one school, told apart by their TSC numbers;
# a name a spreadsheet would take for a formula; a facilitator with console access.
PEOPLE = """name,phone,language,school,roles,subjects,gender,communities,facilitates,console,channel,external_id
Achieng Otieno,0712 345 678,sw,KSM-01,teacher;subject_lead,Mathematics,female,KSM-CL,KSM-01-M,facilitator,whatsapp,TSC-512300
Brian Wafula,+254722000111,en,KSM-02,teacher,English,M,KSM-CL;KSM-01-M,,,,
John Banda,,sw,KSM-01,teacher,,male,KSM-CL,,,,TSC-77
John Banda,,sw,KSM-01,teacher,,male,KSM-CL,,,,TSC-78
=Grace Nafula,,en,KSM-02,teacher,,,,,,,
"""


async def export(session: AsyncSession, programme: Programme) -> dict[ImportKind, str]:
    assert programme.id is not None
    return {k: await roster_csv(session, programme.id, k, pii=True) for k in ImportKind}


async def import_all(
    session: AsyncSession, programme: Programme, files: dict[ImportKind, str]
) -> list[ImportReport]:
    reports = []
    for kind in ImportKind:
        rows = parse_csv(files[kind].lstrip("\ufeff"), f"{kind}.csv", kind)
        reports.append(await import_csv(kind, rows, programme, session=session, actor=f.OPERATOR))
    return reports


async def empty_like(session: AsyncSession, programme: Programme, slug: str) -> Programme:
    """A new programme with the same country, languages and time zone, and no roster."""
    data = ProgrammeCreate(
        slug=slug, name=f"Copy of {programme.name}", country=programme.country,
        timezone=programme.timezone, default_language=programme.default_language,
        languages=list(programme.languages), service_code=f"*384*9{programme.id}#",
    )  # fmt: skip
    copy = await create_programme(data, session=session, actor=f.OPERATOR)
    await session.commit()
    return copy


def changed_nothing(reports: list[ImportReport]) -> None:
    for report in reports:
        assert report.errors == [], report.kind
        assert report.applied, report.kind
        assert report.outcomes[Outcome.created] == 0, report.kind
        assert report.outcomes[Outcome.updated] == 0, report.kind
        assert report.outcomes[Outcome.unchanged] == report.rows, report.kind


@pytest.fixture
async def built(session: AsyncSession, tmp_path: Path) -> Programme:
    programme = await f.programme(session)
    await session.commit()
    for kind, text in (
        (ImportKind.schools, SCHOOLS), (ImportKind.communities, COMMUNITIES),
        (ImportKind.people, PEOPLE),
    ):  # fmt: skip
        report = await run_import(session, programme, kind, write(tmp_path, f"{kind}.csv", text))
        assert report.applied, report.errors
    assert programme.id is not None
    # What people and staff change outside a roster: a language the person chose on USSD,
    # a community's own reminder times.
    brian = await find_by_phone(session, programme.id, "+254722000111")
    assert brian is not None and brian.id is not None
    actor = Actor.person(brian.id, Channel.ussd)
    await set_language(programme, brian.id, Language.sw, session=session, actor=actor)
    community = await find_community(session, programme.id, "KSM-CL")
    assert community is not None
    community.reminder_offsets_h = [24, 1]
    await session.commit()
    return programme


async def test_the_roster_export_has_the_import_columns_and_every_record(
    session: AsyncSession, built: Programme
) -> None:
    files = await export(session, built)
    for kind, text in files.items():
        assert text.startswith("\ufeff"), kind  # spreadsheets read it as UTF-8
    people = list(csv.DictReader(io.StringIO(files[ImportKind.people].lstrip("\ufeff"))))
    assert [p["external_id"] for p in people] == ["TSC-512300", "", "TSC-77", "TSC-78", ""]
    assert people[0]["facilitates"] == "KSM-01-M" and people[0]["console"] == "facilitator"
    assert people[1]["language"] == "sw"  # the one he chose
    assert people[4]["name"] == "'=Grace Nafula"  # never a formula in a spreadsheet
    schools = list(csv.DictReader(io.StringIO(files[ImportKind.schools].lstrip("\ufeff"))))
    assert [(s["code"], s["external_id"]) for s in schools] == [
        ("KSM-01", "41704108"),
        ("KSM-02", ""),
    ]
    communities = files[ImportKind.communities].lstrip("\ufeff").splitlines()
    assert communities[0] == "code,name,kind,subjects,schools,meetings_per_term"
    assert "KSM-CL,Kisumu Central Cluster CoP,cluster,Mathematics;English,KSM-01;KSM-02,4" in (
        communities
    )


async def test_the_export_imported_into_its_own_programme_changes_nothing(
    session: AsyncSession, built: Programme
) -> None:
    changed_nothing(await import_all(session, built, await export(session, built)))
    # …and the community's own reminder times are still its own.
    assert built.id is not None
    community = await find_community(session, built.id, "KSM-CL")
    assert community is not None and community.reminder_offsets_h == [24, 1]


async def test_the_export_imported_into_an_empty_programme_makes_the_same_roster(
    session: AsyncSession, built: Programme
) -> None:
    files = await export(session, built)
    copy = await empty_like(session, built, "ke-copy")
    reports = await import_all(session, copy, files)
    assert all(r.applied and not r.errors for r in reports)
    assert await export(session, copy) == files
    changed_nothing(await import_all(session, copy, files))


async def test_the_demo_roster_round_trips(session: AsyncSession) -> None:
    await seed(session)
    programmes = (await session.exec(select(Programme).order_by(Programme.slug))).all()
    assert len(programmes) == 2
    for programme in programmes:
        files = await export(session, programme)
        changed_nothing(await import_all(session, programme, files))
        copy = await empty_like(session, programme, f"{programme.slug}-copy")
        await import_all(session, copy, files)
        assert await export(session, copy) == files, programme.slug
