"""`copline apikey create|list|revoke`."""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli.common import console, errors, operator, run, unit_of_work
from service.domain.apikeys import (
    create_api_key,
    find_by_prefix,
    list_api_keys,
    parse_scopes,
    revoke_api_key,
)
from service.domain.errors import NotFound
from service.domain.programmes import get_programme

app = typer.Typer(
    help="Partner API keys: scoped to one programme, shown once.", no_args_is_help=True
)


@app.command("create")
def create(
    programme: Annotated[str, typer.Option(help="Programme slug")],
    scopes: Annotated[
        str, typer.Option(help="Comma-separated: read, read:pii, write, sms:send, admin")
    ],
    name: Annotated[str, typer.Option(help="Who or what the key is for")] = "partner app",
) -> None:
    """Create a key. It is printed once: store it in the partner app's secrets."""

    async def work() -> None:
        async with unit_of_work() as session:
            prog = await get_programme(session, programme)
            issued = await create_api_key(
                prog, name, parse_scopes(scopes.split(",")), session=session, actor=operator()
            )
            await session.commit()
        errors.print(
            f"API key {issued.key.prefix} for {prog.slug} ({', '.join(issued.key.scopes)}). "
            "It is shown only now:", highlight=False,
        )  # fmt: skip
        print(issued.secret)

    run(work)


@app.command("list")
def list_(programme: Annotated[str, typer.Option(help="Programme slug")]) -> None:
    """List a programme's keys (never their secrets)."""

    async def work() -> None:
        async with unit_of_work() as session:
            prog = await get_programme(session, programme)
            assert prog.id is not None
            keys = await list_api_keys(session, prog.id)
        for key in keys:
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            used = f"{key.last_used_at:%Y-%m-%d %H:%M}Z" if key.last_used_at else "never used"
            print("\t".join([key.prefix, key.name, ",".join(key.scopes), state, used]))

    run(work)


@app.command("revoke")
def revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix (from `copline apikey list`)")],
    programme: Annotated[str, typer.Option(help="Programme slug")],
) -> None:
    """Revoke a key at once."""

    async def work() -> None:
        async with unit_of_work() as session:
            prog = await get_programme(session, programme)
            key = await find_by_prefix(session, prefix)
            assert prog.id is not None and key.id is not None
            if key.programme_id != prog.id:
                raise NotFound(f"no API key with prefix {prefix!r} in {prog.slug}")
            await revoke_api_key(prog.id, key.id, session=session, actor=operator())
            await session.commit()
        console.print(f"Revoked API key {prefix}.")

    run(work)
