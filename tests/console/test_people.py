"""People: search within a role's coverage, one person's page, console access, the export."""

from __future__ import annotations

import csv
import html
import io

import httpx
import pytest
from sqlmodel import col, select

from service.db import SessionFactory
from service.models import AuditEntry, ConsoleSession, Person
from service.models.enums import ConsoleRole, Language, Role
from service.roster.columns import PEOPLE_COLUMNS
from tests import factories
from tests.console.people_world import People, people_world, signed_in
from tests.console.support import csrf_of


@pytest.fixture
async def world(sessions: SessionFactory) -> People:
    return await people_world(sessions)


def ids(page: str) -> set[int]:
    import re

    return {int(n) for n in re.findall(r'<a href="/people/(\d+)">', page)}


def names(page: str) -> set[str]:
    """The names in the people table (each row's first cell links to the person)."""
    import re

    return {html.unescape(n) for n in re.findall(r'<a href="/people/\d+">([^<]+)</a>', page)}


async def test_an_admin_sees_the_whole_programme_with_whole_numbers_and_nobody_else(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    async with signed_in(client, sessions, world.admin) as admin:
        page = await admin.get("/people")
    assert page.status_code == 200
    here = {world.here.facilitator.name, world.here.outsider.name, world.admin.name}
    assert here | {m.name for m in world.here.members} <= names(page.text)
    there = {p.id for p in [*world.there.members, world.there.outsider, world.there.facilitator]}
    assert len(ids(page.text)) == 7 and not ids(page.text) & there
    assert world.here.members[0].phone is not None
    assert world.here.members[0].phone in page.text
    assert world.there.members[0].phone is not None
    assert world.there.members[0].phone not in page.text
    assert "CLUSTER-1" in page.text  # their community
    assert "/people/import" in page.text


async def test_programme_staff_see_numbers_masked_and_cannot_search_by_them(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    phone = world.here.members[0].phone
    assert phone is not None
    async with signed_in(client, sessions, world.staff) as staff:
        page = await staff.get("/people")
        found = await staff.get("/people", params={"q": phone})
        person = await staff.get(f"/people/{world.here.members[0].id}")
        export = await staff.get("/people/export.csv")
    assert phone not in page.text and "•" in page.text
    assert phone not in person.text
    assert phone not in export.text
    assert names(found.text) == set()
    assert "cannot search by them" in found.text


async def test_a_whole_number_finds_its_person_and_part_of_one_finds_nobody(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    member = world.here.members[0]
    assert member.phone is not None
    local = "0" + member.phone[4:]  # the same number as people write it in Kenya
    async with signed_in(client, sessions, world.admin) as admin:
        whole = await admin.get("/people", params={"q": local})
        part = await admin.get("/people", params={"q": member.phone[:-3]})
        there = await admin.get("/people", params={"q": world.there.members[0].phone})
        by_name = await admin.get("/people", params={"q": "coach ACH"})
        wild = await admin.get("/people", params={"q": "%"})
    assert names(whole.text) == {member.name}
    assert names(part.text) == set()
    assert names(there.text) == set()
    assert names(by_name.text) == {"Coach Achieng"}
    assert names(wild.text) == set()  # a LIKE wildcard typed in is only a character


async def test_a_facilitator_sees_only_their_communitys_members(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    async with signed_in(client, sessions, world.facilitator) as facilitator:
        page = await facilitator.get("/people")
        outsider = await facilitator.get(f"/people/{world.here.outsider.id}")
        elsewhere = await facilitator.get(f"/people/{world.there.members[0].id}")
        member = await facilitator.get(f"/people/{world.here.members[0].id}")
        importing = await facilitator.get("/people/import")
        export = await facilitator.get("/people/export.csv")
    assert names(page.text) == {world.facilitator.name, *(m.name for m in world.here.members)}
    assert "/people/import" not in page.text
    assert outsider.status_code == elsewhere.status_code == 404
    assert member.status_code == 200
    assert world.here.members[0].phone is not None
    assert world.here.members[0].phone in member.text  # facilitators hold read:pii
    assert importing.status_code == 403
    assert world.here.outsider.name not in export.text


async def test_a_school_leader_sees_their_schools_teachers(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    async with signed_in(client, sessions, world.leader) as leader:
        page = await leader.get("/people")
    assert {m.name for m in world.here.members} | {world.leader.name} <= names(page.text)
    assert world.here.outsider.name not in names(page.text)


async def test_fifty_people_to_a_page(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    async with sessions() as session:
        for n in range(60):
            await factories.person(session, world.here.programme, name=f"Zawadi {n:03d}")
        await session.commit()
    async with signed_in(client, sessions, world.admin) as admin:
        first = await admin.get("/people", params={"q": "zawadi"})
        second = await admin.get("/people", params={"q": "zawadi", "page": "2"})
        beyond = await admin.get("/people", params={"q": "zawadi", "page": "99"})
    assert len(names(first.text)) == 50 and "Zawadi 000" in first.text
    assert len(names(second.text)) == 10 and "Zawadi 059" in second.text
    assert 'rel="next"' in first.text and 'rel="prev"' in second.text
    assert names(beyond.text) == names(second.text)  # the last page


async def test_a_person_page_shows_their_details(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    async with signed_in(client, sessions, world.admin) as admin:
        page = await admin.get(f"/people/{world.here.facilitator.id}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Coach Achieng" in text and "Community CLUSTER-1" in text
    assert "Facilitator" in text  # their role in the community, and their console role
    assert 'name="role"' in text  # an admin may change it


async def test_an_admin_gives_and_takes_console_access_which_ends_sessions(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    target = world.staff
    async with signed_in(client, sessions, target) as staff:
        async with signed_in(client, sessions, world.admin) as admin:
            page = await admin.get(f"/people/{target.id}")
            changed = await admin.post(
                f"/people/{target.id}/console",
                data={"csrf": csrf_of(page.text), "role": "school_leader"},
            )
            assert changed.status_code == 303
            after = await admin.get(changed.headers["location"])
            assert "can now sign in to the console as School leader" in html.unescape(after.text)
            removed = await admin.post(
                f"/people/{target.id}/console", data={"csrf": csrf_of(page.text), "role": ""}
            )
            assert removed.status_code == 303
        assert (await staff.get("/people")).status_code == 303  # signed out: sign in again
    async with sessions() as session:
        stored = await session.get(Person, target.id)
        assert stored is not None and stored.console_role is None
        audits = (
            await session.exec(
                select(AuditEntry).where(
                    AuditEntry.action == "person.console_role", AuditEntry.object_id == target.id
                )
            )
        ).all()
        open_sessions = (
            await session.exec(
                select(ConsoleSession).where(
                    ConsoleSession.person_id == target.id,
                    col(ConsoleSession.revoked_at).is_(None),
                )
            )
        ).all()
    assert [a.actor for a in audits] == [f"person:{world.admin.id}"] * 2
    assert open_sessions == []


async def test_only_an_admin_sets_console_roles_and_only_for_their_programme(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    member = world.here.members[0]
    stranger = world.there.members[0]
    async with signed_in(client, sessions, world.staff) as staff:
        page = await staff.get(f"/people/{member.id}")
        assert 'name="role"' not in page.text
        refused = await staff.post(
            f"/people/{member.id}/console",
            data={"csrf": csrf_of(page.text), "role": "programme_admin"},
        )
        mine = await staff.post(
            f"/people/{world.staff.id}/console",
            data={"csrf": csrf_of(page.text), "role": "programme_admin"},
        )
    assert refused.status_code == mine.status_code == 403
    async with signed_in(client, sessions, world.admin) as admin:
        page = await admin.get("/people")
        elsewhere = await admin.post(
            f"/people/{stranger.id}/console",
            data={"csrf": csrf_of(page.text), "role": "programme_admin"},
        )
        self_change = await admin.post(
            f"/people/{world.admin.id}/console", data={"csrf": csrf_of(page.text), "role": ""}
        )
        unknown = await admin.post(
            f"/people/{member.id}/console", data={"csrf": csrf_of(page.text), "role": "root"}
        )
    assert elsewhere.status_code == 404
    assert self_change.status_code == 400 and "your own console access" in self_change.text
    assert unknown.status_code == 400
    async with sessions() as session:
        roles = {
            p.id: p.console_role
            for p in (
                await session.exec(
                    select(Person).where(
                        col(Person.id).in_([member.id, stranger.id, world.admin.id, world.staff.id])
                    )
                )
            ).all()
        }
    assert roles == {
        member.id: None,
        stranger.id: None,
        world.admin.id: ConsoleRole.programme_admin,
        world.staff.id: ConsoleRole.programme_staff,
    }


async def test_console_access_needs_a_phone(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    async with sessions() as session:
        no_phone = await factories.person(
            session, world.here.programme, name="Paper Only", phone=None,
            school_id=world.here.school.id, roles=[Role.teacher],
        )  # fmt: skip
        await session.commit()
    async with signed_in(client, sessions, world.admin) as admin:
        page = await admin.get(f"/people/{no_phone.id}")
        answer = await admin.post(
            f"/people/{no_phone.id}/console",
            data={"csrf": csrf_of(page.text), "role": "facilitator"},
        )
    assert answer.status_code == 422
    assert "needs a phone number" in answer.text


async def test_the_export_is_the_import_format_with_a_byte_order_mark(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    async with signed_in(client, sessions, world.admin) as admin:
        answer = await admin.get("/people/export.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "ke-clusters-people.csv" in answer.headers["content-disposition"]
    assert answer.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert list(rows[0]) == list(PEOPLE_COLUMNS)
    by_name = {r["name"]: r for r in rows}
    assert not {r["phone"] for r in rows} & {p.phone for p in world.there.members}
    assert {r["phone"] for r in rows} >= {world.here.members[0].phone}
    coach = by_name["Coach Achieng"]
    assert coach["facilitates"] == "CLUSTER-1" and coach["console"] == "facilitator"
    assert coach["roles"] == "coach"
    member = next(r for r in rows if r["phone"] == world.here.members[0].phone)
    assert member["communities"] == "CLUSTER-1" and member["school"] == "SCH-1"
    assert len(rows) == 7  # coach, two members, outsider, admin, staff, leader


async def test_a_persons_page_shows_their_external_id_in_the_readers_language(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    member = world.here.members[0]
    async with sessions() as session:
        stored = await session.get(Person, member.id)
        assert stored is not None
        stored.external_id = "TSC-512300"
        await session.commit()
    async with signed_in(client, sessions, world.admin) as admin:
        page = await admin.get(f"/people/{member.id}")
        other = await admin.get(f"/people/{world.here.members[1].id}")
    assert "<dt>External id</dt><dd>TSC-512300</dd>" in page.text
    assert "External id" not in other.text  # nothing to show without one
    async with sessions() as session:
        leader = await session.get(Person, world.leader.id)
        assert leader is not None
        leader.language = Language.sw
        await session.commit()
    async with signed_in(client, sessions, world.leader) as leader_client:
        swahili = await leader_client.get(f"/people/{member.id}")
    assert "<dt>Kitambulisho cha nje</dt><dd>TSC-512300</dd>" in swahili.text


async def test_a_person_page_shows_consent_withdrawn(
    client: httpx.AsyncClient, sessions: SessionFactory, world: People
) -> None:
    from service.domain.consent import record_consent
    from service.models.enums import Channel, ConsentState

    async with sessions() as session:
        teacher = await session.get(Person, world.here.members[0].id)
        assert teacher is not None
        await record_consent(teacher, ConsentState.withdrawn, channel=Channel.console,
                             session=session, actor=factories.OPERATOR)  # fmt: skip
        await session.commit()
    async with signed_in(client, sessions, world.admin) as admin:
        page = await admin.get(f"/people/{teacher.id}")
    assert page.status_code == 200
    assert "Consent withdrawn" in html.unescape(page.text)
