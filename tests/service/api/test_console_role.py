"""`setConsoleRole` and `Person.consoleRole`: console access set by a partner's admin key."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.models import AuditEntry, ConsoleSession, Person
from service.models.enums import ConsoleRole
from tests.service.api.conftest import Api, Two

SET = """mutation($p: ID!, $r: ConsoleRole) { setConsoleRole(personId: $p, role: $r) {
    __typename ... on PersonPayload { person { name consoleRole } }
    ... on Error { code message } } }"""


def gid(pk: int | None) -> str:
    return ids.encode("Person", pk)


async def test_an_admin_key_gives_and_takes_console_access(
    api: Api, two: Two, session: AsyncSession
) -> None:
    person = two.a.members[0]
    assert person.id is not None
    session.add(ConsoleSession(token_hash="t" * 64, person_id=person.id, csrf_token="c"))
    await session.commit()
    given = await api.gql(SET, {"p": gid(person.id), "r": "school_leader"}, key=two.admin_a)
    assert given["setConsoleRole"] == {
        "__typename": "PersonPayload",
        "person": {"name": person.name, "consoleRole": "school_leader"},
    }
    read = await api.gql(
        "query($id: ID!) { node(id: $id) { ... on Person { consoleRole } } }",
        {"id": gid(person.id)},
        key=two.reader_a,
    )
    assert read["node"] == {"consoleRole": "school_leader"}
    taken = await api.gql(SET, {"p": gid(person.id)}, key=two.admin_a)  # role null: none
    assert taken["setConsoleRole"]["person"]["consoleRole"] is None
    session.expunge_all()
    stored = await session.get(Person, person.id)
    assert stored is not None and stored.console_role is None
    open_sessions = (
        await session.exec(select(ConsoleSession).where(col(ConsoleSession.revoked_at).is_(None)))
    ).all()
    assert open_sessions == []  # a change of access signs them out
    audits = (
        await session.exec(select(AuditEntry).where(AuditEntry.action == "person.console_role"))
    ).all()
    assert [a.changes["console_role"] for a in audits] == [
        [None, "school_leader"],
        ["school_leader", None],
    ]
    assert all(a.actor.startswith("apikey:") for a in audits)


async def test_console_access_needs_the_admin_scope_and_the_keys_own_programme(
    api: Api, two: Two, session: AsyncSession
) -> None:
    mine = two.a.members[0]
    theirs = two.b.members[0]
    refused = await api.gql(SET, {"p": gid(mine.id), "r": "programme_admin"}, key=two.reader_a)
    assert refused["setConsoleRole"]["__typename"] == "NotAllowed"
    assert "'admin' scope" in refused["setConsoleRole"]["message"]
    elsewhere = await api.gql(SET, {"p": gid(theirs.id), "r": "programme_admin"}, key=two.admin_a)
    assert elsewhere["setConsoleRole"]["__typename"] == "NotFound"
    session.expunge_all()
    rows = (
        await session.exec(select(Person).where(col(Person.id).in_([mine.id, theirs.id])))
    ).all()
    assert [p.console_role for p in rows] == [None, None]


async def test_a_person_without_a_phone_cannot_be_given_access(
    api: Api, two: Two, session: AsyncSession
) -> None:
    from tests import factories

    paper = await factories.person(session, two.a.programme, phone=None, name="Paper Only")
    await session.commit()
    answer = await api.gql(SET, {"p": gid(paper.id), "r": "facilitator"}, key=two.admin_a)
    assert answer["setConsoleRole"]["__typename"] == "ValidationError"
    assert "needs a phone number" in answer["setConsoleRole"]["message"]
    assert ConsoleRole.facilitator.value == "facilitator"
