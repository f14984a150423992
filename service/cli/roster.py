"""`copline import schools|communities|people FILE.csv --programme SLUG`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from service.cli.common import console, errors, fail, operator, run, unit_of_work
from service.domain.outcome import Outcome
from service.domain.programmes import get_programme
from service.roster import FileError, ImportKind, ImportReport, import_csv, iter_errors, read_csv

app = typer.Typer(help="Import rosters from CSV (columns in the README).", no_args_is_help=True)

PROGRESS_FROM = 200  # rows; smaller files finish before a bar is worth drawing


def _print(report: ImportReport, path: Path, skip_invalid: bool) -> None:
    o = report.outcomes
    bad = len(report.errors)
    for line in iter_errors(report):
        errors.print(f"  {path.name} {line}", highlight=False, markup=False)
    if not report.applied:
        errors.print(
            f"[bold red]Nothing imported:[/] {bad} of {report.rows} row(s) in {path.name} "
            "are invalid. Fix them, or re-run with --skip-invalid to import the others.",
            highlight=False,
        )
        return
    summary = (
        f"{path.name}: {report.rows} row(s) — {o[Outcome.created]} created, "
        f"{o[Outcome.updated]} updated, {o[Outcome.unchanged]} unchanged"
    )
    if skip_invalid and bad:
        summary += f", {bad} skipped as invalid"
    console.print(summary, highlight=False)


def _command(kind: ImportKind) -> None:
    def command(
        file: Annotated[Path, typer.Argument(help="CSV file, UTF-8, header row first")],
        programme: Annotated[str, typer.Option(help="Programme slug")],
        skip_invalid: Annotated[
            bool, typer.Option(help="Import the good rows and report the bad ones")
        ] = False,
    ) -> None:
        try:
            rows = read_csv(file, kind)
        except FileError as exc:
            raise fail(str(exc)) from None

        async def work() -> ImportReport:
            async with unit_of_work() as session:
                prog = await get_programme(session, programme)
                with Progress(
                    TextColumn(f"importing {kind}"), BarColumn(), MofNCompleteColumn(),
                    console=errors, transient=True, disable=len(rows) < PROGRESS_FROM,
                ) as progress:  # fmt: skip
                    task = progress.add_task(kind, total=len(rows))
                    return await import_csv(
                        kind, rows, prog, session=session, actor=operator(),
                        skip_invalid=skip_invalid, on_row=lambda: progress.advance(task),
                    )  # fmt: skip

        report = run(work)
        _print(report, file, skip_invalid)
        if not report.applied:
            raise typer.Exit(1)

    command.__doc__ = f"Import {kind} from a CSV file (upsert: re-importing changes nothing)."
    app.command(kind.value)(command)


for _kind in ImportKind:
    _command(_kind)
