"""The communities pages: what each role sees, members added, removed, approved or declined,
and every id outside the role's coverage refused (by URL and by form field) with nothing
changed."""

from __future__ import annotations

import html

import httpx
import pytest
from sqlmodel import col, select

from console.pages import community_reads
from service.db import SessionFactory
from service.domain.actor import Actor
from service.domain.communities import request_to_join
from service.domain.phones import mask_phone
from service.models import AuditEntry, Membership
from service.models.enums import Channel, MembershipRole, MembershipStatus
from tests import factories as f
from tests.console.community_scene import Scene, build, enter, membership
from tests.console.support import csrf_of


@pytest.fixture
async def scene(sessions: SessionFactory) -> Scene:
    return await build(sessions)


async def post(
    client: httpx.AsyncClient, url: str, form_page: str, data: dict[str, str]
) -> httpx.Response:
    page = await client.get(form_page)
    assert page.status_code == 200, page.text
    return await client.post(url, data={**data, "csrf": csrf_of(page.text)})


async def ask_to_join(sessions: SessionFactory, scene: Scene) -> int:
    async with sessions() as session:
        outsider = scene.world.outsider
        assert outsider.id is not None
        asked = await request_to_join(
            scene.world.pid,
            scene.world.community.join_code,
            outsider.id,
            session=session,
            actor=Actor.person(outsider.id, Channel.ussd),
        )
        await session.commit()
    assert asked.id is not None
    return asked.id


