"""The message log and the broadcast composer: coverage, texts only for read:pii, never a
sign-in code, what quiet hours hold, and a preview that counts like the sender."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import col, select

from service.db import SessionFactory
from service.domain.communities import add_member
from service.models import AuditEntry, Message, Person, Programme
from service.models.enums import (
    Channel,
    ConsoleRole,
    Country,
    Direction,
    Encoding,
    Language,
    MessageStatus,
    Role,
)
from tests import factories
from tests.console.support import csrf_of, grant, last_code, sign_in

CODE_QUEUED = "482913"
CODE_SENT = "775120"


@dataclass
class Setting:
    world: factories.World
    other_community: int
    other_member: Person
    admin: Person
    staff: Person


@pytest.fixture
async def setting(sessions: SessionFactory) -> Setting:
    async with sessions() as session:
        w = await factories.world(session)
        other = await factories.community(session, w.programme, code="CLUSTER-2")
        member = await factories.person(session, w.programme, name="Other Member")
        admin = await factories.person(
            session, w.programme, name="Admin Wanjiru", roles=[Role.programme_staff]
        )
        staff = await factories.person(
            session, w.programme, name="Staff Otieno", roles=[Role.programme_staff]
        )
        assert other.id is not None and member.id is not None
        w.programme.sms_price = Decimal("0.8")
        await add_member(w.pid, other.id, member.id, session=session, actor=factories.OPERATOR)
        await session.commit()
    await grant(sessions, w.facilitator, ConsoleRole.facilitator)
    await grant(sessions, admin, ConsoleRole.programme_admin)
    await grant(sessions, staff, ConsoleRole.programme_staff)
    async with sessions() as session:  # the programme speaks Kiswahili; they read English
        for viewer in (w.facilitator, admin, staff):
            stored = await session.get(Person, viewer.id)
            assert stored is not None
            stored.language = Language.en
        await session.commit()
    return Setting(w, other.id, member, admin, staff)


def message(s: Setting, person: Person, **values: object) -> Message:
    assert person.phone is not None and person.id is not None
    fields: dict[str, object] = {
        "programme_id": s.world.pid,
        "person_id": person.id,
        "direction": Direction.outbound,
        "kind": "broadcast",
        "phone": person.phone,
        "status": MessageStatus.delivered,
        "segments": 1,
        "cost": None,
    }
    fields.update(values)
    return Message(**fields)  # type: ignore[arg-type]


async def add_messages(sessions: SessionFactory, s: Setting) -> None:
    now = datetime.now(UTC)
    w = s.world
    member = w.members[0]
    async with sessions() as session:
        session.add_all(
            [
                message(
                    s, member, community_id=w.community.id, body="Bring your lesson plans",
                    created_at=now - timedelta(hours=3), cost=Decimal("0.8000"), currency="KES",
                ),
                message(
                    s, s.other_member, community_id=s.other_community,
                    body="Only for the other cluster", created_at=now - timedelta(hours=2),
                ),
                message(
                    s, member, direction=Direction.inbound, kind="inbound",
                    status=MessageStatus.received, body="YES 4821 see you",
                    created_at=now - timedelta(hours=1),
                ),
                # A code still queued carries it in its values; a sent one whose stored
                # text (wrongly) still had it must not show it either.
                message(
                    s, w.facilitator, kind="sign_in", status=MessageStatus.queued,
                    template="sign_in_code", params={"code": CODE_QUEUED}, body=None,
                    created_at=now - timedelta(minutes=5),
                ),
                message(
                    s, w.facilitator, kind="sign_in", body=f"Your code is {CODE_SENT}",
                    created_at=now - timedelta(minutes=4),
                ),
                message(
                    s, w.members[1], community_id=w.community.id, kind="reminder",
                    status=MessageStatus.queued, template="reminder", body=None,
                    send_after=now + timedelta(hours=5), created_at=now - timedelta(minutes=3),
                ),
            ]
        )  # fmt: skip
        await session.commit()


async def test_the_log_shows_only_what_the_role_covers(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await add_messages(sessions, setting)
    await sign_in(client, sessions, setting.world.facilitator)
    page = (await client.get("/messages")).text
    assert "Bring your lesson plans" in page
    assert "YES 4821 see you" in page  # from a member: their person is visible
    assert "Only for the other cluster" not in page
    assert "Other Member" not in page
    # Another community's id in the filter is not found, as a missing one.
    refused = await client.get(f"/messages?community={setting.other_community}")
    assert refused.status_code == 404
    assert "Only for the other cluster" not in refused.text


async def test_the_programme_admin_sees_the_whole_programme_with_texts_and_numbers(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await add_messages(sessions, setting)
    await sign_in(client, sessions, setting.admin)
    page = html.unescape((await client.get("/messages")).text)
    assert "Only for the other cluster" in page and "Bring your lesson plans" in page
    assert str(setting.other_member.phone) in page
    assert "0.80 KES" in page
    mine = html.unescape((await client.get(f"/messages?community={setting.other_community}")).text)
    assert "Only for the other cluster" in mine and "Bring your lesson plans" not in mine


async def test_texts_and_whole_numbers_only_for_roles_that_read_personal_data(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await add_messages(sessions, setting)
    await sign_in(client, sessions, setting.staff)
    page = html.unescape((await client.get("/messages")).text)
    assert "Bring your lesson plans" not in page and "YES 4821" not in page
    assert "Hidden: your role does not show message texts." in page
    assert str(setting.world.members[0].phone) not in page  # masked
    assert "Other Member" in page  # names and figures are for every role


async def test_a_sign_in_code_is_never_shown(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await add_messages(sessions, setting)
    for person in (setting.admin, setting.world.facilitator):
        async with httpx.AsyncClient(
            transport=client._transport, base_url=str(client.base_url)
        ) as browser:
            await sign_in(browser, sessions, person)
            assert person.phone is not None
            own = await last_code(sessions, person.phone)
            for path in ("/messages", "/messages?kind=sign_in", "/messages?status=queued"):
                page = (await browser.get(path)).text
                for code in (CODE_QUEUED, CODE_SENT, own):
                    assert str(code) not in page, (person.name, path)
            assert "A sign-in code: never shown." in page


async def test_quiet_hours_show_what_they_hold_and_when_it_goes(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await add_messages(sessions, setting)
    await sign_in(client, sessions, setting.world.facilitator)
    page = (await client.get("/messages")).text
    assert "Held for quiet hours" in page
    assert "1 messages wait for quiet hours to end" in page
    held = (await client.get("/messages?held=1")).text
    assert held.count("Held until") == 1
    assert "Bring your lesson plans" not in held
    assert "Written in the person&#39;s language when it is sent." in held


async def test_the_log_pages_fifty_at_a_time_newest_first(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await sign_in(client, sessions, setting.world.facilitator)  # her code: the oldest row
    moment = datetime.now(UTC)
    async with sessions() as session:
        for n in range(55):  # a round written at one moment, as the reminder job writes it
            session.add(message(setting, setting.world.members[0], body=f"Note {n:02d}.",
                                created_at=moment, community_id=setting.world.community.id))  # fmt: skip
            await session.flush()
        await session.commit()
    first = (await client.get("/messages")).text
    assert first.count('<td class="when">') == 50
    assert re.findall(r"Note (\d\d)\.", first) == [f"{n:02d}" for n in range(54, 4, -1)]
    older = re.search(r'href="(/messages\?before=\d+)" rel="next"', first)
    assert older is not None
    second = (await client.get(older.group(1))).text
    assert re.findall(r"Note (\d\d)\.", second) == ["04", "03", "02", "01", "00"]
    assert second.count('<td class="when">') == 6  # and her sign-in code
    assert 'rel="next"' not in second
    filtered = (await client.get("/messages?kind=broadcast")).text
    kept = re.search(r'href="(/messages\?[^"]+)" rel="next"', filtered)
    assert kept is not None and "kind=broadcast" in kept.group(1)  # the filter stays on
    rest = (await client.get(html.unescape(kept.group(1)))).text
    assert re.findall(r"Note (\d\d)\.", rest) == ["04", "03", "02", "01", "00"]
    assert rest.count('<td class="when">') == 5  # not her sign-in code


# The composer -------------------------------------------------------------------------


def figures(page: str) -> dict[str, str]:
    found = re.findall(r'data-figure="(\w+)">(.*?)</(?:dd|p)>', page, re.S)
    return {
        k: re.sub(r"\s+", " ", html.unescape(re.sub("<[^>]+>", "", v))).strip() for k, v in found
    }


async def preview(client: httpx.AsyncClient, csrf: str, text: str, to: str = "") -> dict[str, str]:
    answer = await client.post("/messages/preview", data={"csrf": csrf, "to": to, "text": text})
    assert answer.status_code == 200, answer.text
    assert "<html" not in answer.text  # a fragment
    return figures(answer.text)


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "left"),
    [
        ("a" * 160, "GSM-7", "1 (160 characters each)", "0"),
        ("a" * 161, "GSM-7", "2 (153 characters each)", "145"),
        ("a" * 306, "GSM-7", "2 (153 characters each)", "0"),
        ("a" * 307, "GSM-7", "3 (153 characters each)", "152"),
        ("ê" * 70, "UCS-2", "1 (70 characters each)", "0"),
        ("ê" * 71, "UCS-2", "2 (67 characters each)", "63"),
        ("ê" * 134, "UCS-2", "2 (67 characters each)", "0"),
        ("ê" * 135, "UCS-2", "3 (67 characters each)", "66"),
    ],
)
async def test_the_preview_counts_segments_at_their_boundaries(
    client: httpx.AsyncClient,
    sessions: SessionFactory,
    setting: Setting,
    text: str,
    encoding: str,
    segments: str,
    left: str,
) -> None:
    await sign_in(client, sessions, setting.world.facilitator)
    csrf = csrf_of((await client.get("/messages/new")).text)
    shown = await preview(client, csrf, text, str(setting.world.community.id))
    assert (shown["encoding"], shown["segments"], shown["left"]) == (encoding, segments, left)
    assert shown["recipients"] == "2"
    parts = int(segments[0])
    price = setting.world.programme.sms_price
    assert shown["cost"].startswith(f"{price * parts * 2:,.2f} {setting.world.programme.currency}")
    assert ("warning" in shown) is (encoding == "UCS-2")


async def test_the_preview_names_the_character_that_forces_ucs2(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await sign_in(client, sessions, setting.world.facilitator)
    csrf = csrf_of((await client.get("/messages/new")).text)
    shown = await preview(client, csrf, "Don\u2019t forget your plans")
    assert shown["warning"].startswith(
        "\u2019 (curly quote) makes this SMS UCS-2: 70 characters per segment instead of 160."
    )
    assert "write ' for \u2019" in shown["warning"]
    assert shown["recipients"] == "choose who gets it"
    several = await preview(client, csrf, "\u201cPlans\u201d \u2014 bring them \U0001f600")
    assert several["warning"].startswith(
        "\u201c (curly double quote), \u201d (curly double quote), \u2014 (long dash), "
        "\U0001f600 (emoji or symbol) make this SMS UCS-2"
    )
    spaced = await preview(client, csrf, "Tomorrow\u00a0at 2 p.m., bring tea")
    assert spaced["warning"] == (
        "U+00A0 (invisible character) makes this SMS UCS-2: 70 characters per segment "
        "instead of 160."
    )
    plain = await preview(client, csrf, "Don't forget: [plans] cost 5€")
    assert "warning" not in plain and plain["encoding"] == "GSM-7"


async def test_the_preview_works_without_javascript(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await sign_in(client, sessions, setting.world.facilitator)
    csrf = csrf_of((await client.get("/messages/new")).text)
    data = {"csrf": csrf, "to": str(setting.world.community.id), "text": "a" * 161,
            "action": "preview"}  # fmt: skip
    page = await client.post("/messages/new", data=data)
    assert page.status_code == 200
    assert "<html" in page.text and "a" * 161 in page.text  # the form again, as written
    assert figures(page.text)["segments"] == "2 (153 characters each)"
    assert f'<option value="{setting.world.community.id}" selected>' in page.text
    assert await broadcasts(sessions) == []


def quiet_now(programme: Programme, quiet: bool) -> None:
    """Quiet hours that surely hold (or never hold) a message sent in the next minutes."""
    if not quiet:
        programme.quiet_hours_start = programme.quiet_hours_end = datetime.min.time()
        return
    local = datetime.now(ZoneInfo(programme.timezone))
    programme.quiet_hours_start = (local - timedelta(hours=1)).time().replace(microsecond=0)
    programme.quiet_hours_end = (local + timedelta(hours=2)).time().replace(second=0, microsecond=0)


async def set_quiet(sessions: SessionFactory, s: Setting, quiet: bool) -> None:
    async with sessions() as session:
        programme = await session.get(Programme, s.world.pid)
        assert programme is not None
        quiet_now(programme, quiet)
        await session.commit()


async def send(
    client: httpx.AsyncClient, to: str, text: str = "Bring your lesson plans tomorrow."
) -> httpx.Response:
    csrf = csrf_of((await client.get("/messages/new")).text)
    data = {"csrf": csrf, "to": to, "text": text, "action": "send"}
    return await client.post("/messages/new", data=data)


async def broadcasts(sessions: SessionFactory) -> list[Message]:
    async with sessions() as session:
        stmt = select(Message).where(col(Message.kind) == "broadcast").order_by(col(Message.id))
        return list((await session.exec(stmt)).all())


async def test_a_broadcast_queues_one_sms_per_reachable_member_as_the_person(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await set_quiet(sessions, setting, quiet=False)
    w = setting.world
    await sign_in(client, sessions, w.facilitator)
    sent = await send(client, str(w.community.id))
    assert sent.status_code == 303
    landed = await client.get(sent.headers["location"])
    assert "2 SMS queued. They are going out now." in landed.text
    rows = await broadcasts(sessions)
    assert {r.person_id for r in rows} == {m.id for m in w.members} and len(rows) == 2
    assert {r.body for r in rows} == {"Bring your lesson plans tomorrow."}
    async with sessions() as session:
        entry = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "community.broadcast"))
        ).one()
    assert entry.actor == f"person:{w.facilitator.id}" and entry.channel is Channel.console
    assert entry.object_id == w.community.id


async def test_quiet_hours_hold_a_broadcast_and_the_notice_says_until_when(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await set_quiet(sessions, setting, quiet=True)
    await sign_in(client, sessions, setting.admin)
    compose = (await client.get("/messages/new")).text
    assert "It is quiet hours: a message sent now goes at" in compose
    sent = await send(client, "programme")
    assert sent.status_code == 303 and sent.headers["location"] == "/messages?held=1"
    landed = html.unescape((await client.get(sent.headers["location"])).text)
    assert "4 SMS queued. Quiet hours hold them until" in landed
    assert landed.count("Held until") == 4
    rows = await broadcasts(sessions)
    # Every active member of every community, once: the facilitator, the two members
    # and the other cluster's; not the admin, who is in none.
    assert len(rows) == len({r.person_id for r in rows}) == 4
    assert all(r.send_after is not None and r.send_after > datetime.now(UTC) for r in rows)


async def test_a_community_outside_the_coverage_is_refused_and_nothing_queued(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await sign_in(client, sessions, setting.world.facilitator)
    refused = await send(client, str(setting.other_community))
    assert refused.status_code == 404
    for made_up in ("999999", "abc", "\u00b2", "9" * 30, "-1"):
        assert (await send(client, made_up)).status_code == 404
    csrf = csrf_of((await client.get("/messages/new")).text)
    peek = await client.post(
        "/messages/preview", data={"csrf": csrf, "to": str(setting.other_community), "text": "x"}
    )
    assert peek.status_code == 404  # not even how many it would reach
    assert await broadcasts(sessions) == []


async def test_another_programmes_community_is_refused_to_its_admin_too(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    async with sessions() as session:
        elsewhere = await factories.world(session, slug="rw-sbi", country=Country.RW)
    await sign_in(client, sessions, setting.admin)
    assert (await send(client, str(elsewhere.community.id))).status_code == 404
    page = await client.get(f"/messages?community={elsewhere.community.id}")
    assert page.status_code == 404
    odd = await client.get("/messages?community=" + "9" * 30 + "&before=\u00b2&status=x&kind=y")
    assert odd.status_code == 200  # no filter that could be read: the whole log
    assert await broadcasts(sessions) == []


async def test_the_whole_programme_is_refused_to_a_facilitator(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await sign_in(client, sessions, setting.world.facilitator)
    compose = (await client.get("/messages/new")).text
    assert 'value="programme"' not in compose
    refused = await send(client, "programme")
    assert refused.status_code == 403
    assert await broadcasts(sessions) == []


async def test_sending_needs_a_text_and_an_audience(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await sign_in(client, sessions, setting.admin)
    nobody = await send(client, "")
    assert nobody.status_code == 422 and "Choose who gets the message." in nobody.text
    empty = await send(client, str(setting.world.community.id), text="   ")
    assert empty.status_code == 422 and "Write a message of 1 to 459 characters." in empty.text
    long = await send(client, str(setting.world.community.id), text="a" * 460)
    assert long.status_code == 422
    assert await broadcasts(sessions) == []


async def test_a_forged_form_sends_nothing(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await sign_in(client, sessions, setting.admin)
    data = {"csrf": "forged", "to": "programme", "text": "Hello", "action": "send"}
    assert (await client.post("/messages/new", data=data)).status_code == 403
    assert await broadcasts(sessions) == []


async def test_the_compose_form_is_marked_up_for_htmx_and_every_control_labelled(
    client: httpx.AsyncClient, sessions: SessionFactory, setting: Setting
) -> None:
    await sign_in(client, sessions, setting.admin)
    page = (await client.get(f"/messages/new?community={setting.world.community.id}")).text
    textarea = re.search(r"<textarea[^>]*>", page)
    assert textarea is not None
    for attribute in ('hx-post="/messages/preview"', 'hx-trigger="input changed delay:300ms"',
                      'hx-target="#preview"', 'hx-swap="innerHTML"'):  # fmt: skip
        assert attribute in textarea.group(0)
    for control in ("to", "text"):
        assert f'<label for="{control}">' in page
    # Chosen from the link and counted at once: the facilitator and the two members.
    assert figures(page)["recipients"] == "3"
    assert "<script>" not in page
    assert Encoding.gsm7.value in figures(page)["encoding"]


def test_the_console_imports_no_channel() -> None:
    """It measures a broadcast with the domain's code, as the SMS channel does."""
    root = Path(__file__).parents[2] / "console"
    for source in root.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        for channel in ("sms", "ussd_menus"):
            assert not re.search(rf"^\s*(from|import) {channel}\b", text, re.M), source
