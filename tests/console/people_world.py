"""Two programmes and a console user of each role, for the people and roster pages' tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from service.db import SessionFactory
from service.models import Person
from service.models.enums import ConsoleRole, Country, Language, Role
from tests import factories
from tests.console.support import grant, sign_in


@dataclass
class People:
    here: factories.World  # ke-clusters
    there: factories.World  # rw-sbi: nothing of it may show in ke-clusters' console
    admin: Person
    staff: Person
    leader: Person  # head teacher of here's school
    facilitator: Person  # here.facilitator


async def people_world(sessions: SessionFactory) -> People:
    async with sessions() as session:
        here = await factories.world(session)
        there = await factories.world(
            session, slug="rw-sbi", country=Country.RW, timezone="Africa/Kigali",
            language=Language.rw,
        )  # fmt: skip
        admin = await factories.person(
            session, here.programme, name="Amina Admin", roles=[Role.programme_staff],
            language=Language.en,
        )  # fmt: skip
        staff = await factories.person(
            session, here.programme, name="Stephen Staff", roles=[Role.programme_staff],
            language=Language.en,
        )  # fmt: skip
        leader = await factories.person(
            session, here.programme, name="Lydia Leader", roles=[Role.head_teacher],
            school_id=here.school.id, language=Language.en,
        )  # fmt: skip
        await session.commit()
    await grant(sessions, admin, ConsoleRole.programme_admin)
    await grant(sessions, staff, ConsoleRole.programme_staff)
    await grant(sessions, leader, ConsoleRole.school_leader)
    await grant(sessions, here.facilitator, ConsoleRole.facilitator)
    return People(here, there, admin, staff, leader, here.facilitator)


@asynccontextmanager
async def signed_in(
    client: httpx.AsyncClient, sessions: SessionFactory, person: Person
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of its own (cookies), on the same app, signed in as `person`."""
    other = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    async with other:
        await sign_in(other, sessions, person)
        yield other
