"""`copline console grant|revoke|sessions-revoke`: who may sign in to the web console."""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli.common import console, fail, operator, run, unit_of_work
from service.domain.console_access import end_sessions, person_by_phone, set_console_role
from service.domain.programmes import get_programme
from service.models.enums import ConsoleRole
from service.models.types import utcnow

app = typer.Typer(
    help="Web console access: a role per person, who signs in with an SMS code.",
    no_args_is_help=True,
)

ROLES = ", ".join(role.value for role in ConsoleRole)


def _role(value: str) -> ConsoleRole:
    try:
        return ConsoleRole(value.strip().lower().replace("-", "_"))
    except ValueError:
        raise fail(f"unknown console role {value!r} (known: {ROLES})") from None


@app.command("grant")
def grant(
    programme: Annotated[str, typer.Argument(help="Programme slug")],
    phone: Annotated[str, typer.Argument(help="The person's number, any local or E.164 form")],
    role: Annotated[str, typer.Argument(help=ROLES)],
) -> None:
    """Let a person of the programme sign in to the console with ROLE (or change their
    role: their open sessions end, as what they may reach changes)."""
    wanted = _role(role)

    async def work() -> None:
        async with unit_of_work() as session:
            prog = await get_programme(session, programme)
            person = await person_by_phone(session, prog, phone)
            changed = await set_console_role(
                session, person, wanted, actor=operator(), now=utcnow()
            )
            await session.commit()
        if changed:
            console.print(
                f"{person.name} ({person.phone}) may now sign in to the {prog.slug} console "
                f"as {wanted.value}.",
                highlight=False,
            )
        else:
            console.print(f"{person.name} already has {wanted.value}; nothing changed.")

    run(work)


@app.command("revoke")
def revoke(
    programme: Annotated[str, typer.Argument(help="Programme slug")],
    phone: Annotated[str, typer.Argument(help="The person's number, any local or E.164 form")],
) -> None:
    """Take away a person's console access; their open sessions end at once."""

    async def work() -> None:
        async with unit_of_work() as session:
            prog = await get_programme(session, programme)
            person = await person_by_phone(session, prog, phone)
            changed = await set_console_role(session, person, None, actor=operator(), now=utcnow())
            await session.commit()
        if changed:
            console.print(
                f"{person.name} ({person.phone}) may no longer sign in to the {prog.slug} "
                "console; their sessions have ended.",
                highlight=False,
            )
        else:
            console.print(f"{person.name} had no console access; nothing changed.")

    run(work)


@app.command("sessions-revoke")
def sessions_revoke(
    programme: Annotated[str, typer.Argument(help="Programme slug")],
    phone: Annotated[str, typer.Argument(help="The person's number, any local or E.164 form")],
) -> None:
    """Sign a person out everywhere (a lost or stolen phone) and keep their access: they
    sign in again with a new code, once the number is theirs again."""

    async def work() -> None:
        async with unit_of_work() as session:
            prog = await get_programme(session, programme)
            person = await person_by_phone(session, prog, phone)
            ended = await end_sessions(session, person, actor=operator(), now=utcnow())
            await session.commit()
        console.print(
            f"{ended} console session(s) of {person.name} ended ({prog.slug}).", highlight=False
        )

    run(work)
