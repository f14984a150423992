"""`copline export` as an operator runs it: a file that travels by email carries no phones
unless asked, and a failed export leaves no file behind."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest
import pytest_asyncio
from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner, Result

from service.cli.main import app
from service.domain import exports
from tests.service.test_exports import WHOLE_PHONE, Exportable, build


@pytest_asyncio.fixture
async def world(session: AsyncSession) -> Exportable:
    return await build(session)


async def copline(cli: CliRunner, *args: str) -> Result:
    # The command runs its own event loop, so it runs beside the test's, in a thread.
    return await asyncio.to_thread(cli.invoke, app, list(args))


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def read(path: Path) -> tuple[str, list[dict[str, str]]]:
    # utf-8-sig: the file starts with the byte-order mark spreadsheets look for.
    text = path.read_text(encoding="utf-8-sig")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return text, list(csv.DictReader(handle))


async def test_attendance_goes_out_with_masked_phones_by_default(
    cli: CliRunner, workdir: Path, world: Exportable
) -> None:
    result = await copline(
        cli, "export", "attendance", "--programme", "ke-clusters", "--out", "attendance.csv"
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 6 attendance row(s) to attendance.csv" in result.stdout
    assert "phones masked" in result.stdout
    assert (workdir / "attendance.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    text, rows = read(workdir / "attendance.csv")
    assert list(rows[0]) == exports.ATTENDANCE_COLUMNS and len(rows) == 6
    assert WHOLE_PHONE.search(text) is None
    assert files(workdir) == ["attendance.csv"]  # no temp file left behind


async def test_pii_writes_whole_phones_and_the_words_people_sent(
    cli: CliRunner, workdir: Path, world: Exportable
) -> None:
    result = await copline(
        cli, "export", "messages", "--programme", "ke-clusters", "--out", "sms.csv", "--pii"
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 2 messages row(s)" in result.stdout and "masked" not in result.stdout
    _, rows = read(workdir / "sms.csv")
    assert [r["phone"] for r in rows] == [m.phone for m in world.a.members]
    assert rows[1]["body"] == "Pole, mtoto wangu ni mgonjwa"


@pytest.mark.parametrize(("term", "count"), [("Term 1", 3), ("Term 2", 1)])
async def test_a_term_narrows_the_file(
    cli: CliRunner, workdir: Path, world: Exportable, term: str, count: int
) -> None:
    result = await copline(
        cli, "export", "responses", "--programme", "ke-clusters", "--term", term, "--out", "r.csv"
    )
    assert result.exit_code == 0, result.output
    assert f"Wrote {count} responses row(s)" in result.stdout
    assert len(read(workdir / "r.csv")[1]) == count


async def test_an_unknown_term_fails_and_leaves_the_old_file_alone(
    cli: CliRunner, workdir: Path, world: Exportable
) -> None:
    (workdir / "attendance.csv").write_text("yesterday's export\n", encoding="utf-8")
    args = ["--programme", "ke-clusters", "--term", "Term 9", "--out", "attendance.csv"]
    result = await copline(cli, "export", "attendance", *args)
    assert result.exit_code == 1
    assert "no term named 'Term 9'" in result.stderr
    assert (workdir / "attendance.csv").read_text(encoding="utf-8") == "yesterday's export\n"
    assert files(workdir) == ["attendance.csv"]


async def test_an_unknown_programme_writes_no_file(
    cli: CliRunner, workdir: Path, world: Exportable
) -> None:
    result = await copline(cli, "export", "messages", "--programme", "nowhere", "--out", "m.csv")
    assert result.exit_code == 1
    assert "no programme with slug 'nowhere'" in result.stderr
    assert files(workdir) == []


async def test_the_roster_goes_out_in_the_imports_files_and_comes_back_changing_nothing(
    cli: CliRunner, workdir: Path, world: Exportable
) -> None:
    result = await copline(
        cli, "export", "roster", "--programme", "ke-clusters", "--out", "roster", "--pii"
    )
    assert result.exit_code == 0, result.output
    folder = workdir / "roster"
    assert files(folder) == ["communities.csv", "people.csv", "schools.csv"]
    assert "Wrote 1 schools row(s)" in result.stdout and "masked" not in result.stdout
    for name in files(folder):
        assert (folder / name).read_bytes().startswith(b"\xef\xbb\xbf")
    _, people = read(folder / "people.csv")
    assert {m.phone for m in world.a.members} <= {p["phone"] for p in people}
    for kind in ("schools", "communities", "people"):
        back = await copline(
            cli, "import", kind, str(folder / f"{kind}.csv"), "--programme", "ke-clusters"
        )
        assert back.exit_code == 0, back.output
        assert " 0 created, 0 updated, " in back.stdout, back.stdout


async def test_the_roster_without_pii_masks_phones_and_says_it_cannot_come_back(
    cli: CliRunner, workdir: Path, world: Exportable
) -> None:
    result = await copline(cli, "export", "roster", "--programme", "ke-clusters", "--out", ".")
    assert result.exit_code == 0, result.output
    assert "people.csv cannot be imported back" in result.stdout
    text, _ = read(workdir / "people.csv")
    assert WHOLE_PHONE.search(text) is None
    missing = await copline(cli, "export", "roster", "--programme", "nowhere", "--out", "gone")
    assert missing.exit_code == 1 and "no programme with slug 'nowhere'" in missing.stderr
    assert not (workdir / "gone").exists()
