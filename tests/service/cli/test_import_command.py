"""`copline import` from a terminal: what an operator sees for a good and a bad file."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from service.cli.main import app
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
