"""`copline console grant|revoke|sessions-revoke` as an operator types them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner

from service.cli.main import app
from service.config import Settings
from service.db import build_engine, build_session_factory
from service.models import AuditEntry, ConsoleSession, Person
from service.models.enums import ConsoleRole
from tests.service.cli.test_programme_command import CREATE

T = TypeVar("T")
PEOPLE = "name,phone,language\nAchieng Otieno,0712 345 678,sw\nBrian Wafula,0722000111,en\n"


def with_store(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Look at (or arrange) the store from a synchronous test, as the CLI does itself."""

    async def run() -> T:
        engine = build_engine(settings)
        try:
            async with build_session_factory(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _prepare(cli: CliRunner, folder: Path) -> None:
    assert cli.invoke(app, CREATE).exit_code == 0
    path = folder / "people.csv"
    path.write_text(PEOPLE, encoding="utf-8")
    imported = cli.invoke(app, ["import", "people", str(path), "--programme", "ke-clusters"])
    assert imported.exit_code == 0, imported.output


async def _achieng(session: AsyncSession) -> Person:
    stmt = select(Person).where(Person.phone == "+254712345678")
    return (await session.exec(stmt)).one()


async def _open_session(session: AsyncSession) -> None:
    person = await _achieng(session)
    assert person.id is not None
    session.add(ConsoleSession(token_hash="x" * 64, person_id=person.id, csrf_token="c"))


async def _open_sessions(session: AsyncSession) -> int:
    person = await _achieng(session)
    stmt = select(ConsoleSession).where(
        ConsoleSession.person_id == person.id, col(ConsoleSession.revoked_at).is_(None)
    )
    return len((await session.exec(stmt)).all())


def test_an_operator_grants_changes_and_revokes_console_access(
    cli: CliRunner, workdir: Path, settings: Settings
) -> None:
    _prepare(cli, workdir)
    granted = cli.invoke(app, ["console", "grant", "ke-clusters", "0712345678", "facilitator"])
    assert granted.exit_code == 0, granted.output
    assert "may now sign in to the ke-clusters console as facilitator" in granted.stdout
    again = cli.invoke(app, ["console", "grant", "ke-clusters", "+254712345678", "facilitator"])
    assert "already has facilitator; nothing changed" in again.stdout
    with_store(settings, _open_session)
    changed = cli.invoke(
        app, ["console", "grant", "ke-clusters", "254712345678", "programme-admin"]
    )
    assert changed.exit_code == 0, changed.output
    assert with_store(settings, _open_sessions) == 0  # a new role ends the old sessions
    assert with_store(settings, _achieng).console_role is ConsoleRole.programme_admin
    with_store(settings, _open_session)
    revoked = cli.invoke(app, ["console", "revoke", "ke-clusters", "0712345678"])
    assert revoked.exit_code == 0 and "may no longer sign in" in revoked.stdout
    assert with_store(settings, _achieng).console_role is None
    assert with_store(settings, _open_sessions) == 0

    async def audit(session: AsyncSession) -> list[tuple[str, dict[str, object]]]:
        stmt = select(AuditEntry).where(AuditEntry.action == "person.console_role")
        return [
            (e.actor, e.changes) for e in (await session.exec(stmt.order_by(col(AuditEntry.id))))
        ]

    entries = with_store(settings, audit)
    assert [changes["console_role"] for _, changes in entries] == [
        [None, "facilitator"],
        ["facilitator", "programme_admin"],
        ["programme_admin", None],
    ]
    assert all(actor.startswith("cli:") for actor, _ in entries)


def test_a_lost_phone_is_signed_out_everywhere_and_keeps_its_access(
    cli: CliRunner, workdir: Path, settings: Settings
) -> None:
    _prepare(cli, workdir)
    assert (
        cli.invoke(app, ["console", "grant", "ke-clusters", "0712345678", "facilitator"]).exit_code
        == 0
    )
    with_store(settings, _open_session)
    with_store(settings, _open_session)
    ended = cli.invoke(app, ["console", "sessions-revoke", "ke-clusters", "0712345678"])
    assert ended.exit_code == 0, ended.output
    assert "2 console session(s) of Achieng Otieno ended" in ended.stdout
    assert with_store(settings, _open_sessions) == 0
    assert with_store(settings, _achieng).console_role is ConsoleRole.facilitator


def test_unknown_roles_numbers_and_people_are_reported(cli: CliRunner, workdir: Path) -> None:
    _prepare(cli, workdir)
    role = cli.invoke(app, ["console", "grant", "ke-clusters", "0712345678", "superuser"])
    assert role.exit_code == 1 and "unknown console role 'superuser'" in role.stderr
    nobody = cli.invoke(app, ["console", "grant", "ke-clusters", "0799999999", "facilitator"])
    assert nobody.exit_code == 1
    assert "nobody in ke-clusters has the number +254799999999" in nobody.stderr
    bad = cli.invoke(app, ["console", "revoke", "ke-clusters", "12ab"])
    assert bad.exit_code == 1 and "not a valid mobile number" in bad.stderr
    elsewhere = cli.invoke(app, ["console", "revoke", "nowhere", "0712345678"])
    assert elsewhere.exit_code == 1 and "no programme with slug 'nowhere'" in elsewhere.stderr
