"""The SMS a membership change sends: a join request to the community's facilitators,
the answer to the person who asked, an invitation to a number a facilitator added."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import outbox
from service.models import Community, Membership, Person, Programme
from service.models.enums import MembershipRole, MembershipStatus

# The templates (sms/templates/*.toml, table [membership]).
JOIN_REQUEST = "join_request"
JOIN_APPROVED = "join_approved"
JOIN_DECLINED = "join_declined"
INVITED = "invited"


async def reachable(session: AsyncSession, person_ids: list[int]) -> list[outbox.Recipient]:
    """Those of `person_ids` with a phone who have not opted out, ordered by person."""
    if not person_ids:
        return []
    rows = await session.execute(
        sa.select(col(Person.id), col(Person.phone), col(Person.language))
        .where(
            col(Person.id).in_(person_ids),
            col(Person.phone).is_not(None),
            col(Person.opted_out_at).is_(None),
        )
        .order_by(col(Person.id))
    )
    return [outbox.Recipient(pid, phone, language) for pid, phone, language in rows.all()]


async def facilitator_ids(session: AsyncSession, community_id: int) -> list[int]:
    rows = await session.execute(
        sa.select(col(Membership.person_id)).where(
            col(Membership.community_id) == community_id,
            col(Membership.role) == MembershipRole.facilitator,
            col(Membership.status) == MembershipStatus.active,
        )
    )
    return list(rows.scalars().all())


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y%m%dT%H%M%S}"


async def tell_facilitators(
    session: AsyncSession,
    programme: Programme,
    community: Community,
    membership: Membership,
    requester: Person,
    now: datetime,
) -> outbox.Queued:
    """A new join request: one SMS to each facilitator with a phone, once per request
    (asking again after a decline is a new request)."""
    recipients = await reachable(session, await facilitator_ids(session, membership.community_id))
    return await outbox.queue(
        session,
        programme,
        recipients,
        kind=outbox.NOTICE,
        template=JOIN_REQUEST,
        params={
            "name": requester.name,
            "community": community.name,
            "ussd": programme.service_code,
        },
        due=now,
        now=now,
        dedupe=lambda r: (
            f"{JOIN_REQUEST}:{membership.id}:{_stamp(membership.requested_at)}:{r.person_id}"
        ),
        community_id=membership.community_id,
    )


async def tell_requester(
    session: AsyncSession,
    programme: Programme,
    community: Community,
    membership: Membership,
    template: str,
    now: datetime,
) -> outbox.Queued:
    """The answer to a join request (JOIN_APPROVED or JOIN_DECLINED), once per answer."""
    recipients = await reachable(session, [membership.person_id])
    return await outbox.queue(
        session,
        programme,
        recipients,
        kind=outbox.NOTICE,
        template=template,
        params={"community": community.name, "programme": programme.name},
        due=now,
        now=now,
        dedupe=lambda r: f"{template}:{membership.id}:{_stamp(now)}",
        community_id=membership.community_id,
    )


async def tell_invitee(
    session: AsyncSession,
    programme: Programme,
    community: Community,
    membership: Membership,
    inviter: str,
    now: datetime,
) -> outbox.Queued:
    """A number a facilitator added: who added them, to what, and how to join."""
    recipients = await reachable(session, [membership.person_id])
    return await outbox.queue(
        session,
        programme,
        recipients,
        kind=outbox.NOTICE,
        template=INVITED,
        params={"name": inviter, "community": community.name, "ussd": programme.service_code},
        due=now,
        now=now,
        dedupe=lambda r: f"{INVITED}:{membership.id}:{_stamp(membership.requested_at)}",
        community_id=membership.community_id,
    )
