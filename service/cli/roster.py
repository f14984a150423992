"""`copline import schools|communities|people FILE.csv --programme SLUG`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from service.cli.common import console, errors, fail, operator, run, unit_of_work
from service.domain.outcome import Outcome
from service.domain.programmes import get_programme
from service.roster import (
    FileError,
    ImportKind,
    ImportReport,
    Phase,
    import_csv,
    iter_errors,
    read_csv,
)
from service.roster import Progress as Tell

app = typer.Typer(help="Import rosters from CSV (columns in the README).", no_args_is_help=True)

PROGRESS_FROM = 200  # rows; smaller files finish before a bar is worth drawing


def _counts(report: ImportReport) -> str:
    o = report.outcomes
    return (
        f"{o[Outcome.created]} created, {o[Outcome.updated]} updated, "
        f"{o[Outcome.unchanged]} unchanged"
    )


def _print(report: ImportReport, path: Path, skip_invalid: bool) -> None:
    bad = len(report.errors)
    name = escape(path.name)
    for line in iter_errors(report):
        errors.print(f"  {path.name} {line}", highlight=False, markup=False)
    if report.failure is not None:
        errors.print(
            f"[bold red]error:[/] writing {name} stopped at {escape(report.failure)}. "
            f"{report.written} of {report.valid} valid row(s) written ({_counts(report)}) "
            "before it stopped. Run the same import again to finish: the rows already "
            "written will count as unchanged.",
            highlight=False,
        )
        return
    if not report.applied:
        errors.print(
            f"[bold red]Nothing imported:[/] {bad} of {report.rows} row(s) in {name} "
            "are invalid. Fix them, or re-run with --skip-invalid to import the others.",
            highlight=False,
        )
        return
    summary = f"{path.name}: {report.rows} row(s) — {_counts(report)}"
    if skip_invalid and bad:
        summary += f", {bad} skipped as invalid"
    console.print(summary, highlight=False, markup=False)
    if report.kept_own_language:
        console.print(
            f"{report.kept_own_language} row(s) kept the language the person chose "
            "(by USSD, or asked for) instead of the file's.",
            highlight=False,
        )
    if report.kept_own_reach:
        console.print(
            f"{report.kept_own_reach} row(s) kept WhatsApp, which the person chose "
            "themselves, instead of the file's channel.",
            highlight=False,
        )


@contextmanager
def _progress(kind: ImportKind, rows: int) -> Iterator[Tell]:
    """One bar while every row is checked (nothing written yet), one while they are written."""
    with Progress(
        TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
        console=errors, transient=True, disable=rows < PROGRESS_FROM,
    ) as progress:  # fmt: skip
        tasks: dict[Phase, TaskID] = {}

        def tell(phase: Phase, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(f"{phase.value} {kind.value}", total=total)
            progress.advance(tasks[phase], done)

        yield tell


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
                with _progress(kind, len(rows)) as tell:
                    return await import_csv(
                        kind, rows, prog, session=session, actor=operator(),
                        skip_invalid=skip_invalid, progress=tell,
                    )  # fmt: skip

        report = run(work)
        _print(report, file, skip_invalid)
        if not report.applied:
            raise typer.Exit(1)

    command.__doc__ = f"Import {kind} from a CSV file (upsert: re-importing changes nothing)."
    app.command(kind.value)(command)


for _kind in ImportKind:
    _command(_kind)
