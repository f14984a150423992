"""`copline import` from a terminal: what an operator sees for a good and a bad file."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner

from service import db
from service.cli.main import app
from service.domain.actor import Actor
from service.domain.people import set_language
from service.models import Person, Programme
from service.models.enums import Channel, Language
from tests.service.cli.test_programme_command import CREATE
from tests.service.roster.test_importer import COMMUNITIES, PEOPLE, SCHOOLS


def _prepare(cli: CliRunner, folder: Path) -> Path:
    assert cli.invoke(app, CREATE).exit_code == 0
    for kind, text in (("schools", SCHOOLS), ("communities", COMMUNITIES), ("people", PEOPLE)):
        (folder / f"{kind}.csv").write_text(text, encoding="utf-8")
    for kind in ("schools", "communities"):
        result = cli.invoke(
            app, ["import", kind, str(folder / f"{kind}.csv"), "--programme", "ke-clusters"]
        )
        assert result.exit_code == 0, result.output
    return folder / "people.csv"


def test_a_bad_file_lists_every_bad_row_and_imports_nothing(cli: CliRunner, workdir: Path) -> None:
    people = _prepare(cli, workdir)
    result = cli.invoke(app, ["import", "people", str(people), "--programme", "ke-clusters"])
    assert result.exit_code == 1
    assert "people.csv line 5: duplicate phone +254712345678: already on line 2" in result.stderr
    assert "people.csv line 6: unknown school 'NOPE-99'" in result.stderr
    assert "people.csv line 7:" in result.stderr
    assert "Nothing imported: 3 of 7 row(s)" in result.stderr


def test_skip_invalid_then_a_second_run_reports_everything_unchanged(
    cli: CliRunner, workdir: Path
) -> None:
    people = _prepare(cli, workdir)
    args = ["import", "people", str(people), "--programme", "ke-clusters", "--skip-invalid"]
    first = cli.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "7 row(s) — 4 created, 0 updated, 0 unchanged, 3 skipped as invalid" in first.stdout
    second = cli.invoke(app, args)
    assert "7 row(s) — 0 created, 0 updated, 4 unchanged, 3 skipped as invalid" in second.stdout


def test_an_unknown_programme_is_reported(cli: CliRunner, workdir: Path) -> None:
    people = _prepare(cli, workdir)
    result = cli.invoke(app, ["import", "people", str(people), "--programme", "nowhere"])
    assert result.exit_code == 1
    assert "no programme with slug 'nowhere'" in result.stderr


def test_migrate_check_finds_models_and_migrations_in_agreement(cli: CliRunner) -> None:
    result = cli.invoke(app, ["migrate", "--check"])
    assert result.exit_code == 0, result.output
    assert "Models and migrations agree." in result.stdout


def test_a_cell_too_big_to_read_names_its_line_without_a_traceback(
    cli: CliRunner, workdir: Path
) -> None:
    people = _prepare(cli, workdir)
    huge = "x" * 2_000_000
    people.write_text(f'name,phone\nAchieng,0712345678\n"{huge}",0722000111\n', encoding="utf-8")
    result = cli.invoke(app, ["import", "people", str(people), "--programme", "ke-clusters"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: people.csv line 3: a cell is longer than 131,072")
    assert result.exception is None or isinstance(result.exception, SystemExit)


async def test_the_summary_counts_rows_that_kept_the_language_a_person_chose(
    cli: CliRunner, workdir: Path, session: AsyncSession
) -> None:
    people = await asyncio.to_thread(_prepare, cli, workdir)
    args = ["import", "people", str(people), "--programme", "ke-clusters", "--skip-invalid"]
    # The command runs its own event loop, so it runs beside the test's, in a thread.
    assert (await asyncio.to_thread(cli.invoke, app, args)).exit_code == 0
    person = (await session.exec(select(Person).where(Person.phone == "+254712345678"))).one()
    assert person.id is not None
    programme = await session.get_one(Programme, person.programme_id)
    actor = Actor.person(person.id, Channel.ussd)
    await set_language(programme, person.id, Language.en, session=session, actor=actor)
    await session.commit()
    again = await asyncio.to_thread(cli.invoke, app, args)
    assert "4 unchanged, 3 skipped as invalid" in again.stdout
    assert "1 row(s) kept the language the person chose" in again.stdout


def test_a_database_failure_mid_write_says_how_far_it_got_and_to_run_it_again(
    cli: CliRunner, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = _prepare(cli, workdir)
    args = ["import", "people", str(people), "--programme", "ke-clusters", "--skip-invalid"]
    build = db.build_engine

    def failing(*a: Any, **kw: Any) -> AsyncEngine:
        engine = build(*a, **kw)

        def goes_away(_conn: object, _cursor: object, statement: str, *_a: object) -> None:
            if statement.lstrip().upper().startswith("INSERT INTO MEMBERSHIP"):
                raise OperationalError(statement, None, ConnectionError("connection refused"))

        event.listen(engine.sync_engine, "before_cursor_execute", goes_away)
        return engine

    monkeypatch.setattr(db, "build_engine", failing)
    result = cli.invoke(app, args)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "error: writing people.csv stopped at lines 2-8" in result.stderr
    assert "connection refused" in result.stderr
    assert "0 of 4 valid row(s) written" in result.stderr
    assert "Run the same import again to finish" in result.stderr
