"""Migration 0008 recognises the language choices people made before it, from the audit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from service import migrate
from service.config import Settings
from service.db import build_engine, build_session_factory
from service.domain.actor import Actor
from service.domain.people import PersonInput, set_language, update_person
from service.models import Person
from service.models.enums import Channel, Language
from tests import factories as f
from tests.databases import fresh_postgres_database, sqlite_url


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_upgrading_marks_a_choice_still_in_force_and_not_one_an_import_overwrote(
    backend: str, tmp_path: Path
) -> None:
    url = (
        sqlite_url(tmp_path, "backfill")
        if backend == "sqlite"
        else await fresh_postgres_database("copline_migrate_backfill")
    )
    engine = build_engine(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    try:
        await migrate.upgrade(engine)
        async with build_session_factory(engine)() as session:
            prog = await f.programme(session)
            kept, lost, never = [await f.person(session, prog) for _ in range(3)]
            for person in (kept, lost):
                assert person.id is not None
                actor = Actor.person(person.id, Channel.ussd)
                await set_language(prog, person.id, Language.en, session=session, actor=actor)
            # Then a roster import (before 0008 it overwrote choices) put Kiswahili back.
            assert lost.id is not None
            data = PersonInput(name=lost.name, phone=lost.phone, language=Language.sw)
            await update_person(prog, lost.id, data, session=session, actor=f.OPERATOR)
            await session.commit()
        await migrate.downgrade(engine, "0007")  # the revision before 0008
        await migrate.upgrade(engine)
        async with build_session_factory(engine)() as session:
            rows = (await session.exec(select(Person).order_by(Person.id))).all()
            marks = {
                p.id: (p.language_chosen_channel, p.language_chosen_at is not None) for p in rows
            }
        assert marks == {
            kept.id: (Channel.ussd, True),
            lost.id: (None, False),
            never.id: (None, False),
        }
    finally:
        await engine.dispose()
