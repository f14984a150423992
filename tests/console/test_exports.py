"""Exports as browser downloads: the CLI's file (byte-order mark first), the viewer's
communities only whatever id the address carries, whole phones and people's own words
only with read:pii."""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import SessionFactory
from service.domain import exports
from service.domain.communities import add_member
from service.models import Community, Meeting, Membership, Message, Person, School
from service.models.enums import ConsoleRole, Direction, MessageStatus
from service.roster import ImportKind
from service.roster.columns import COLUMNS
from tests import factories as f
from tests.console.support import grant, last_code, sign_in
from tests.service.test_exports import INBOUND_SMS, OWN_WORDS, WHOLE_PHONE, Exportable, build

BOM = b"\xef\xbb\xbf"
NAIROBI = ZoneInfo("Africa/Nairobi")
ELSEWHERE_SMS = "CLUSTER-2 only: see you on Friday"


@dataclass
class Covered:
    x: Exportable  # programme A (CLUSTER-1, the facilitator's) and programme B
    other: Community  # CLUSTER-2 of programme A: not the facilitator's
    juma: Person  # a member of CLUSTER-2 only
    other_meeting: Meeting


@pytest.fixture
async def world(session: AsyncSession) -> Covered:
    x = await build(session)
    a = x.a
    other = await f.community(session, a.programme, code="CLUSTER-2")
    juma = await f.person(session, a.programme, name="Juma Otieno")
    assert other.id is not None and juma.id is not None
    await add_member(a.pid, other.id, juma.id, session=session, actor=f.OPERATOR)
    await session.execute(
        sa.update(Membership)
        .where(col(Membership.community_id) == other.id)
        .values(joined_at=f.now() - timedelta(days=90))
    )
    meeting = await f.meeting(
        session, a.programme, other, at=f.now() - timedelta(days=10), starts_in=timedelta(days=1)
    )
    assert juma.phone is not None
    session.add_all(
        [
            Message(
                programme_id=a.pid,
                person_id=juma.id,
                phone=juma.phone,
                direction=Direction.outbound,
                kind="broadcast",
                body=ELSEWHERE_SMS,
                status=MessageStatus.delivered,
                community_id=other.id,
                cost=Decimal("0.8"),
                currency="KES",
            ),
            Message(
                programme_id=a.pid,
                person_id=juma.id,
                phone=juma.phone,
                direction=Direction.inbound,
                kind="inbound",
                body="Juma's own words",
                status=MessageStatus.received,
            ),
        ]
    )
    await session.commit()
    return Covered(x, other, juma, meeting)


async def signed_in(
    client: httpx.AsyncClient, sessions: SessionFactory, person: Person, role: ConsoleRole
) -> httpx.AsyncClient:
    await grant(sessions, person, role)
    client.cookies.set("copline_lang", "en")
    await sign_in(client, sessions, person)
    return client


@pytest.fixture
async def facilitator(
    client: httpx.AsyncClient, sessions: SessionFactory, world: Covered
) -> httpx.AsyncClient:
    return await signed_in(client, sessions, world.x.a.facilitator, ConsoleRole.facilitator)


async def staff_member(sessions: SessionFactory, world: Covered, name: str) -> Person:
    async with sessions() as session:
        person = await f.person(session, world.x.a.programme, name=name)
        await session.commit()
    return person


def parse(response: httpx.Response) -> tuple[list[str], list[dict[str, str]]]:
    assert response.content.startswith(BOM), response.content[:20]
    text = response.content.decode("utf-8")[1:]
    header = next(csv.reader(io.StringIO(text)))
    return header, list(csv.DictReader(io.StringIO(text)))


async def test_a_facilitator_downloads_the_clis_file_with_only_her_communities_rows(
    facilitator: httpx.AsyncClient, world: Covered
) -> None:
    response = await facilitator.get("/exports/attendance")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert (
        response.headers["content-disposition"]
        == 'attachment; filename="ke-clusters-attendance.csv"'
    )
    header, found = parse(response)
    assert header == exports.ATTENDANCE_COLUMNS
    assert len(found) == 6  # two meetings of CLUSTER-1 times its three people
    assert {r["community_code"] for r in found} == {"CLUSTER-1"}
    assert str(world.juma.id) not in {r["person_id"] for r in found}
    # A facilitator follows up her members by phone: whole numbers (read:pii).
    assert {r["phone"] for r in found} == set(world.x.phones)


