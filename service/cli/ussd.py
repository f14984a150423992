"""`copline ussd --phone NUMBER`: a terminal phone that dials the running service like AT."""

from __future__ import annotations

import asyncio
from typing import Annotated

import httpx
import typer
from sqlmodel import col, select

from service.cli.common import errors, fail, run, settings, unit_of_work
from service.models import Person, Programme
from ussd_menus.phone import Phone


async def _service_code_for(phone: str) -> str:
    async with unit_of_work() as session:
        stmt = (
            select(Programme.service_code)
            .join(Person, col(Person.programme_id) == Programme.id)
            .where(Person.phone == phone)
        )
        codes = sorted(set((await session.exec(stmt)).all()))
    if len(codes) != 1:
        found = "no programme" if not codes else f"{len(codes)} programmes"
        raise fail(f"{phone} is known to {found}: pass --service-code")
    return codes[0]


def ussd(
    phone: Annotated[str, typer.Option(help="The number that dials, E.164 (+2547…)")],
    service_code: Annotated[
        str | None, typer.Option(help="USSD code; default: the programme that knows PHONE")
    ] = None,
    url: Annotated[str, typer.Option(help="Where copline serves")] = "http://127.0.0.1:8000",
) -> None:
    """Dial the running service from the terminal, as a feature phone would."""
    config = settings()
    token = config.callback_token.get_secret_value()

    async def call() -> None:
        code = service_code or await _service_code_for(phone)
        async with httpx.AsyncClient(base_url=url, timeout=15) as client:
            handset = Phone(client, number=phone, service_code=code, token=token)
            try:
                print(await handset.dial())
                while not handset.ended:
                    try:
                        typed = await asyncio.to_thread(input, "> ")
                    except EOFError:
                        break
                    print(await handset.press(typed.strip()))
            except httpx.HTTPError as exc:
                raise fail(f"cannot reach copline at {url}: {exc}") from None
        errors.print("[session ended]")

    run(call)
