"""The caller's context in one statement, read through SQLAlchemy or straight from asyncpg."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import SessionFactory
from service.domain.actor import Actor
from service.domain.attendance import record_rsvp
from service.domain.communities import add_member, request_to_join
from service.models import Meeting
from service.models.enums import Channel, MembershipRole, Presence, Rsvp
from tests import factories as f
from ussd_menus.context import ProgrammeInfo
from ussd_menus.loader import DriverReader, Reader, load_caller, load_part, load_programme, reading


@asynccontextmanager
async def _sqlalchemy(engine: AsyncEngine, sessions: SessionFactory) -> AsyncIterator[Reader]:
    async with engine.connect() as connection:
        yield Reader(connection, sessions)


async def context(session: AsyncSession) -> tuple[f.World, ProgrammeInfo, Meeting]:
    """A member of two communities (one pending), with two meetings, one answered."""
    w = await f.world(session)
    other = await f.community(session, w.programme, code="CLUSTER-2")
    late = await f.meeting(session, w.programme, w.community, starts_in=timedelta(days=9))
    member = w.members[0]
    assert member.id is not None and w.meeting.id is not None and other.id is not None
    await request_to_join(
        w.pid,
        other.join_code,
        member.id,
        session=session,
        actor=Actor.person(member.id, Channel.ussd),
    )
    await record_rsvp(w.pid, late.id or 0, member.id, Rsvp.yes, session=session, actor=f.OPERATOR)
    await session.commit()
    found = await load_programme(session, w.programme.service_code)
    assert found is not None
    return w, found[0], late


async def test_one_statement_brings_the_caller_their_communities_and_meetings(
    engine: AsyncEngine, sessions: SessionFactory, session: AsyncSession
) -> None:
    w, info, late = await context(session)
    now = f.now()
    async with reading(engine, sessions) as reader:
        caller = await load_caller(reader, info, w.members[0].phone or "", now)
        stranger = await load_caller(reader, info, "+254799999999", now)
    assert caller.person_id == w.members[0].id and caller.name == w.members[0].name
    assert caller.active == ((w.community.id, MembershipRole.member, w.community.name),)
    assert caller.pending == ("Community CLUSTER-2",)
    assert [m.id for m in caller.meetings] == [w.meeting.id, late.id]
    assert [m.rsvp for m in caller.meetings] == [Rsvp.none, Rsvp.yes]
    assert caller.meetings[0].starts_at.tzinfo == ZoneInfo("Africa/Nairobi")
    assert caller.meetings[0].starts_at == w.meeting.starts_at
    assert not stranger.known and stranger.meetings == ()


async def test_asyncpg_directly_reads_the_same_caller_and_recovers_from_a_dead_connection(
    engine: AsyncEngine, sessions: SessionFactory, session: AsyncSession
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the direct read is PostgreSQL's")
    w, info, _ = await context(session)
    now = f.now()
    phone = w.facilitator.phone or ""
    async with engine.connect() as connection:
        through_sqlalchemy = await load_caller(Reader(connection, sessions), info, phone, now)
    held = engine.pool.checkedout()  # type: ignore[attr-defined]
    async with reading(engine, sessions) as reader:
        assert isinstance(reader, DriverReader)
        raw = reader.raw
        assert raw is not None
        direct = await load_caller(reader, info, phone, now)
        assert direct == through_sqlalchemy and direct.facilitates
        # The server dropped this connection: the read is asked again on a fresh one,
        # and the dead one leaves the pool.
        raw.driver_connection.terminate()  # type: ignore[union-attr]
        assert await load_caller(reader, info, phone, now) == direct
        assert reader.raw is None
    assert engine.pool.checkedout() == held  # type: ignore[attr-defined]


async def test_a_facilitator_sees_only_the_communities_they_lead(
    engine: AsyncEngine, sessions: SessionFactory, session: AsyncSession
) -> None:
    w, info, late = await context(session)
    other = await f.community(session, w.programme, code="CLUSTER-3")
    outsider = await f.person(session, w.programme, name="Only Elsewhere")
    assert w.facilitator.id is not None and other.id is not None and outsider.id is not None
    await add_member(w.pid, other.id, w.facilitator.id, session=session, actor=f.OPERATOR)
    await add_member(w.pid, other.id, outsider.id, session=session, actor=f.OPERATOR)
    await session.commit()
    now = f.now()
    seen = []
    for direct in (False, True):
        async with (
            reading(engine, sessions)
            if direct
            else _sqlalchemy(engine, sessions)  # the same on SQLite
        ) as reader:
            caller = await load_caller(reader, info, w.facilitator.phone or "", now)
            for part in ("facilitation", "communities"):
                caller = await load_part(reader, caller, part, now)
        seen.append(caller)
        facilitation = caller.facilitation
        assert facilitation is not None
        assert set(facilitation.rosters) == {w.community.id}
        assert [m.name for m in facilitation.rosters[w.community.id or 0]] == sorted(
            m.name for m in (w.facilitator, *w.members)
        )
        assert [m.id for m in facilitation.meetings] == [w.meeting.id, late.id]
        assert facilitation.marks == {late.id: {w.members[0].id: (Rsvp.yes, Presence.unknown)}}
        assert [r.name for r in facilitation.requests] == []
        sizes = {c.id: (c.members, c.role) for c in caller.communities}
        assert sizes == {
            w.community.id: (3, MembershipRole.facilitator),
            other.id: (2, MembershipRole.member),
        }
    assert all(caller == seen[0] for caller in seen)
