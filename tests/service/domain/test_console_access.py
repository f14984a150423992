"""What each console role covers, and granting or removing access."""

from __future__ import annotations

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import sign_in
from service.domain.console_access import coverage_of, set_console_role, visible_person
from service.domain.errors import NotFound
from service.models import AuditEntry, ConsoleSession, Person
from service.models.enums import ConsoleRole, Scope
from tests import factories

OPERATOR = factories.OPERATOR


async def _as(session: AsyncSession, person: Person, role: ConsoleRole) -> None:
    await set_console_role(session, person, role, actor=OPERATOR, now=factories.now())
    await session.commit()


async def test_a_facilitator_covers_the_communities_she_facilitates(
    session: AsyncSession,
) -> None:
    world = await factories.world(session)
    other = await factories.community(session, world.programme, code="OTHER")
    await _as(session, world.facilitator, ConsoleRole.facilitator)
    coverage = await coverage_of(session, world.facilitator)
    assert coverage is not None and not coverage.whole_programme
    assert coverage.covers(world.community.id or 0)
    assert not coverage.covers(other.id or 0)
    assert coverage.has(Scope.read_pii) and not coverage.has(Scope.admin)
    member = world.members[0]
    assert (await visible_person(session, coverage, member.id or 0)).id == member.id
    with pytest.raises(NotFound):
        await visible_person(session, coverage, world.outsider.id or 0)


async def test_a_school_leader_covers_her_schools_communities_and_teachers(
    session: AsyncSession,
) -> None:
    world = await factories.world(session)
    leader = await factories.person(session, world.programme, school_id=world.school.id)
    elsewhere = await factories.school(session, world.programme, code="SCH-2")
    teacher_elsewhere = await factories.person(session, world.programme, school_id=elsewhere.id)
    await _as(session, leader, ConsoleRole.school_leader)
    coverage = await coverage_of(session, leader)
    assert coverage is not None
    assert coverage.community_ids == frozenset({world.community.id or 0})
    with pytest.raises(NotFound):
        await visible_person(session, coverage, teacher_elsewhere.id or 0)


async def test_staff_cover_the_programme_but_not_its_numbers(session: AsyncSession) -> None:
    world = await factories.world(session)
    other = await factories.programme(session, slug="rw-other")
    stranger = await factories.person(session, other)
    officer = await factories.person(session, world.programme)
    await _as(session, officer, ConsoleRole.programme_staff)
    coverage = await coverage_of(session, officer)
    assert coverage is not None and coverage.whole_programme
    assert not coverage.has(Scope.read_pii)
    with pytest.raises(NotFound):  # another programme's person is never visible
        await visible_person(session, coverage, stranger.id or 0)


async def test_a_person_without_a_role_has_no_coverage(session: AsyncSession) -> None:
    world = await factories.world(session)
    assert await coverage_of(session, world.members[0]) is None


async def test_changing_a_role_ends_open_sessions_and_is_audited(session: AsyncSession) -> None:
    world = await factories.world(session)
    await _as(session, world.facilitator, ConsoleRole.programme_admin)
    await sign_in.open_session(session, world.facilitator, now=factories.now())
    await _as(session, world.facilitator, ConsoleRole.facilitator)
    rows = (await session.exec(select(ConsoleSession))).all()
    assert [row.revoked_at is not None for row in rows] == [True]
    audits = (
        await session.exec(select(AuditEntry).where(AuditEntry.action == "person.console_role"))
    ).all()
    assert [a.changes["console_role"] for a in audits] == [
        [None, "programme_admin"],
        ["programme_admin", "facilitator"],
    ]
    assert not await set_console_role(
        session, world.facilitator, ConsoleRole.facilitator, actor=OPERATOR, now=factories.now()
    )
