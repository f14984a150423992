"""`copline person export|erase|hold|consent` and `programme update --retention-months`."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner

from service.cli.main import app
from service.config import Settings
from service.domain.consent import history
from service.models import Person, Programme
from service.models.enums import Channel, ConsentState
from tests.service.cli.test_console_command import _prepare, with_store

ACHIENG = "+254712345678"


async def _person(session: AsyncSession) -> Person:
    return (await session.exec(select(Person).where(Person.name == "Achieng Otieno"))).one()


def test_an_operator_exports_a_person_to_a_json_file(
    cli: CliRunner, workdir: Path, settings: Settings
) -> None:
    _prepare(cli, workdir)

    done = cli.invoke(app, ["person", "export", "ke-clusters", "0712345678", "--out", "a.json"])

    assert done.exit_code == 0, done.output
    exported = json.loads((workdir / "a.json").read_text(encoding="utf-8"))
    assert (exported["person"]["name"], exported["person"]["phone"]) == ("Achieng Otieno", ACHIENG)
    assert "Brian Wafula" not in (workdir / "a.json").read_text(encoding="utf-8")
    neither = cli.invoke(app, ["person", "export", "ke-clusters"])
    assert neither.exit_code == 1 and "PHONE or --id" in neither.stderr


def test_erasing_asks_first_and_waits_for_a_legal_hold_to_be_lifted(
    cli: CliRunner, workdir: Path, settings: Settings
) -> None:
    _prepare(cli, workdir)
    pk = with_store(settings, _person).id

    declined = cli.invoke(app, ["person", "erase", "ke-clusters", ACHIENG], input="n\n")
    assert declined.exit_code == 1 and "Erase person" in declined.output
    assert cli.invoke(app, ["person", "hold", "ke-clusters", ACHIENG]).exit_code == 0
    held = cli.invoke(app, ["person", "erase", "ke-clusters", ACHIENG, "--yes"])
    assert held.exit_code == 1 and "legal hold" in held.stderr
    assert with_store(settings, _person).erased_at is None

    lifted = cli.invoke(app, ["person", "hold", "ke-clusters", "--id", str(pk), "--lift"])
    assert lifted.exit_code == 0 and "lifted" in lifted.stdout
    erased = cli.invoke(app, ["person", "erase", "ke-clusters", ACHIENG], input="y\n")
    assert erased.exit_code == 0, erased.output
    assert f"Person {pk} erased" in erased.stdout

    async def stored(session: AsyncSession) -> Person | None:
        return await session.get(Person, pk)

    person = with_store(settings, stored)
    assert person is not None and (person.name, person.phone) == ("[erased]", None)
    gone = cli.invoke(app, ["person", "export", "ke-clusters", ACHIENG])
    assert gone.exit_code == 1 and "nobody in ke-clusters has the number" in gone.stderr


def test_an_operator_records_consent_from_a_paper_form(
    cli: CliRunner, workdir: Path, settings: Settings
) -> None:
    _prepare(cli, workdir)

    done = cli.invoke(app, ["person", "consent", "ke-clusters", ACHIENG, "--state", "refused"])

    assert done.exit_code == 0, done.output

    async def entries(session: AsyncSession) -> list[tuple[ConsentState, Channel]]:
        person = await _person(session)
        return [(e.state, e.channel) for e in await history(session, person.id or 0)]

    assert with_store(settings, entries) == [(ConsentState.refused, Channel.cli)]
    assert with_store(settings, _person).opted_out_at is not None


def test_an_operator_sets_the_retention_period(
    cli: CliRunner, workdir: Path, settings: Settings
) -> None:
    _prepare(cli, workdir)

    done = cli.invoke(
        app, ["programme", "update", "--slug", "ke-clusters", "--retention-months", "12"]
    )

    assert done.exit_code == 0, done.output
    assert "texts kept 12 months" in done.stdout

    async def months(session: AsyncSession) -> int:
        return (await session.exec(select(Programme.retention_months))).one()

    assert with_store(settings, months) == 12
