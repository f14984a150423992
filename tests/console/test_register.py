"""The register: a grid of a meeting's members (with no phone too) a facilitator fills from
paper; the last 30 days only; marks stored through the domain with the console as channel
and the person as actor; other communities' meetings and people refused by URL and form."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from service.db import SessionFactory
from service.domain.attendance import record_presence
from service.domain.communities import add_member
from service.models import Attendance, AuditEntry, Meeting, Membership, Person
from service.models.enums import (
    ConsoleRole,
    Country,
    Language,
    MeetingStatus,
    MembershipStatus,
    Presence,
)
from tests import factories as f
from tests.console.support import csrf_of, grant, sign_in


@dataclass
class Registers:
    w: f.World
    recent: Meeting  # began five days ago, over, nobody marked
    old: Meeting  # began 31 days ago
    elsewhere: Meeting  # another community of the programme, five days ago
    stranger: Person  # a member of that other community only
    no_phone: Person
    abroad: f.World  # another programme

    @property
    def members(self) -> list[Person]:
        return [self.w.facilitator, *self.w.members, self.no_phone]


def url(meeting: Meeting) -> str:
    return f"/meetings/{meeting.id}/register"


@pytest.fixture
async def world(sessions: SessionFactory) -> Registers:
    now = f.now()
    async with sessions() as session:
        w = await f.world(session)
        assert w.community.id is not None
        no_phone = await f.person(session, w.programme, name="Baraka Otieno", phone=None)
        assert no_phone.id is not None
        await add_member(w.pid, w.community.id, no_phone.id, session=session, actor=f.OPERATOR)
        other = await f.community(session, w.programme, code="CLUSTER-2")
        assert other.id is not None
        stranger = await f.person(session, w.programme, name="Juma Stranger")
        assert stranger.id is not None
        await add_member(w.pid, other.id, stranger.id, session=session, actor=f.OPERATOR)
        # Everybody joined long before the meetings below.
        await session.execute(sa.update(Membership).values(joined_at=now - timedelta(days=90)))
        recent = await f.meeting(
            session,
            w.programme,
            w.community,
            at=now - timedelta(days=6),
            starts_in=timedelta(days=1),
        )
        old = await f.meeting(
            session,
            w.programme,
            w.community,
            at=now - timedelta(days=32),
            starts_in=timedelta(days=1),
        )
        elsewhere = await f.meeting(
            session, w.programme, other, at=now - timedelta(days=6), starts_in=timedelta(days=1)
        )
        await session.commit()
        abroad = await f.world(
            session,
            slug="rw-sbi",
            country=Country.RW,
            timezone="Africa/Kigali",
            language=Language.rw,
        )
    await grant(sessions, w.facilitator, ConsoleRole.facilitator)
    return Registers(w, recent, old, elsewhere, stranger, no_phone, abroad)


@pytest.fixture
async def facilitator(
    client: httpx.AsyncClient, sessions: SessionFactory, world: Registers
) -> httpx.AsyncClient:
    client.cookies.set("copline_lang", "en")
    await sign_in(client, sessions, world.w.facilitator)
    return client


def field(person: Person) -> str:
    return f"p{person.id}"


def checked(page: str, person: Person) -> str | None:
    """The value of the person's checked radio, if any."""
    found = re.search(rf'name="p{person.id}" value="(\w+)" checked', page)
    return found.group(1) if found else None


async def save(
    client: httpx.AsyncClient,
    meeting: Meeting,
    marks: dict[str, str],
    *,
    form_of: Meeting | None = None,
) -> httpx.Response:
    form = await client.get(url(form_of or meeting))
    return await client.post(url(meeting), data={"csrf": csrf_of(form.text), **marks})


async def marks_of(sessions: SessionFactory, meeting: Meeting) -> dict[int, Attendance]:
    async with sessions() as session:
        rows = await session.exec(select(Attendance).where(Attendance.meeting_id == meeting.id))
        return {row.person_id: row for row in rows.all()}


