"""Broadcasts: to a community, or to every member of the programme, and who they reach."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import broadcasts, outbox
from service.domain.actor import Actor
from service.domain.broadcasts import BroadcastInput, BroadcastTemplate
from service.domain.communities import add_member, remove_member
from service.domain.errors import NotFound, ValidationError
from service.domain.people import opt_out
from service.models import AuditEntry, Message
from service.models.enums import Channel, MessageStatus
from tests import factories as f

OP = f.OPERATOR
NOON = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)  # 12:00 in Nairobi
NIGHT = datetime(2031, 3, 4, 18, 0, tzinfo=UTC)  # 21:00 in Nairobi


async def second_community(session: AsyncSession, w: f.World) -> f.World:
    """A second community sharing one member with the first, plus a member of its own."""
    other = await f.community(session, w.programme, code="CLUSTER-2")
    own = await f.person(session, w.programme, name="Only In Two")
    assert other.id is not None and own.id is not None and w.members[0].id is not None
    await add_member(w.pid, other.id, w.members[0].id, session=session, actor=OP)
    await add_member(w.pid, other.id, own.id, session=session, actor=OP)
    await session.commit()
    return w


async def test_the_programme_broadcast_reaches_every_member_once(session: AsyncSession) -> None:
    w = await second_community(session, await f.world(session))
    # Not reached: the sender, a member who left, one who opted out, a non-member.
    sender = Actor.person(w.facilitator.id or 0, Channel.console)
    assert w.community.id is not None and w.members[1].id is not None
    await remove_member(w.pid, w.community.id, w.members[1].id, session=session, actor=OP)
    stopped = await f.person(session, w.programme, name="Said STOP")
    assert stopped.id is not None
    await add_member(w.pid, w.community.id, stopped.id, session=session, actor=OP)
    await opt_out(stopped, channel=Channel.sms, session=session, actor=OP)
    await session.commit()

    expected = 2  # members[0] (in both communities, once) and "Only In Two"
    assert await broadcasts.audience(session, w.programme, None, actor=sender) == expected
    queued = await broadcasts.broadcast_programme(
        w.programme, BroadcastInput(text="Term ends Friday."), session=session, actor=sender,
        now=NOON,
    )  # fmt: skip
    await session.commit()
    assert (queued.queued, queued.dropped, queued.send_after) == (expected, 0, NOON)
    rows = (await session.exec(select(Message))).all()
    assert len({r.person_id for r in rows}) == len(rows) == expected
    assert {r.body for r in rows} == {"Term ends Friday."}
    assert {r.community_id for r in rows} == {None}
    entry = (
        await session.exec(select(AuditEntry).where(AuditEntry.action == "programme.broadcast"))
    ).one()
    assert entry.actor == f"person:{w.facilitator.id}" and entry.channel is Channel.console
    assert entry.changes == {"template": None, "queued": 2, "dropped": 0}


async def test_quiet_hours_hold_a_programme_broadcast_until_morning(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    queued = await broadcasts.broadcast_programme(
        w.programme, BroadcastInput(text="Hello"), session=session, actor=OP, now=NIGHT
    )
    assert queued.fate(NIGHT) is outbox.Fate.held
    assert queued.send_after == datetime(2031, 3, 5, 4, 0, tzinfo=UTC)  # 07:00 Nairobi
    statuses = (await session.exec(select(col(Message.status)))).all()
    assert set(statuses) == {MessageStatus.queued}


async def test_the_programme_broadcast_cannot_name_one_communitys_next_meeting(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    with pytest.raises(ValidationError):
        await broadcasts.broadcast_programme(
            w.programme,
            BroadcastInput(template=BroadcastTemplate.next_meeting),
            session=session,
            actor=OP,
        )
    keywords = await broadcasts.broadcast_programme(
        w.programme,
        BroadcastInput(template=BroadcastTemplate.how_to_reply),
        session=session,
        actor=OP,
        now=NOON,
    )
    assert keywords.queued == 3
    assert (await session.exec(select(Message.template))).all() == ["help"] * 3


async def test_the_audience_of_a_community_is_what_its_broadcast_queues(
    session: AsyncSession,
) -> None:
    w = await second_community(session, await f.world(session))
    w.programme.quiet_hours_start = w.programme.quiet_hours_end = time(0)
    assert w.community.id is not None
    sender = Actor.person(w.facilitator.id or 0, Channel.console)
    counted = await broadcasts.audience(session, w.programme, w.community.id, actor=sender)
    queued = await broadcasts.broadcast(
        w.programme, w.community.id, BroadcastInput(text="Hi"), session=session, actor=sender
    )
    assert counted == queued.queued == 2  # the two members; the sender is left out


async def test_the_audience_of_another_programmes_community_is_not_found(
    session: AsyncSession,
) -> None:
    w = await f.world(session)
    other = await f.world(session, slug="rw-sbi")
    assert other.community.id is not None
    with pytest.raises(NotFound):
        await broadcasts.audience(session, w.programme, other.community.id, actor=OP)
