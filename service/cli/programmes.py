"""`copline programme create|list`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from service.cli.common import console, operator, run, unit_of_work
from service.domain.programmes import ProgrammeCreate, create_programme, list_programmes
from service.models.enums import Country, Language

app = typer.Typer(help="Create and list programmes (the tenants).", no_args_is_help=True)


@app.command("create")
def create(
    slug: Annotated[str, typer.Option(help="Short id, e.g. ke-clusters")],
    name: Annotated[str, typer.Option(help="Full name shown to staff")],
    country: Annotated[Country, typer.Option(help="Country: sets phone region and currency")],
    timezone: Annotated[str, typer.Option(help="IANA zone, e.g. Africa/Nairobi")],
    language: Annotated[Language, typer.Option(help="Default language for people")],
    service_code: Annotated[str, typer.Option(help="USSD service code, e.g. *384*123#")],
    sender_id: Annotated[
        str | None, typer.Option(help="SMS sender id, at most 11 characters")
    ] = None,
    languages: Annotated[
        str | None, typer.Option(help="Offered languages, comma-separated (default: LANGUAGE,en)")
    ] = None,
) -> None:
    """Create a programme."""
    data: dict[str, object] = {
        "slug": slug, "name": name, "country": country, "timezone": timezone,
        "default_language": language, "service_code": service_code, "sender_id": sender_id,
    }  # fmt: skip
    if languages:
        data["languages"] = [part.strip() for part in languages.split(",") if part.strip()]

    async def work() -> None:
        async with unit_of_work() as session:
            programme = await create_programme(
                ProgrammeCreate.model_validate(data), session=session, actor=operator()
            )
            await session.commit()
            console.print(
                f"Created programme [bold]{programme.slug}[/] ({programme.name}): "
                f"{programme.country}, {programme.timezone}, "
                f"languages {', '.join(programme.languages)}, USSD {programme.service_code}",
                highlight=False,
            )

    run(work)


@app.command("list")
def list_() -> None:
    """List every programme."""

    async def work() -> None:
        async with unit_of_work() as session:
            programmes = await list_programmes(session)
        if not programmes:
            console.print("No programmes yet. Create one with `copline programme create`.")
            return
        if not console.is_terminal:  # scripts get one tab-separated line per programme
            for p in programmes:
                print(
                    "\t".join(
                        [
                            p.slug,
                            p.name,
                            p.country,
                            p.timezone,
                            ",".join(p.languages),
                            p.service_code,
                            p.sender_id or "",
                        ]
                    )
                )
            return
        table = Table("slug", "name", "country", "timezone", "languages", "USSD", "sender")
        for p in programmes:
            table.add_row(
                p.slug,
                p.name,
                p.country,
                p.timezone,
                ",".join(p.languages),
                p.service_code,
                p.sender_id or "",
            )
        console.print(table)

    run(work)
