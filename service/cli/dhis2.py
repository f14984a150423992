"""`copline dhis2 push PROGRAMME --term … --mapping FILE [--dry-run]` and
`copline dhis2-sim`: a term's figures per school to DHIS2, and a stand-in to try it on.

Exit codes: 0 imported; 1 nothing sent or refused (a mistake in the mapping, an unknown
term, DHIS2 unreachable, refusing the credentials or failing with 5xx); 2 DHIS2 took the
payload but reported conflicts (some values ignored). Every push, whatever came of it,
is in the audit log with what was sent and DHIS2's import summary.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from service.cli.common import console, fail, operator, run, settings, unit_of_work
from service.dhis2.client import Credentials, Dhis2Unreachable, ImportSummary, post_data_values
from service.domain import audit, dhis2
from service.domain.programmes import get_programme
from service.models.types import utcnow

app = typer.Typer(help="Send a term's figures per school to DHIS2.", no_args_is_help=True)


def _read(path: Path) -> dhis2.Mapping:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise fail(f"{path} is not UTF-8 text: save it as CSV UTF-8") from None
    mapping = dhis2.parse_mapping(text)
    if mapping.problems:
        raise fail(f"{path} has mistakes:\n" + "\n".join(mapping.problems))
    return mapping


def _table(push: dhis2.Push) -> Table:
    table = Table(title=f"{push.programme}, term {push.term}, DHIS2 period {push.period}")
    for heading in ("school", "orgUnit", "figure", "dataElement", "value"):
        table.add_column(heading, justify="right" if heading == "value" else "left")
    for v in push.values:
        table.add_row(v.school, v.org_unit, v.figure, v.data_element, v.value)
    return table


def _credentials() -> Credentials:
    config = settings()
    if not config.dhis2_url:
        raise fail("set COPLINE_DHIS2_URL to the DHIS2 instance (or use --dry-run)")
    if config.dhis2_token is None and not (config.dhis2_username and config.dhis2_password):
        raise fail(
            "set COPLINE_DHIS2_TOKEN (a personal access token), or COPLINE_DHIS2_USERNAME "
            "and COPLINE_DHIS2_PASSWORD"
        )
    return Credentials(
        base_url=config.dhis2_url,
        username=config.dhis2_username,
        password=config.dhis2_password,
        token=config.dhis2_token,
        timeout_s=config.dhis2_timeout_s,
    )


@app.command()
def push(
    programme: Annotated[str, typer.Argument(help="Programme slug")],
    term: Annotated[str, typer.Option(help="The term's name")],
    mapping: Annotated[Path, typer.Option(help="The mapping CSV (kind,copline,dhis2)")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be sent; send nothing")
    ] = False,
    period: Annotated[
        str | None,
        typer.Option(help="The DHIS2 period to use (default: from the term and the mapping)"),
    ] = None,
) -> None:
    """Post the term's figures per mapped school to DHIS2 as a dataValueSets payload."""
    parsed = _read(mapping)
    credentials = None if dry_run else _credentials()

    async def build() -> dhis2.Push:
        async with unit_of_work() as session:
            found = await get_programme(session, programme)
            return await dhis2.build(session, found, term, parsed, period=period, now=utcnow())

    prepared = run(build)
    console.print(_table(prepared))
    for school, figure in prepared.skipped:
        console.print(f"not sent: {figure} of {school} (nothing to divide by)", highlight=False)
    if dry_run:
        console.print("Would POST /api/dataValueSets with:", highlight=False)
        console.print_json(json.dumps(prepared.payload))
        return
    assert credentials is not None

    async def send() -> ImportSummary:
        try:
            summary = await post_data_values(credentials, prepared.payload)
        except Dhis2Unreachable as exc:
            summary = ImportSummary(0, "ERROR", message=str(exc))
        async with unit_of_work() as session:
            found = await get_programme(session, programme)
            audit.record(
                session,
                operator(),
                "dhis2.push",
                found,
                changes={
                    "term": prepared.term,
                    "period": prepared.period,
                    "url": credentials.base_url,
                    "sent": prepared.payload,
                    "summary": summary.as_record(),
                },
            )
            await session.commit()
        return summary

    summary = run(send)
    counts = f"imported {summary.imported}, updated {summary.updated}, ignored {summary.ignored}"
    if summary.http_status == 0 or summary.http_status in (401, 403) or summary.http_status >= 500:
        raise fail(f"{summary.message}; nothing was imported")
    for conflict in summary.conflicts:
        console.print(f"conflict: {conflict['object']}: {conflict['value']}", highlight=False)
    if not summary.accepted or summary.conflicts or summary.ignored:
        raise fail(f"DHIS2 answered {summary.status} (HTTP {summary.http_status}): {counts}", 2)
    console.print(f"DHIS2 answered {summary.status}: {counts}.", highlight=False)


def dhis2_sim(
    mapping: Annotated[
        Path, typer.Option(help="A mapping CSV: its data elements and org units are known")
    ],
    host: Annotated[str, typer.Option(help="Bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (COPLINE_DHIS2_URL points here)")] = 8791,
    username: Annotated[str, typer.Option(help="The basic-auth user to expect")] = "admin",
    password: Annotated[str, typer.Option(help="The basic-auth password to expect")] = "district",
    token: Annotated[
        str | None, typer.Option(help="A personal access token to accept as well")
    ] = None,
) -> None:
    """Stand in for a DHIS2 instance's /api/dataValueSets, checking what it is sent."""
    import uvicorn

    from service.dhis2.simulator import Dhis2Stand, create_dhis2_app

    parsed = _read(mapping)
    stand = Dhis2Stand(
        username=username,
        password=password,
        data_elements=parsed.data_elements,
        org_units=parsed.org_units,
        token=token,
    )
    typer.echo(f"DHIS2 stand-in: COPLINE_DHIS2_URL=http://{host}:{port}")
    uvicorn.run(create_dhis2_app(stand), host=host, port=port, access_log=False)