async def test_another_communitys_id_in_the_address_is_not_found(
    facilitator: httpx.AsyncClient, world: Covered
) -> None:
    for forged in (world.other.id, world.x.b.community.id, "x1", 999999):
        for kind in ("attendance", "responses", "messages"):
            response = await facilitator.get(f"/exports/{kind}?community={forged}")
            assert response.status_code == 404, (forged, kind)
            assert not response.content.startswith(BOM)
    assert (await facilitator.get("/exports/people")).status_code == 404
    own = await facilitator.get(f"/exports/attendance?community={world.x.a.community.id}")
    assert own.status_code == 200
    assert 'filename="ke-clusters-attendance-CLUSTER-1.csv"' in own.headers["content-disposition"]
    assert {r["community_code"] for r in parse(own)[1]} == {"CLUSTER-1"}


async def test_messages_and_answers_are_her_communities_and_members_only(
    facilitator: httpx.AsyncClient, sessions: SessionFactory, world: Covered
) -> None:
    header, found = parse(await facilitator.get("/exports/messages"))
    assert header == exports.MESSAGE_COLUMNS
    bodies = {r["body"] for r in found}
    assert INBOUND_SMS in bodies  # a member's reply: her member, whole (read:pii)
    assert ELSEWHERE_SMS not in bodies and "Juma's own words" not in bodies
    assert str(world.juma.id) not in {r["person_id"] for r in found}
    # Her own sign-in SMS is listed, but a code is never written to a file.
    phone = world.x.a.facilitator.phone
    assert phone is not None
    code = await last_code(sessions, phone)
    signing = [r for r in found if r["kind"] == "sign_in"]
    assert signing and {r["body"] for r in signing} == {""}
    assert code is not None and code not in " ".join(bodies)

    header, answers = parse(await facilitator.get("/exports/responses"))
    assert header == exports.RESPONSE_COLUMNS
    assert OWN_WORDS in {r["value"] for r in answers}
    assert {r["person_id"] for r in answers} <= {str(p.id) for p in world.x.people}


async def test_programme_staff_get_the_whole_programme_with_phones_masked(
    client: httpx.AsyncClient, sessions: SessionFactory, world: Covered
) -> None:
    staff = await staff_member(sessions, world, "Officer Eric")
    await signed_in(client, sessions, staff, ConsoleRole.programme_staff)
    _, found = parse(await client.get("/exports/attendance"))
    assert {r["community_code"] for r in found} == {"CLUSTER-1", "CLUSTER-2"}
    _, messages = parse(await client.get("/exports/messages"))
    _, answers = parse(await client.get("/exports/responses"))
    for rows in (found, messages, answers):
        assert rows and all(WHOLE_PHONE.search(r["phone"]) is None for r in rows)
        assert all(r["phone"] == "" or "•" in r["phone"] for r in rows)
    assert {r["body"] for r in messages} == {""}
    assert OWN_WORDS not in {r["value"] for r in answers}
    # One community of the programme when asked; another programme's never.
    one = await client.get(f"/exports/attendance?community={world.other.id}")
    assert {r["community_code"] for r in parse(one)[1]} == {"CLUSTER-2"}
    assert (
        await client.get(f"/exports/attendance?community={world.x.b.community.id}")
    ).status_code == 404
    page = await client.get("/exports")
    assert "Phone numbers are masked" in page.text
    assert "CLUSTER-2" in page.text