async def test_a_facilitator_sees_only_her_communities(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    await enter(client, sessions, scene.world.facilitator)
    listing = await client.get("/communities")
    assert listing.status_code == 200
    assert "Community CLUSTER-1" in listing.text
    assert "Community CLUSTER-2" not in listing.text
    assert "Coach Achieng" in listing.text  # the facilitators column
    assert f'href="/communities/{scene.community_id}"' in listing.text


async def test_staff_see_every_community_searched_and_paginated(
    client: httpx.AsyncClient,
    sessions: SessionFactory,
    scene: Scene,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await enter(client, sessions, scene.staff)
    listing = await client.get("/communities")
    assert "Community CLUSTER-1" in listing.text and "Community CLUSTER-2" in listing.text
    assert "Community CLUSTER-1" not in (await client.get("/communities?q=cluster-2")).text
    assert "No community matches" in (await client.get("/communities?q=100%25")).text
    monkeypatch.setattr(community_reads, "PAGE_SIZE", 1)
    first = await client.get("/communities")
    assert "Page 1 of 2" in first.text and "CLUSTER-2" not in first.text
    second = await client.get("/communities?page=2")
    assert "Page 2 of 2" in second.text and "CLUSTER-2" in second.text


async def test_the_page_of_a_community_lists_members_meetings_and_its_join_code(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    await ask_to_join(sessions, scene)
    await enter(client, sessions, scene.world.facilitator)
    detail = await client.get(f"/communities/{scene.community_id}")
    text = html.unescape(detail.text)
    assert detail.status_code == 200
    assert scene.world.community.join_code in text
    member = scene.world.members[0]
    assert member.phone is not None and member.phone in text  # facilitators hold read:pii
    assert "Asking to join" in text and "Not A Member" in text
    assert f'href="/meetings/{scene.meeting_id}"' in text
    assert "Members: 3" in text  # the facilitator and two members


async def test_staff_see_numbers_masked(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    await enter(client, sessions, scene.staff)
    text = html.unescape((await client.get(f"/communities/{scene.community_id}")).text)
    member = scene.world.members[0]
    assert member.phone is not None and member.phone not in text
    assert str(mask_phone(member.phone)) in text


async def test_a_member_is_added_by_search_or_by_phone_and_removed(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    await enter(client, sessions, scene.world.facilitator)
    base = f"/communities/{scene.community_id}"
    found = await client.get(f"{base}/add?q=Other")
    assert "Other Member" in found.text
    assert scene.other_member.phone is not None
    assert scene.other_member.phone not in found.text  # beyond her coverage: masked
    added = await post(
        client, f"{base}/members", f"{base}/add", {"person_id": str(scene.other_member.id)}
    )
    assert added.status_code == 303 and added.headers["location"] == base
    assert "Other Member was added" in (await client.get(base)).text
    assert scene.other_member.id is not None
    row = await membership(sessions, scene.community_id, scene.other_member.id)
    assert row.status is MembershipStatus.active and row.role is MembershipRole.member

    outsider = scene.world.outsider
    assert outsider.phone is not None and outsider.id is not None
    local = "0" + outsider.phone.removeprefix("+254")  # as people write it
    by_phone = await post(client, f"{base}/members", f"{base}/add", {"phone": local})
    assert by_phone.status_code == 303
    assert (await membership(sessions, scene.community_id, outsider.id)).status is (
        MembershipStatus.active
    )

    removed = await post(client, f"{base}/members/remove", base, {"person_id": str(outsider.id)})
    assert removed.status_code == 303
    assert "Not A Member was removed" in (await client.get(base)).text
    left = await membership(sessions, scene.community_id, outsider.id)
    assert left.status is MembershipStatus.left


async def test_adding_a_facilitator_again_keeps_her_a_facilitator(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    await enter(client, sessions, scene.world.facilitator)
    base = f"/communities/{scene.community_id}"
    facilitator = scene.world.facilitator
    answer = await post(
        client, f"{base}/members", f"{base}/add", {"person_id": str(facilitator.id)}
    )
    assert answer.status_code == 303
    assert "Coach Achieng is already a member" in (await client.get(base)).text
    assert facilitator.id is not None
    row = await membership(sessions, scene.community_id, facilitator.id)
    assert row.role is MembershipRole.facilitator


async def test_an_unknown_or_invalid_phone_is_explained_and_kept(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    await enter(client, sessions, scene.world.facilitator)
    base = f"/communities/{scene.community_id}"
    bad = await post(client, f"{base}/members", f"{base}/add", {"phone": "12ab"})
    assert bad.status_code == 422
    assert "That is not a valid mobile number." in bad.text and 'value="12ab"' in bad.text
    unknown = await post(client, f"{base}/members", f"{base}/add", {"phone": "0712999999"})
    assert unknown.status_code == 422
    assert "Nobody in this programme has the number +254712999999" in unknown.text
    client.cookies.set("copline_lang", "sw")
    swahili = await post(client, f"{base}/members", f"{base}/add", {"phone": "12ab"})
    assert "Hiyo si nambari sahihi ya simu ya mkononi." in html.unescape(swahili.text)


async def test_join_requests_are_approved_or_declined(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    request_id = await ask_to_join(sessions, scene)
    await enter(client, sessions, scene.world.facilitator)
    base = f"/communities/{scene.community_id}"
    declined = await post(
        client, f"{base}/requests", base, {"membership_id": str(request_id), "decision": "decline"}
    )
    assert declined.status_code == 303
    assert "Not A Member's request was declined" in html.unescape((await client.get(base)).text)
    assert scene.world.outsider.id is not None
    row = await membership(sessions, scene.community_id, scene.world.outsider.id)
    assert row.status is MembershipStatus.left
    await ask_to_join(sessions, scene)  # asks again
    approved = await post(
        client, f"{base}/requests", base, {"membership_id": str(request_id), "decision": "approve"}
    )
    assert approved.status_code == 303
    row = await membership(sessions, scene.community_id, scene.world.outsider.id)
    assert row.status is MembershipStatus.active
    async with sessions() as session:
        stmt = select(AuditEntry.action, AuditEntry.actor).where(
            col(AuditEntry.action).in_(["membership.decline", "membership.approve"])
        )
        entries = (await session.exec(stmt)).all()
    actor = f"person:{scene.world.facilitator.id}"
    assert sorted(entries) == [("membership.approve", actor), ("membership.decline", actor)]


async def _memberships(sessions: SessionFactory) -> list[tuple[int, int, str]]:
    async with sessions() as session:
        rows = (await session.exec(select(Membership))).all()
    return sorted((m.community_id, m.person_id, m.status.value) for m in rows)


@pytest.mark.parametrize("who", ["facilitator", "leader"])
async def test_another_communitys_ids_are_not_found_by_url(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene, who: str
) -> None:
    """Coach Achieng facilitates CLUSTER-1 only; the head teacher's school is CLUSTER-1's."""
    person = scene.world.facilitator if who == "facilitator" else scene.leader
    await enter(client, sessions, person)
    other = f"/communities/{scene.other.id}"
    assert (await client.get(f"/communities/{scene.community_id}")).status_code == 200
    for url in (other, f"{other}/add?q=Teacher", f"{other}/schedule"):
        assert (await client.get(url)).status_code == 404, url
    before = await _memberships(sessions)
    mine = f"/communities/{scene.community_id}"
    for action, data in (
        ("members", {"person_id": str(scene.world.outsider.id)}),
        ("members/remove", {"person_id": str(scene.other_member.id)}),
    ):
        answer = await post(client, f"{other}/{action}", mine, data)
        assert answer.status_code == 404, action
    listing = await client.get("/communities")
    assert "CLUSTER-2" not in listing.text
    assert await _memberships(sessions) == before


async def test_ids_of_another_community_or_programme_in_form_fields_are_not_found(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    mine = f"/communities/{scene.community_id}"
    async with sessions() as session:
        # A request to join the other community: its id, posted to hers.
        other_asker = await f.person(session, scene.world.programme, name="Other Asker")
        assert other_asker.id is not None
        theirs = await request_to_join(
            scene.world.pid,
            scene.other.join_code,
            other_asker.id,
            session=session,
            actor=f.OPERATOR,
        )
        await session.commit()
    before = await _memberships(sessions)
    await enter(client, sessions, scene.world.facilitator)
    stranger = scene.theirs.members[0]  # a teacher of another programme
    for action, data in (
        ("members", {"person_id": str(stranger.id)}),
        ("members", {"person_id": "x"}),
        ("members/remove", {"person_id": str(scene.other_member.id)}),
        ("members/remove", {"person_id": str(stranger.id)}),
        ("requests", {"membership_id": str(theirs.id), "decision": "approve"}),
        ("requests", {"membership_id": str(theirs.id), "decision": "decline"}),
    ):
        answer = await post(client, f"{mine}/{action}", mine, data)
        assert answer.status_code == 404, (action, data)
        assert "There is nothing here for you." in answer.text
    assert stranger.phone is not None
    by_phone = await post(client, f"{mine}/members", f"{mine}/add", {"phone": stranger.phone})
    assert by_phone.status_code == 422  # a Rwandan number: nobody in this programme
    assert await _memberships(sessions) == before
    assert (await client.get(f"/communities/{scene.theirs.community.id}")).status_code == 404


async def test_writes_need_the_form_token(
    client: httpx.AsyncClient, sessions: SessionFactory, scene: Scene
) -> None:
    await enter(client, sessions, scene.world.facilitator)
    answer = await client.post(
        f"/communities/{scene.community_id}/members",
        data={"person_id": str(scene.world.outsider.id), "csrf": "forged"},
    )
    assert answer.status_code == 403
    assert scene.world.outsider.id is not None
    async with sessions() as session:
        stmt = select(Membership).where(Membership.person_id == scene.world.outsider.id)
        assert (await session.exec(stmt)).first() is None
