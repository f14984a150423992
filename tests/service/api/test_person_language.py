"""`updatePerson` and a person's own language: a partner's change of language is taken as
made on the person's request, so a later roster import keeps it like a USSD choice."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.models import AuditEntry, Person
from service.models.enums import Channel, Language
from service.roster import ImportKind, import_csv, read_csv
from tests import factories as f
from tests.service.api.conftest import Api, Two

UPDATE = """mutation($id: ID!, $i: UpdatePersonInput!) { updatePerson(id: $id, input: $i) {
    ... on PersonPayload { person { language name } } } }"""


async def stored(session: AsyncSession, person_id: int | None) -> Person:
    session.expunge_all()
    return (await session.exec(select(Person).where(Person.id == person_id))).one()


async def reimport(session: AsyncSession, two: Two, person: Person, tmp_path: Path) -> int:
    roster = tmp_path / "people.csv"
    roster.write_text(
        f"name,phone,language,school\n{person.name},{person.phone},sw,{two.a.school.code}\n",
        encoding="utf-8",
    )
    report = await import_csv(
        ImportKind.people,
        read_csv(roster, ImportKind.people),
        two.a.programme,
        session=session,
        actor=f.OPERATOR,
    )
    assert report.applied, report.errors
    return report.kept_own_language


async def test_a_language_changed_by_update_person_is_kept_by_the_next_import(
    api: Api, two: Two, session: AsyncSession, tmp_path: Path
) -> None:
    member = two.a.members[0]
    changed = await api.gql(
        UPDATE, {"id": ids.encode("Person", member.id), "i": {"language": "en"}}, key=two.admin_a
    )
    assert changed["updatePerson"]["person"]["language"] == "en"
    person = await stored(session, member.id)
    assert person.language_chosen_channel is Channel.api and person.language_chosen_at is not None
    kept = await reimport(session, two, person, tmp_path)
    assert (await stored(session, member.id)).language is Language.en and kept == 1
    audit = (await session.exec(select(AuditEntry).where(AuditEntry.object_id == member.id))).all()
    assert any(e.changes.get("language") == ["sw", "en"] for e in audit)


async def test_update_person_without_a_new_language_leaves_the_import_in_charge_of_it(
    api: Api, two: Two, session: AsyncSession, tmp_path: Path
) -> None:
    member = two.a.members[0]
    for given in ({"name": "Achieng Were"}, {"language": "sw"}):
        await api.gql(UPDATE, {"id": ids.encode("Person", member.id), "i": given}, key=two.admin_a)
    person = await stored(session, member.id)
    assert person.language_chosen_at is None and person.language_chosen_channel is None