async def presence_audits(sessions: SessionFactory) -> list[AuditEntry]:
    async with sessions() as session:
        stmt = select(AuditEntry).where(AuditEntry.action == "attendance.presence")
        return list((await session.exec(stmt)).all())


async def test_the_grid_has_a_row_per_member_with_no_phone_too(
    facilitator: httpx.AsyncClient, world: Registers
) -> None:
    page = await facilitator.get(url(world.recent))
    assert page.status_code == 200
    text = html.unescape(page.text)
    for person in world.members:
        assert person.name in text
        assert checked(page.text, person) == "unknown"  # nobody marked yet
    assert "Baraka Otieno" in text and "no phone" in text
    assert world.w.outsider.name not in text and world.stranger.name not in text
    assert "0 of 4 marked" in text
    assert 'value="remote"' not in page.text  # in person: nobody can be remote
    assert f'action="{url(world.recent)}"' in page.text


async def test_saved_marks_are_the_persons_through_the_console_and_hold_the_meeting(
    facilitator: httpx.AsyncClient, sessions: SessionFactory, world: Registers
) -> None:
    m0, m1 = world.w.members
    marks = {field(m0): "present", field(m1): "absent", field(world.no_phone): "present"}
    marks[field(world.w.facilitator)] = "unknown"
    saved = await save(facilitator, world.recent, marks)
    assert saved.status_code == 303
    assert saved.headers["location"] == url(world.recent)
    again = await facilitator.get(url(world.recent))
    assert "Marks changed: 3" in again.text and "now marked as held" in again.text
    assert checked(again.text, m0) == "present" and checked(again.text, m1) == "absent"
    assert checked(again.text, world.no_phone) == "present"
    assert checked(again.text, world.w.facilitator) == "unknown"

    stored = await marks_of(sessions, world.recent)
    me = f"person:{world.w.facilitator.id}"
    assert {p: r.presence for p, r in stored.items()} == {
        m0.id: Presence.present,
        m1.id: Presence.absent,
        world.no_phone.id: Presence.present,
    }
    assert {(r.presence_channel, r.presence_actor) for r in stored.values()} == {("console", me)}
    audits = await presence_audits(sessions)
    assert len(audits) == 3 and {(a.actor, a.channel) for a in audits} == {(me, "console")}
    async with sessions() as session:
        meeting = await session.get(Meeting, world.recent.id)
        held = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "meeting.held"))
        ).one()
    assert meeting is not None and meeting.status is MeetingStatus.held
    assert (held.actor, held.channel) == (me, "console")

    # Saving the same marks again changes nothing, not even the audit log.
    assert (await save(facilitator, world.recent, marks)).status_code == 303
    assert len(await presence_audits(sessions)) == 3
    assert m0.id is not None
    m0_row = (await marks_of(sessions, world.recent))[m0.id]
    assert m0_row.presence_at == stored[m0.id].presence_at


async def test_a_register_older_than_30_days_is_read_only_and_a_forged_post_is_refused(
    facilitator: httpx.AsyncClient, sessions: SessionFactory, world: Registers
) -> None:
    page = await facilitator.get(url(world.old))
    assert page.status_code == 200
    assert "more than 30 days ago" in page.text
    assert 'type="radio"' not in page.text and "Save register" not in page.text
    m0 = world.w.members[0]
    forged = await save(facilitator, world.old, {field(m0): "present"}, form_of=world.recent)
    assert forged.status_code == 400
    assert "30 days old" in forged.text
    assert await marks_of(sessions, world.old) == {}


async def test_a_meeting_to_come_is_read_only_until_check_in_opens(
    facilitator: httpx.AsyncClient, sessions: SessionFactory, world: Registers
) -> None:
    page = await facilitator.get(url(world.w.meeting))
    assert "has not started yet" in page.text and 'type="radio"' not in page.text
    m0 = world.w.members[0]
    forged = await save(facilitator, world.w.meeting, {field(m0): "present"}, form_of=world.recent)
    assert forged.status_code == 400
    assert await marks_of(sessions, world.w.meeting) == {}


