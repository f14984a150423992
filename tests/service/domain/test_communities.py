"""Communities: schools, join codes, members and facilitators."""

from __future__ import annotations

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.communities import (
    CommunityInput,
    add_member,
    approve_membership,
    create_community,
    decline_membership,
    remove_member,
    request_to_join,
    school_ids_of,
    upsert_community,
)
from service.domain.errors import Conflict, NotAllowed, NotFound, ValidationError
from service.domain.outcome import Outcome
from service.models.enums import Channel, CommunityKind, MembershipRole, MembershipStatus
from tests import factories as f


async def test_a_community_gets_a_six_digit_join_code_and_its_schools(
    session: AsyncSession,
) -> None:
    prog = await f.programme(session)
    a, b = await f.school(session, prog, "A"), await f.school(session, prog, "B")
    assert a.id is not None and b.id is not None
    comm = await create_community(
        prog,
        CommunityInput(
            code="KSM-1",
            name="Kisumu cluster 1",
            kind=CommunityKind.cluster,
            school_ids=[b.id, a.id],
        ),
        session=session,
        actor=f.OPERATOR,
    )
    assert comm.id is not None
    assert comm.join_code.isdigit() and len(comm.join_code) == 6
    assert await school_ids_of(session, comm.id) == sorted([a.id, b.id])
    with pytest.raises(Conflict):
        await create_community(
            prog,
            CommunityInput(code="KSM-1", name="Again", kind=CommunityKind.cluster),
            session=session,
            actor=f.OPERATOR,
        )


async def test_a_school_based_community_has_one_school(session: AsyncSession) -> None:
    prog = await f.programme(session)
    a, b = await f.school(session, prog, "A"), await f.school(session, prog, "B")
    assert a.id is not None and b.id is not None
    with pytest.raises(ValidationError):
        await upsert_community(
            prog,
            CommunityInput(
                code="MATH", name="Maths CoP", kind=CommunityKind.school, school_ids=[a.id, b.id]
            ),
            session=session,
            actor=f.OPERATOR,
        )


async def test_re_adding_someone_who_left_rejoins_them(session: AsyncSession) -> None:
    w = await f.world(session)
    member = w.members[0]
    assert w.community.id is not None and member.id is not None
    await remove_member(w.pid, w.community.id, member.id, session=session, actor=f.OPERATOR)
    membership, outcome = await add_member(
        w.pid, w.community.id, member.id, session=session, actor=f.OPERATOR
    )
    assert outcome is Outcome.updated
    assert membership.status is MembershipStatus.active and membership.left_at is None
    _, again = await add_member(w.pid, w.community.id, member.id, session=session, actor=f.OPERATOR)
    assert again is Outcome.unchanged


async def test_a_join_request_waits_for_a_facilitator(session: AsyncSession) -> None:
    w = await f.world(session)
    assert w.outsider.id is not None and w.facilitator.id is not None
    membership = await request_to_join(
        w.pid,
        w.community.join_code,
        w.outsider.id,
        session=session,
        actor=Actor.person(w.outsider.id, Channel.ussd),
    )
    assert membership.status is MembershipStatus.pending and membership.id is not None
    member = w.members[0]
    assert member.id is not None
    with pytest.raises(NotAllowed):
        await approve_membership(
            w.pid, membership.id, session=session, actor=f.OPERATOR, approver_id=member.id
        )
    approved = await approve_membership(
        w.pid, membership.id, session=session, actor=f.OPERATOR, approver_id=w.facilitator.id
    )
    assert approved.status is MembershipStatus.active and approved.role is MembershipRole.member


async def test_a_wrong_join_code_finds_nothing(session: AsyncSession) -> None:
    w = await f.world(session)
    assert w.outsider.id is not None
    with pytest.raises(NotFound):
        await request_to_join(w.pid, "000000", w.outsider.id, session=session, actor=f.OPERATOR)


async def test_members_of_another_programme_cannot_be_added(session: AsyncSession) -> None:
    w = await f.world(session)
    other = await f.programme(session, slug="ke-other")
    stranger = await f.person(session, other)
    assert w.community.id is not None and stranger.id is not None
    with pytest.raises(NotFound):
        await add_member(w.pid, w.community.id, stranger.id, session=session, actor=f.OPERATOR)


async def test_a_declined_request_is_left_and_may_be_asked_again(session: AsyncSession) -> None:
    w = await f.world(session)
    assert w.outsider.id is not None and w.facilitator.id is not None
    asker = Actor.person(w.outsider.id, Channel.ussd)
    membership = await request_to_join(
        w.pid, w.community.join_code, w.outsider.id, session=session, actor=asker
    )
    assert membership.id is not None
    member = w.members[0]
    assert member.id is not None
    with pytest.raises(NotAllowed):
        await decline_membership(
            w.pid, membership.id, session=session, actor=f.OPERATOR, approver_id=member.id
        )
    declined = await decline_membership(
        w.pid, membership.id, session=session, actor=f.OPERATOR, approver_id=w.facilitator.id
    )
    assert declined.status is MembershipStatus.left and declined.left_at is not None
    with pytest.raises(Conflict):  # only a pending request can be declined
        await decline_membership(w.pid, membership.id, session=session, actor=f.OPERATOR)
    again = await request_to_join(
        w.pid, w.community.join_code, w.outsider.id, session=session, actor=asker
    )
    assert again.status is MembershipStatus.pending
    other = await f.programme(session, slug="ke-other")
    assert other.id is not None
    with pytest.raises(NotFound):  # another programme's id is not found
        await decline_membership(other.id, membership.id, session=session, actor=f.OPERATOR)
