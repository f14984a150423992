"""A number a facilitator adds is invited, and only the person can answer it."""

from __future__ import annotations

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.communities import approve_membership, decline_membership
from service.domain.errors import Conflict
from service.domain.invitations import Added, add_by_phone, answer_invitations
from service.models import Membership
from service.models.enums import Channel, MembershipStatus
from tests import factories as f


@pytest.mark.parametrize("answer", [approve_membership, decline_membership])
async def test_staff_cannot_answer_an_invitation_for_the_person(
    session: AsyncSession, answer: object
) -> None:
    w = await f.world(session)
    assert w.community.id is not None and w.facilitator.id is not None
    coach = Actor.person(w.facilitator.id, Channel.ussd)
    added = await add_by_phone(
        w.programme, w.community.id, "0712 999 111", session=session, actor=coach
    )
    assert added.result is Added.invited
    invitation = (
        await session.exec(select(Membership).where(Membership.person_id == added.person_id))
    ).one()
    assert invitation.id is not None
    with pytest.raises(Conflict, match="invitation"):
        await answer(w.pid, invitation.id, session=session, actor=f.OPERATOR)  # type: ignore[operator]
    await session.refresh(invitation)
    assert invitation.status is MembershipStatus.pending

    # The person answers with their name, and is a member.
    await answer_invitations(
        w.pid, added.person_id, "Wanjiku Kamau", session=session, actor=f.OPERATOR
    )
    joined = await session.get(Membership, invitation.id, populate_existing=True)
    assert joined is not None and joined.status is MembershipStatus.active