async def test_a_meeting_outside_the_viewers_communities_is_not_found(
    facilitator: httpx.AsyncClient, sessions: SessionFactory, world: Registers
) -> None:
    abroad = world.abroad.meeting
    for meeting in (world.elsewhere, abroad):
        assert (await facilitator.get(url(meeting))).status_code == 404
        marks = {field(world.stranger): "present"}
        forged = await save(facilitator, meeting, marks, form_of=world.recent)
        assert forged.status_code == 404
        assert await marks_of(sessions, meeting) == {}
    assert (await facilitator.get("/meetings/999999/register")).status_code == 404


async def test_a_person_outside_the_community_in_the_form_refuses_the_whole_register(
    facilitator: httpx.AsyncClient, sessions: SessionFactory, world: Registers
) -> None:
    m0 = world.w.members[0]
    for intruder in (world.stranger, world.w.outsider, world.abroad.members[0]):
        marks = {field(m0): "present", field(intruder): "present"}
        refused = await save(facilitator, world.recent, marks)
        assert refused.status_code == 400
        assert "not everyone in this register is an active member" in refused.text.lower()
    assert await marks_of(sessions, world.recent) == {}
    assert await marks_of(sessions, world.elsewhere) == {}
    bad = await save(facilitator, world.recent, {field(m0): "maybe"})
    assert bad.status_code == 400
    remote = await save(facilitator, world.recent, {field(m0): "remote"})  # in person
    assert remote.status_code == 400
    assert await marks_of(sessions, world.recent) == {}


async def test_a_member_who_left_since_is_listed_but_cannot_be_marked(
    facilitator: httpx.AsyncClient, sessions: SessionFactory, world: Registers
) -> None:
    m1 = world.w.members[1]
    async with sessions() as session:
        await record_presence(
            world.w.pid,
            world.recent.id or 0,
            m1.id or 0,
            Presence.present,
            session=session,
            actor=f.OPERATOR,
            now=world.recent.starts_at,
        )
        await session.execute(
            sa.update(Membership)
            .where(col(Membership.person_id) == m1.id)
            .values(status=MembershipStatus.left, left_at=f.now())
        )
        await session.commit()
    page = await facilitator.get(url(world.recent))
    assert m1.name in html.unescape(page.text) and "has left the community" in page.text
    assert f'name="{field(m1)}"' not in page.text
    refused = await save(facilitator, world.recent, {field(m1): "absent"})
    assert refused.status_code == 400
    assert (await marks_of(sessions, world.recent))[m1.id or 0].presence is Presence.present


async def test_programme_staff_read_registers_but_only_facilitators_fill_them(
    client: httpx.AsyncClient, sessions: SessionFactory, world: Registers
) -> None:
    async with sessions() as session:
        staff = await f.person(session, world.w.programme, name="Officer Wanjiku")
        await session.commit()
    await grant(sessions, staff, ConsoleRole.programme_admin)
    client.cookies.set("copline_lang", "en")
    await sign_in(client, sessions, staff)
    page = await client.get(url(world.elsewhere))  # every community of the programme
    assert page.status_code == 200
    assert "Only the community's facilitators" in html.unescape(page.text)
    assert 'type="radio"' not in page.text
    forged = await save(client, world.recent, {field(world.w.members[0]): "present"})
    assert forged.status_code == 400
    assert await marks_of(sessions, world.recent) == {}
    assert (await client.get(url(world.abroad.meeting))).status_code == 404


async def test_the_register_list_has_the_last_30_days_meetings_with_counts(
    facilitator: httpx.AsyncClient, sessions: SessionFactory, world: Registers
) -> None:
    m0 = world.w.members[0]
    assert (await save(facilitator, world.recent, {field(m0): "present"})).status_code == 303
    page = await facilitator.get("/register")
    assert page.status_code == 200
    assert f'href="{url(world.recent)}"' in page.text
    assert "1 of 4 marked" in page.text
    for hidden in (world.old, world.w.meeting, world.elsewhere, world.abroad.meeting):
        assert f'href="{url(hidden)}"' not in page.text
    assert 'href="/register" aria-current="page"' in page.text
