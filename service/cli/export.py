"""`copline export attendance|responses|messages --programme SLUG --out FILE.csv`,
`copline export flow-results --programme SLUG --survey KEY --out FOLDER|FILE.zip`, and
`copline export roster --programme SLUG --out DIR`: the roster in the import's own files."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from service.cli.common import console, fail, run, settings, unit_of_work
from service.domain import flow_results
from service.domain.exports import EXPORTS, ExportKind, csv_chunks, prepare
from service.domain.programmes import get_programme
from service.roster.export import roster_csv
from service.roster.report import ImportKind

app = typer.Typer(
    help="Export a programme's records as CSV, or a survey as a Flow Results package.",
    no_args_is_help=True,
)

ABOUT = {
    ExportKind.attendance: "one row per meeting and member of its community",
    ExportKind.responses: "one row per survey answer",
    ExportKind.messages: "one row per SMS, in or out",
}


async def _write(kind: ExportKind, programme: str, term: str | None, pii: bool, out: TextIO) -> int:
    """Write the export to `out`; the number of records (the header not counted)."""
    written = -1

    async def counted(rows: AsyncIterator[list[str]]) -> AsyncIterator[list[str]]:
        nonlocal written
        async for row in rows:
            written += 1
            yield row

    async with unit_of_work() as session:
        spec = await prepare(session, await get_programme(session, programme), term=term, pii=pii)
        async for chunk in csv_chunks(counted(EXPORTS[kind](session, spec))):
            out.write(chunk)
    return written


def _replace(out: Path, text: str) -> None:
    """Written beside the target and renamed at the end: a failed export leaves no file
    (and an older export under that name untouched), never half of one."""
    try:
        fd, part = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)  # the text starts with its byte-order mark
        os.replace(part, out)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise


def _command(kind: ExportKind) -> None:
    def command(
        programme: Annotated[str, typer.Option(help="Programme slug")],
        out: Annotated[Path, typer.Option(help="The CSV file to write")],
        term: Annotated[str | None, typer.Option(help="Only this term (its name)")] = None,
        pii: Annotated[
            bool, typer.Option(help="Whole phone numbers, SMS texts and free-text answers")
        ] = False,
    ) -> None:
        # Written beside the target and renamed at the end: a failed export leaves no
        # file (and an older export under that name untouched), never half of one.
        try:
            fd, part = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
        except OSError as exc:
            raise fail(f"cannot write {out}: {exc.strerror or exc}") from None
        try:
            # utf-8-sig: with the byte-order mark a spreadsheet opens the file as UTF-8.
            with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as handle:
                written = run(lambda: _write(kind, programme, term, pii, handle))
            os.replace(part, out)
        except BaseException:
            Path(part).unlink(missing_ok=True)
            raise
        masked = "" if pii else " (phones masked, texts left out; --pii to include them)"
        console.print(
            f"Wrote {written} {kind} row(s) to {out}{masked}.", highlight=False, markup=False
        )

    command.__doc__ = f"Export {kind} as CSV: {ABOUT[kind]}."
    app.command(kind.value)(command)


for _kind in ExportKind:
    _command(_kind)


async def _package(
    programme: str, survey: str, version: int | None, pii: bool, folder: Path
) -> tuple[flow_results.PackageSpec, int]:
    """Write `datapackage.json` and `responses.json` into `folder`; the rows written."""
    written = 0
    async with unit_of_work() as session:
        found = await get_programme(session, programme)
        secret = settings().secret_key.get_secret_value()
        spec = await flow_results.find(session, found, survey, version, pii=pii, secret=secret)
        descriptor = flow_results.descriptor(spec, flow_results.RESPONSES_FILE)
        (folder / "datapackage.json").write_text(
            json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )

        async def counted() -> AsyncIterator[list[Any]]:
            nonlocal written
            async for row in flow_results.rows(session, spec):
                written += 1
                yield row

        with (folder / flow_results.RESPONSES_FILE).open("w", encoding="utf-8") as handle:
            async for chunk in flow_results.json_chunks(counted()):
                handle.write(chunk)
    return spec, written


@app.command("flow-results")
def flow_results_package(
    programme: Annotated[str, typer.Option(help="Programme slug")],
    survey: Annotated[str, typer.Option(help="The survey's key, e.g. reflection")],
    out: Annotated[Path, typer.Option(help="A folder to write the package into, or a FILE.zip")],
    version: Annotated[
        int | None, typer.Option(min=1, help="The survey version (default: the latest)")
    ] = None,
    pii: Annotated[
        bool, typer.Option(help="Phones as contact ids, and the answers to short-text questions")
    ] = False,
) -> None:
    """Export a survey version as a FLOIP Flow Results package (datapackage.json and
    responses.json), as a folder or a zip."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part"))
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror or exc}") from None
    try:
        spec, written = run(lambda: _package(programme, survey, version, pii, staging))
        names = ["datapackage.json", flow_results.RESPONSES_FILE]
        if out.suffix.lower() == ".zip":
            zipped = staging / "package.zip"
            with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
                for name in names:
                    archive.write(staging / name, arcname=name)
            os.replace(zipped, out)
        else:
            # Both files land only once both were written: never half a package.
            out.mkdir(exist_ok=True)
            for name in names:
                os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    masked = (
        ""
        if pii
        else " (contacts pseudonymous, short-text answers left out; --pii to include them)"
    )
    console.print(
        f"Wrote {spec.key} v{spec.version} as a Flow Results package with {written} "
        f"response row(s) to {out}{masked}.",
        highlight=False,
        markup=False,
    )


@app.command("roster")
def roster(
    programme: Annotated[str, typer.Option(help="Programme slug")],
    out: Annotated[Path, typer.Option(help="The folder to write the three files in")],
    pii: Annotated[
        bool, typer.Option(help="Whole phone numbers (without them people.csv cannot be imported)")
    ] = False,
) -> None:
    """Export the roster as schools.csv, communities.csv and people.csv, in the columns
    `copline import` reads: imported back they change nothing."""

    async def read() -> dict[ImportKind, str]:
        async with unit_of_work() as session:
            found = await get_programme(session, programme)
            assert found.id is not None
            return {k: await roster_csv(session, found.id, k, pii=pii) for k in ImportKind}

    files = run(read)  # read first: an unknown programme writes nothing
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fail(f"cannot write to {out}: {exc.strerror or exc}") from None
    for kind, text in files.items():
        _replace(out / f"{kind.value}.csv", text)
        rows = len(list(csv.reader(io.StringIO(text)))) - 1
        console.print(f"Wrote {rows} {kind} row(s) to {out / f'{kind.value}.csv'}.", markup=False)
    if not pii:
        console.print(
            "Phones are masked: people.csv cannot be imported back (--pii to include them).",
            highlight=False,
            markup=False,
        )