async def test_days_and_terms_narrow_the_file_and_a_bad_range_is_explained(
    facilitator: httpx.AsyncClient, world: Covered
) -> None:
    past = world.x.past.starts_at.astimezone(NAIROBI).date()
    response = await facilitator.get(f"/exports/attendance?from={past}&to={past}")
    assert {r["meeting_id"] for r in parse(response)[1]} == {str(world.x.past.id)}
    assert f"attendance-{past}_{past}.csv" in response.headers["content-disposition"]
    after = await facilitator.get(f"/exports/attendance?from={past + timedelta(days=1)}")
    assert {r["meeting_id"] for r in parse(after)[1]} == {str(world.x.a.meeting.id)}
    term = await facilitator.get("/exports/attendance?term=Term 1")
    assert {r["term"] for r in parse(term)[1]} == {"Term 1"}

    backwards = await facilitator.get(f"/exports/attendance?from={past}&to={past - timedelta(1)}")
    assert backwards.status_code == 400
    assert "The first day comes after the last day." in backwards.text
    assert 'id="attendance-error"' in backwards.text
    assert not backwards.content.startswith(BOM)
    garbled = await facilitator.get("/exports/messages?to=31/03/2026")
    assert garbled.status_code == 400 and "year-month-day" in garbled.text
    assert (await facilitator.get("/exports/attendance?term=Term 9")).status_code == 404


async def test_the_exports_page_offers_only_the_viewers_communities(
    facilitator: httpx.AsyncClient, world: Covered
) -> None:
    page = await facilitator.get("/exports")
    assert page.status_code == 200
    text = html.unescape(page.text)
    for kind in ("attendance", "responses", "messages"):
        assert f'action="/exports/{kind}"' in text
    assert f'value="{world.x.a.community.id}"' in text
    assert f'value="{world.other.id}"' not in text and "CLUSTER-2" not in text
    assert "Term 1" in text and "Term 2" in text
    assert "keep them safe" in text
    assert "Only your communities' records are included." in text


async def test_a_stranger_is_sent_to_sign_in(client: httpx.AsyncClient, world: Covered) -> None:
    response = await client.get("/exports/attendance")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")


async def test_an_admin_downloads_the_roster_in_the_imports_three_files(
    client: httpx.AsyncClient, sessions: SessionFactory, world: Covered
) -> None:
    admin = await staff_member(sessions, world, "Admin Akinyi")
    async with sessions() as session:
        school = await session.get(School, world.x.a.school.id)
        assert school is not None
        school.external_id = "41704108"
        await session.commit()
    await signed_in(client, sessions, admin, ConsoleRole.programme_admin)
    page = await client.get("/exports")
    for kind in ("schools", "communities", "people"):
        assert f'href="/exports/roster/{kind}"' in page.text
    assert "cannot be imported back" not in page.text  # an admin holds read:pii
    files = {kind: await client.get(f"/exports/roster/{kind}") for kind in COLUMNS}
    for kind, response in files.items():
        assert response.status_code == 200, kind
        assert f'filename="ke-clusters-{kind}.csv"' in response.headers["content-disposition"]
        header, _ = parse(response)
        assert header == list(COLUMNS[kind])
    schools = parse(files[ImportKind.schools])[1]
    assert [(s["code"], s["external_id"]) for s in schools] == [("SCH-1", "41704108")]
    communities = parse(files[ImportKind.communities])[1]
    assert {c["code"] for c in communities} == {"CLUSTER-1", "CLUSTER-2"}
    people = parse(files[ImportKind.people])[1]
    assert set(world.x.phones) <= {p["phone"] for p in people}  # whole: importable


async def test_a_facilitator_gets_only_her_people_file_of_the_roster(
    facilitator: httpx.AsyncClient, world: Covered
) -> None:
    page = await facilitator.get("/exports")
    assert 'href="/exports/roster/people"' in page.text
    assert "/exports/roster/schools" not in page.text
    assert "/exports/roster/communities" not in page.text
    for kind in ("schools", "communities", "nonsense"):
        assert (await facilitator.get(f"/exports/roster/{kind}")).status_code == 404, kind
    _, people = parse(await facilitator.get("/exports/roster/people"))
    assert world.juma.name not in {p["name"] for p in people}
    assert {p["communities"] for p in people} <= {"CLUSTER-1", ""}


async def test_programme_staff_get_the_roster_with_phones_masked(
    client: httpx.AsyncClient, sessions: SessionFactory, world: Covered
) -> None:
    staff = await staff_member(sessions, world, "Officer Eric")
    await signed_in(client, sessions, staff, ConsoleRole.programme_staff)
    page = await client.get("/exports")
    assert "Phone numbers are masked in people.csv, so it cannot be imported back." in page.text
    _, people = parse(await client.get("/exports/roster/people"))
    assert people and all(WHOLE_PHONE.search(p["phone"]) is None for p in people)
