"""A person's page shows their channel; staff who may edit people set it (not an opt-in)."""

from __future__ import annotations

import html

import httpx
import pytest
from sqlmodel import select

from console.i18n import translations
from service.db import SessionFactory
from service.domain.actor import Actor
from service.domain.reach import set_reach
from service.models import AuditEntry, Person
from service.models.enums import Channel, Reach, Role
from tests import factories
from tests.console.people_world import People, people_world, signed_in
from tests.console.support import csrf_of


@pytest.fixture
async def world(sessions: SessionFactory) -> People:
    return await people_world(sessions)


async def stored(sessions: SessionFactory, person_id: int | None) -> Person:
    async with sessions() as session:
        found = await session.get(Person, person_id)
    assert found is not None
    return found


async def test_staff_set_a_members_channel_to_whatsapp_which_waits_for_their_opt_in(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    member = world.here.members[0]
    async with signed_in(client, sessions, world.staff) as staff:
        page = await staff.get(f"/people/{member.id}")
        assert 'name="reach"' in page.text and "<dd>SMS</dd>" in page.text
        changed = await staff.post(
            f"/people/{member.id}/channel", data={"csrf": csrf_of(page.text), "reach": "whatsapp"}
        )
        assert changed.status_code == 303
        after = html.unescape((await staff.get(changed.headers["location"])).text)
    assert f"{member.name} now gets messages by WhatsApp." in after
    assert "Not opted in yet: gets SMS until they choose WhatsApp themselves" in after
    person = await stored(sessions, member.id)
    assert person.reach is Reach.whatsapp and person.whatsapp_opt_in_at is None
    async with sessions() as session:
        (entry,) = (
            await session.exec(
                select(AuditEntry).where(
                    AuditEntry.action == "person.reach", AuditEntry.object_id == member.id
                )
            )
        ).all()
    assert entry.actor == f"person:{world.staff.id}"


async def test_a_member_who_chose_whatsapp_shows_when_they_opted_in(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    member = world.here.members[1]
    assert member.id is not None
    async with sessions() as session:
        await set_reach(
            world.here.programme, member.id, Reach.whatsapp, session=session,
            actor=Actor.person(member.id, Channel.ussd), now=factories.now(), opt_in=True,
        )  # fmt: skip
        await session.commit()
    async with signed_in(client, sessions, world.facilitator) as facilitator:
        page = html.unescape((await facilitator.get(f"/people/{member.id}")).text)
    # In the facilitator's language (Kiswahili), the sentence before its date.
    opted = translations("sw").gettext("Opted in to WhatsApp on %(when)s").split("%(when)s")[0]
    assert opted != "Opted in to WhatsApp on " and f"WhatsApp · {opted}" in page
    assert 'name="reach"' not in page  # a facilitator sees the channel but does not set it


async def test_a_facilitator_cannot_set_a_channel_and_nobody_sets_whatsapp_without_a_phone(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    member = world.here.members[0]
    async with sessions() as session:
        no_phone = await factories.person(
            session, world.here.programme, name="Paper Only", phone=None,
            school_id=world.here.school.id, roles=[Role.teacher],
        )  # fmt: skip
        await session.commit()
    async with signed_in(client, sessions, world.facilitator) as facilitator:
        page = await facilitator.get(f"/people/{member.id}")
        refused = await facilitator.post(
            f"/people/{member.id}/channel", data={"csrf": csrf_of(page.text), "reach": "whatsapp"}
        )
    assert refused.status_code == 403
    async with signed_in(client, sessions, world.admin) as admin:
        page = await admin.get(f"/people/{no_phone.id}")
        answer = await admin.post(
            f"/people/{no_phone.id}/channel", data={"csrf": csrf_of(page.text), "reach": "whatsapp"}
        )
        unknown = await admin.post(
            f"/people/{member.id}/channel", data={"csrf": csrf_of(page.text), "reach": "pigeon"}
        )
    assert answer.status_code == 422 and "cannot be reached on WhatsApp" in answer.text
    assert unknown.status_code == 400
    assert (await stored(sessions, member.id)).reach is Reach.sms
    assert (await stored(sessions, no_phone.id)).reach is Reach.sms
