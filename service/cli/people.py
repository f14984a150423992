"""`copline person export|erase|hold|consent`: a person's data rights from the terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from service.cli.common import console, fail, operator, run, unit_of_work
from service.domain.consent import record_consent
from service.domain.console_access import person_by_phone
from service.domain.erasure import erase_person, set_legal_hold
from service.domain.lookup import get_owned
from service.domain.person_export import export_person
from service.domain.programmes import get_programme
from service.models import Person, Programme
from service.models.enums import Channel, ConsentState
from service.models.types import utcnow

app = typer.Typer(
    help="A person's data rights: export everything about them, erase them, hold, consent.",
    no_args_is_help=True,
)

ProgrammeArg = Annotated[str, typer.Argument(help="Programme slug")]
PhoneArg = Annotated[
    str | None, typer.Argument(help="The person's number, any local or E.164 form")
]
IdOption = Annotated[
    int | None, typer.Option("--id", help="The person's id instead of a number (an erased person)")
]


def _who(phone: str | None, person_id: int | None) -> None:
    if (phone is None) == (person_id is None):
        raise fail("give the person's PHONE or --id, one of them")


async def _find(
    session: AsyncSession, slug: str, phone: str | None, person_id: int | None
) -> tuple[Programme, Person]:
    programme = await get_programme(session, slug)
    assert programme.id is not None
    if person_id is not None:
        return programme, await get_owned(session, Person, person_id, programme.id)
    assert phone is not None
    return programme, await person_by_phone(session, programme, phone)


@app.command("export")
def export(
    programme: ProgrammeArg,
    phone: PhoneArg = None,
    person_id: IdOption = None,
    out: Annotated[Path, typer.Option(help="The JSON file to write")] = Path("person.json"),
) -> None:
    """Write everything stored about a person to a JSON file (their right of access)."""
    _who(phone, person_id)

    async def work() -> None:
        async with unit_of_work() as session:
            prog, person = await _find(session, programme, phone, person_id)
            assert person.id is not None
            exported = await export_person(prog, person.id, session=session)
        out.write_text(json.dumps(exported, ensure_ascii=False, indent=2), encoding="utf-8")
        rows = sum(len(v) for v in exported.values() if isinstance(v, list)) + 1
        console.print(f"Wrote {out}: {rows} rows about person {person.id}.", highlight=False)

    run(work)


@app.command("erase")
def erase(
    programme: ProgrammeArg,
    phone: PhoneArg = None,
    person_id: IdOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Erase without asking")] = False,
) -> None:
    """Erase what identifies a person: name, phone, message texts and free-text answers,
    and their name and number wherever the programme's texts hold them. Attendance, survey
    choices and messages' status and cost stay, so the figures do not change. Refused
    while a legal hold is set. It cannot be undone."""
    _who(phone, person_id)

    async def look() -> int:
        async with unit_of_work() as session:
            _, person = await _find(session, programme, phone, person_id)
            assert person.id is not None
            if not yes:
                typer.confirm(
                    f"Erase person {person.id} ({person.name}) of {programme}? "
                    "This cannot be undone",
                    abort=True,
                )
            return person.id

    pk = run(look)

    async def work() -> None:
        async with unit_of_work() as session:
            prog = await get_programme(session, programme)
            done = await erase_person(prog, pk, session=session, actor=operator(), now=utcnow())
            await session.commit()
        console.print(
            f"Person {pk} erased: {done.messages} message texts, {done.free_text_answers} "
            f"free-text answers, {done.ussd_sessions} USSD dials, {done.texts_scrubbed} other "
            "rows that named them.",
            highlight=False,
        )

    run(work)


@app.command("hold")
def hold(
    programme: ProgrammeArg,
    phone: PhoneArg = None,
    person_id: IdOption = None,
    lift: Annotated[bool, typer.Option("--lift", help="Lift the hold instead")] = False,
) -> None:
    """Set a legal hold on a person's data (it then cannot be erased), or --lift it."""
    _who(phone, person_id)

    async def work() -> None:
        async with unit_of_work() as session:
            prog, person = await _find(session, programme, phone, person_id)
            assert person.id is not None
            _, changed = await set_legal_hold(
                prog, person.id, not lift, session=session, actor=operator(), now=utcnow()
            )
            await session.commit()
        state = "lifted" if lift else "set"
        if changed:
            console.print(f"Legal hold {state} for person {person.id}.", highlight=False)
        else:
            console.print(f"The legal hold was {state} already; nothing changed.")

    run(work)


@app.command("consent")
def consent(
    programme: ProgrammeArg,
    phone: PhoneArg = None,
    person_id: IdOption = None,
    state: Annotated[
        ConsentState, typer.Option(help="given, refused or withdrawn")
    ] = ConsentState.given,
    channel: Annotated[
        Channel, typer.Option(help="How the person gave it (a paper form: cli)")
    ] = Channel.cli,
) -> None:
    """Record a person's consent; refused or withdrawn stops their messages."""
    _who(phone, person_id)

    async def work() -> None:
        async with unit_of_work() as session:
            _, person = await _find(session, programme, phone, person_id)
            await record_consent(person, state, channel=channel, session=session, actor=operator())
            await session.commit()
            console.print(
                f"Consent {state.value} recorded for person {person.id} ({channel.value}).",
                highlight=False,
            )

    run(work)
