"""`setPersonReach`, `Person.reach` and the programme's WhatsApp number over GraphQL."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.domain.actor import Actor
from service.domain.reach import set_reach
from service.models import AuditEntry, Person, Programme
from service.models.enums import Channel, Reach
from tests import factories as f
from tests.service.api.conftest import Api, Two

SET = """mutation($p: ID!, $r: Reach!) { setPersonReach(personId: $p, reach: $r) {
    __typename ... on PersonPayload { person { reach whatsappOptIn whatsappOptInAt } }
    ... on ValidationError { message fields { field message } }
    ... on NotAllowed { message } ... on NotFound { message } } }"""
READ = """query($id: ID!) { node(id: $id) { ... on Person { reach whatsappOptIn } } }"""


async def stored(session: AsyncSession, person_id: int | None) -> Person:
    session.expunge_all()
    return (await session.exec(select(Person).where(Person.id == person_id))).one()


async def test_a_partner_sets_whatsapp_without_the_persons_opt_in(
    api: Api, two: Two, session: AsyncSession
) -> None:
    member = two.a.members[0]
    gid = ids.encode("Person", member.id)
    data = await api.gql(SET, {"p": gid, "r": "whatsapp"}, key=two.admin_a)
    person = data["setPersonReach"]["person"]
    assert person == {"reach": "whatsapp", "whatsappOptIn": False, "whatsappOptInAt": None}
    stored_person = await stored(session, member.id)
    assert stored_person.reach is Reach.whatsapp and stored_person.whatsapp_opt_in_at is None
    audit = (
        await session.exec(
            select(AuditEntry).where(
                AuditEntry.object_id == member.id, AuditEntry.action == "person.reach"
            )
        )
    ).one()
    assert audit.channel is Channel.api


async def test_a_person_who_opted_in_reads_as_opted_in(
    api: Api, two: Two, session: AsyncSession
) -> None:
    member = two.a.members[1]
    assert member.id is not None
    await set_reach(
        two.a.programme, member.id, Reach.whatsapp, session=session,
        actor=Actor.person(member.id, Channel.sms), now=f.now(), opt_in=True,
    )  # fmt: skip
    await session.commit()
    data = await api.gql(READ, {"id": ids.encode("Person", member.id)}, key=two.admin_a)
    assert data["node"] == {"reach": "whatsapp", "whatsappOptIn": True}


async def test_a_read_only_key_or_another_programmes_key_cannot_set_the_channel(
    api: Api, two: Two, session: AsyncSession
) -> None:
    member = two.a.members[0]
    gid = ids.encode("Person", member.id)
    denied = await api.gql(SET, {"p": gid, "r": "whatsapp"}, key=two.reader_a)
    assert denied["setPersonReach"]["__typename"] == "NotAllowed"
    elsewhere = await api.gql(SET, {"p": gid, "r": "whatsapp"}, key=two.admin_b)
    assert elsewhere["setPersonReach"]["__typename"] == "NotFound"
    assert (await stored(session, member.id)).reach is Reach.sms


async def test_create_person_with_whatsapp_but_no_phone_is_a_validation_error(
    api: Api, two: Two
) -> None:
    create = """mutation { createPerson(input: {name: "Grace Nafula", reach: whatsapp}) {
        __typename ... on ValidationError { fields { field } } } }"""
    data = await api.gql(create, key=two.admin_a)
    assert data["createPerson"] == {"__typename": "ValidationError", "fields": [{"field": "reach"}]}


async def test_update_person_changes_the_channel_it_is_given(
    api: Api, two: Two, session: AsyncSession
) -> None:
    member = two.a.members[1]
    update = """mutation($id: ID!) { updatePerson(id: $id, input: {reach: whatsapp}) {
        ... on PersonPayload { person { reach } } } }"""
    data = await api.gql(update, {"id": ids.encode("Person", member.id)}, key=two.admin_a)
    assert data["updatePerson"]["person"]["reach"] == "whatsapp"
    assert (await stored(session, member.id)).reach is Reach.whatsapp


async def test_an_admin_sets_and_removes_the_programmes_whatsapp_number(
    api: Api, two: Two, session: AsyncSession
) -> None:
    update = """mutation($n: String) { updateProgramme(input: {whatsappNumber: $n}) {
        __typename ... on ProgrammePayload { programme { whatsappNumber } } } }"""
    data = await api.gql(update, {"n": "+254 711 082 000"}, key=two.admin_a)
    assert data["updateProgramme"]["programme"]["whatsappNumber"] == "+254711082000"
    bad = await api.gql(update, {"n": "0711082000"}, key=two.admin_a)
    assert bad["updateProgramme"]["__typename"] == "ValidationError"
    session.expunge_all()
    programme = await session.get(Programme, two.a.programme.id)
    assert programme is not None and programme.whatsapp_number == "+254711082000"
    cleared = await api.gql(update, {"n": None}, key=two.admin_a)
    assert cleared["updateProgramme"]["programme"]["whatsappNumber"] is None
