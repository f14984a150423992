"""`copline export flow-results`: a folder or a zip that a Data Package reader opens."""

from __future__ import annotations

import asyncio
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest_asyncio
from frictionless import Package
from frictionless.resources import TableResource
from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner, Result

from service.cli.main import app
from tests.flow_results import OWN_WORDS, Answered, answered_survey, check_package


@pytest_asyncio.fixture
async def answered(session: AsyncSession) -> Answered:
    return await answered_survey(session)


async def copline(cli: CliRunner, *args: str) -> Result:
    return await asyncio.to_thread(cli.invoke, app, list(args))


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def read_back(folder: Path) -> list[dict[str, Any]]:
    """The rows as frictionless reads them. It cannot fetch a profile named
    `flow-results-package`, so, as Ona's FLOIP reader does, it is read as a
    `data-package`; everything else is read as written."""
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    descriptor["profile"] = "data-package"
    package = Package(descriptor, basepath=str(folder))
    report = package.validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    table = package.resources[0]
    assert isinstance(table, TableResource)  # read as a table of seven columns
    return [row.to_dict() for row in table.read_rows()]


async def test_a_folder_package_validates_and_reads_back_with_frictionless(
    cli: CliRunner, workdir: Path, answered: Answered
) -> None:
    result = await copline(
        cli, "export", "flow-results", "--programme", "ke-clusters",
        "--survey", "term-check", "--out", "term-check",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "term-check v1 as a Flow Results package with 6 response row(s)" in result.stdout
    assert "contacts pseudonymous" in result.stdout
    folder = workdir / "term-check"
    assert names(folder) == ["datapackage.json", "responses.json"]
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    rows = json.loads((folder / "responses.json").read_text(encoding="utf-8"))
    check_package(descriptor, rows)

    read = read_back(folder)
    assert len(read) == 6
    assert [r["question_id"] for r in read[:4]] == ["q1", "q2", "q3", "q4"]
    assert read[0]["response"] == "Ustawi" and read[1]["response"] == 4
    assert read[0]["timestamp"].utcoffset().total_seconds() == 3 * 3600
    assert read[0]["response_metadata"] == {"channel": "ussd", "option": "2"}
    assert names(workdir) == ["term-check"]  # nothing staged left


async def test_a_zip_with_pii_holds_the_words_people_typed(
    cli: CliRunner, workdir: Path, answered: Answered
) -> None:
    result = await copline(
        cli, "export", "flow-results", "--programme", "ke-clusters",
        "--survey", "term-check", "--version", "1", "--out", "out/pkg.zip", "--pii",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(workdir / "out" / "pkg.zip") as archive:
        assert sorted(archive.namelist()) == ["datapackage.json", "responses.json"]
        archive.extractall(workdir / "unzipped")
    read = read_back(workdir / "unzipped")
    assert len(read) == 7 and OWN_WORDS in [r["response"] for r in read]


async def test_an_unknown_survey_writes_nothing_and_names_the_ones_there_are(
    cli: CliRunner, workdir: Path, answered: Answered
) -> None:
    result = await copline(
        cli, "export", "flow-results", "--programme", "ke-clusters",
        "--survey", "nope", "--out", "pkg",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "no survey nope in ke-clusters (surveys: reflection v1, term-check v1)" in result.output
    assert names(workdir) == []
