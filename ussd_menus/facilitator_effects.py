"""What a facilitator's new screens change: schedule, add by number, decline, message;
and an invited person's answer. Each calls one domain use case (see effects.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.broadcasts import BroadcastInput, broadcast
from service.domain.communities import decline_membership, get_membership
from service.domain.invitations import Added, add_by_phone, answer_invitations, named
from service.domain.meetings import MeetingInput, schedule_meeting
from service.domain.outbox import Queued
from service.domain.people import find_by_phone
from service.domain.phones import normalise_phone
from service.models import Meeting, Programme
from service.models.enums import MeetingStatus, MembershipStatus, Modality
from ussd_menus.context import Caller
from ussd_menus.effects import actor_of


@dataclass(frozen=True)
class Schedule:
    community_id: int
    starts_at: datetime  # aware, programme time
    modality: Modality
    venue: str | None
    activity: str | None = None
    activity_page: int | None = None

    @property
    def key(self) -> str:
        return f"schedule:{self.community_id}:{self.starts_at.isoformat()}"

    async def apply(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> None:
        await schedule_meeting(
            programme,
            MeetingInput(
                community_id=self.community_id,
                starts_at=self.starts_at,
                modality=self.modality,
                venue=self.venue,
                activity=self.activity,
                activity_page=self.activity_page,
            ),
            session=session,
            actor=actor_of(caller),
            now=now,
        )

    async def report(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> dict[str, str]:
        stmt = select(Meeting.code).where(
            Meeting.community_id == self.community_id,
            Meeting.starts_at == self.starts_at.astimezone(UTC),
            Meeting.status == MeetingStatus.scheduled,
        )
        code = (await session.exec(stmt.order_by(col(Meeting.id).desc()))).first()
        return {"code": code} if code else {}


@dataclass(frozen=True)
class AddMember:
    community_id: int
    phone: str  # as typed; the domain reads it in the programme's region

    @property
    def key(self) -> str:
        return f"add:{self.community_id}:{self.phone[:30]}"

    async def apply(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> Queued | None:
        added = await add_by_phone(
            programme,
            self.community_id,
            self.phone,
            session=session,
            actor=actor_of(caller),
            now=now,
        )
        return added.told

    async def report(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> dict[str, str]:
        """How the number stands now: a member (and their name), or invited."""
        assert programme.id is not None
        phone = normalise_phone(self.phone, programme.phone_region)
        person = await find_by_phone(session, programme.id, phone)
        if person is None or person.id is None:
            return {}
        membership = await get_membership(session, self.community_id, person.id)
        if membership is None:
            return {}
        if membership.status is MembershipStatus.active and named(person):
            return {"result": Added.member.value, "name": person.name}
        return {"result": Added.invited.value, "name": ""}


@dataclass(frozen=True)
class DeclineRequest:
    membership_id: int

    @property
    def key(self) -> str:
        return f"decline:{self.membership_id}"

    async def apply(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> None:
        await decline_membership(
            programme.id or 0,
            self.membership_id,
            session=session,
            actor=actor_of(caller),
            approver_id=caller.person_id,
            now=now,
        )


@dataclass(frozen=True)
class Message:
    """The facilitator's own words to the community's members, sent as typed."""

    community_id: int
    text: str

    @property
    def key(self) -> str:
        return f"message:{self.community_id}:{sha256(self.text.encode()).hexdigest()[:24]}"

    async def apply(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> Queued:
        return await broadcast(
            programme,
            self.community_id,
            BroadcastInput(text=self.text),
            session=session,
            actor=actor_of(caller),
            now=now,
        )


@dataclass(frozen=True)
class AnswerInvitations:
    """A person a facilitator added by number joins, giving their name (or says no: None)."""

    name: str | None

    @property
    def key(self) -> str:
        return "invitations:join" if self.name is not None else "invitations:no"

    async def apply(
        self, session: AsyncSession, caller: Caller, programme: Programme, now: datetime
    ) -> None:
        assert caller.person_id is not None
        await answer_invitations(
            programme.id or 0,
            caller.person_id,
            self.name,
            session=session,
            actor=actor_of(caller),
            now=now,
        )
