"""`copline programme create|update|list`."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import typer
from rich.table import Table

from service.cli.common import console, fail, operator, run, unit_of_work
from service.domain.programmes import (
    ProgrammeCreate,
    ProgrammeSettings,
    create_programme,
    get_programme,
    list_programmes,
    update_programme,
)
from service.models.enums import Country, Language, UssdBilling, Weekday

app = typer.Typer(help="Create, change and list programmes (the tenants).", no_args_is_help=True)

BILLING = {UssdBilling.session: "a session", UssdBilling.per_20s: "per 20 s begun"}
SHORT_CODE_HELP = "Two-way SMS short code teachers reply to, e.g. 20880 (programmes may share one)"


@app.command("create")
def create(
    slug: Annotated[str, typer.Option(help="Short id, e.g. ke-clusters")],
    name: Annotated[str, typer.Option(help="Full name shown to staff")],
    country: Annotated[Country, typer.Option(help="Country: sets phone region and currency")],
    timezone: Annotated[str, typer.Option(help="IANA zone, e.g. Africa/Nairobi")],
    service_code: Annotated[str, typer.Option(help="USSD service code, e.g. *384*123#")],
    language: Annotated[
        Language | None,
        typer.Option(help="Default language for people (default: the country's, ny in MW)"),
    ] = None,
    sender_id: Annotated[
        str | None, typer.Option(help="SMS sender id, at most 11 characters")
    ] = None,
    short_code: Annotated[str | None, typer.Option(help=SHORT_CODE_HELP)] = None,
    languages: Annotated[
        str | None, typer.Option(help="Offered languages, comma-separated (default: LANGUAGE,en)")
    ] = None,
) -> None:
    """Create a programme."""
    data: dict[str, object] = {
        "slug": slug, "name": name, "country": country, "timezone": timezone,
        "default_language": language, "service_code": service_code, "sender_id": sender_id,
        "short_code": short_code,
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


@app.command("update")
def update(
    slug: Annotated[str, typer.Option(help="The programme to change")],
    sender_id: Annotated[
        str | None, typer.Option(help="SMS sender id, at most 11 characters")
    ] = None,
    short_code: Annotated[str | None, typer.Option(help=SHORT_CODE_HELP)] = None,
    no_short_code: Annotated[
        bool,
        typer.Option(
            "--no-short-code", help="Remove its short code: it then hears replies to any code"
        ),
    ] = False,
    whatsapp_number: Annotated[
        str | None,
        typer.Option(help="WhatsApp Business number members are written from, e.g. +254711082000"),
    ] = None,
    no_whatsapp_number: Annotated[
        bool,
        typer.Option("--no-whatsapp-number", help="Remove it: WhatsApp members then get SMS"),
    ] = False,
    digest_day: Annotated[
        Weekday | None, typer.Option(help="Day school leaders get their weekly digest")
    ] = None,
    digest_time: Annotated[
        str | None, typer.Option(help="Time of the weekly digest, HH:MM programme time")
    ] = None,
    sms_price: Annotated[
        Decimal | None, typer.Option(help="Price of one SMS segment, in its currency")
    ] = None,
    ussd_price: Annotated[
        Decimal | None,
        typer.Option(help="What the network charges for a USSD session, per --ussd-billing"),
    ] = None,
    ussd_billing: Annotated[
        UssdBilling | None,
        typer.Option(help="session: the USSD price once a session; per_20s: per 20 s begun"),
    ] = None,
    whatsapp_price: Annotated[
        Decimal | None,
        typer.Option(help="Price of a WhatsApp template message; free text in the window is free"),
    ] = None,
    retention_months: Annotated[
        int | None,
        typer.Option(help="Months message texts and free-text answers are kept (default 24)"),
    ] = None,
) -> None:
    """Change a programme's SMS addresses, prices and digest time; what is not given stays
    as it is."""
    if short_code is not None and no_short_code:
        raise fail("give --short-code or --no-short-code, not both")
    if whatsapp_number is not None and no_whatsapp_number:
        raise fail("give --whatsapp-number or --no-whatsapp-number, not both")
    data: dict[str, object] = {}
    if sender_id is not None:
        data["sender_id"] = sender_id
    if short_code is not None or no_short_code:
        data["short_code"] = short_code
    if whatsapp_number is not None or no_whatsapp_number:
        data["whatsapp_number"] = whatsapp_number
    if digest_day is not None:
        data["digest_day"] = digest_day
    if digest_time is not None:
        data["digest_time"] = digest_time
    prices = {
        "sms_price": sms_price,
        "ussd_price": ussd_price,
        "ussd_billing": ussd_billing,
        "whatsapp_price": whatsapp_price,
        "retention_months": retention_months,
    }
    data |= {name: value for name, value in prices.items() if value is not None}
    if not data:
        raise fail(
            "nothing to change: give --sender-id, --short-code, --no-short-code, "
            "--whatsapp-number, --no-whatsapp-number, --sms-price, "
            "--ussd-price, --ussd-billing, --whatsapp-price, --digest-day, --digest-time "
            "or --retention-months"
        )

    async def work() -> None:
        async with unit_of_work() as session:
            programme = await get_programme(session, slug)
            assert programme.id is not None
            changed = await update_programme(
                programme.id,
                ProgrammeSettings.model_validate(data),
                session=session,
                actor=operator(),
            )
            await session.commit()
            console.print(
                f"Programme [bold]{changed.slug}[/]: sender id {changed.sender_id or '-'}, "
                f"short code {changed.short_code or '- (it hears replies to any code)'}, "
                f"WhatsApp {changed.whatsapp_number or '- (members get SMS)'}; "
                f"SMS {changed.sms_price} {changed.currency} a segment, USSD "
                f"{changed.ussd_price} {changed.currency} {BILLING[changed.ussd_billing]}, "
                f"WhatsApp {changed.whatsapp_price} {changed.currency} a template; "
                f"digest {changed.digest_day.value} {changed.digest_time:%H:%M}; "
                f"texts kept {changed.retention_months} months",
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
                            p.short_code or "",
                        ]
                    )
                )
            return
        table = Table(
            "slug", "name", "country", "timezone", "languages", "USSD", "sender", "short code"
        )
        for p in programmes:
            table.add_row(
                p.slug,
                p.name,
                p.country,
                p.timezone,
                ",".join(p.languages),
                p.service_code,
                p.sender_id or "",
                p.short_code or "",
            )
        console.print(table)

    run(work)
