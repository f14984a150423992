"""A person, as a partner app sees them: phone masked unless the key may read PII."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from service.api import ids
from service.api.types.common import (
    Channel,
    ConsentState,
    ConsoleRole,
    Gender,
    Info_,
    Language,
    Node,
    Reach,
    Role,
    phone_for,
)
from service.api.types.places import SchoolNode
from service.domain.reach import opted_in
from service.models import ConsentRecord, Person
from service.models.enums import MembershipStatus

if TYPE_CHECKING:
    from service.api.types.communities import CommunityNode, MembershipNode
    from service.api.types.meetings import MeetingNode

Membership_ = Annotated["MembershipNode", strawberry.lazy("service.api.types.communities")]
Meeting_ = Annotated["MeetingNode", strawberry.lazy("service.api.types.meetings")]
Community_ = Annotated["CommunityNode", strawberry.lazy("service.api.types.communities")]


@strawberry.type
class ConsentEntry:
    """One entry of a person's consent history."""

    state: ConsentState
    at: datetime
    channel: Channel = strawberry.field(description="How the person gave or refused it.")
    recorded_by: str = strawberry.field(
        description='Who recorded it: "person:12" (themselves), "apikey:3", "cli:ana"…'
    )

    @classmethod
    def from_row(cls, row: ConsentRecord) -> ConsentEntry:
        return cls(state=row.state, at=row.at, channel=row.channel, recorded_by=row.recorded_by)


@strawberry.type(name="Person")
class PersonNode(Node):
    name: str
    external_id: str | None = strawberry.field(
        description="Their id in another system the programme uses (a TSC number), as "
        "written there; unique in the programme."
    )
    language: Language
    roles: list[Role]
    subjects: list[str]
    gender: Gender | None
    consent: ConsentState = strawberry.field(
        description="Their latest recorded consent (unknown: none recorded yet)."
    )
    consent_at: datetime | None
    consent_channel: Channel | None
    opted_out: bool = strawberry.field(
        description="True after STOP, or consent refused or withdrawn: no message is sent to them."
    )
    reach: Reach = strawberry.field(
        description="How messages reach them: sms, or whatsapp (SMS when WhatsApp cannot "
        "deliver, e.g. before they opt in)."
    )
    whatsapp_opt_in: bool = strawberry.field(
        description="They opted in to WhatsApp themselves (USSD menu or replying WHATSAPP) "
        "and have not stopped it since: WhatsApp may write to them first."
    )
    whatsapp_opt_in_at: datetime | None = strawberry.field(
        description="When they last opted in to WhatsApp; null: never."
    )
    console_role: ConsoleRole | None = strawberry.field(
        description="What they may do in the web console; null: they cannot sign in to it."
    )
    legal_hold: bool = strawberry.field(
        description="A legal hold is set: their data may not be erased until it is lifted."
    )
    erased_at: datetime | None = strawberry.field(
        description="When their name, phone and texts were erased; null: not erased."
    )
    created_at: datetime
    pk: strawberry.Private[int]
    school_id: strawberry.Private[int | None]
    raw_phone: strawberry.Private[str | None]

    @classmethod
    def from_row(cls, row: Person) -> PersonNode:
        assert row.id is not None
        return cls(
            id=ids.encode("Person", row.id),
            name=row.name,
            external_id=row.external_id,
            language=row.language,
            roles=[Role(r) for r in row.roles],
            subjects=list(row.subjects),
            gender=row.gender,
            consent=row.consent,
            consent_at=row.consent_at,
            consent_channel=row.consent_channel,
            opted_out=row.opted_out_at is not None,
            reach=row.reach,
            whatsapp_opt_in=opted_in(row),
            whatsapp_opt_in_at=row.whatsapp_opt_in_at,
            console_role=row.console_role,
            legal_hold=row.legal_hold_at is not None,
            erased_at=row.erased_at,
            created_at=row.created_at,
            pk=row.id,
            school_id=row.school_id,
            raw_phone=row.phone,
        )

    @strawberry.field(description="E.164; masked (+25078•••••21) without the read:pii scope.")
    def phone(self, info: Info_) -> str | None:
        return phone_for(info, self.raw_phone)

    @strawberry.field
    async def school(self, info: Info_) -> SchoolNode | None:
        if self.school_id is None:
            return None
        row = await info.context.loaders.school.load(self.school_id)
        return SchoolNode.from_row(row) if row else None

    @strawberry.field(description="Every consent recorded for them, oldest first.")
    async def consent_history(self, info: Info_) -> list[ConsentEntry]:
        rows = await info.context.loaders.consent_of_person.load(self.pk)
        return [ConsentEntry.from_row(r) for r in rows]

    @strawberry.field(description="Memberships in communities, including pending and left.")
    async def memberships(self, info: Info_) -> list[Membership_]:
        from service.api.types.communities import MembershipNode

        rows = await info.context.loaders.memberships_of_person.load(self.pk)
        return [MembershipNode.from_row(m) for m in rows]

    @strawberry.field(description="Communities they are an active member or facilitator of.")
    async def communities(self, info: Info_) -> list[Community_]:
        from service.api.types.communities import CommunityNode

        loaders = info.context.loaders
        memberships = await loaders.memberships_of_person.load(self.pk)
        active = [m.community_id for m in memberships if m.status is MembershipStatus.active]
        rows = await loaders.community.load_many(active)
        return [CommunityNode.from_row(c) for c in rows if c is not None]

    @strawberry.field(description="Scheduled meetings of the communities they belong to.")
    async def upcoming_meetings(self, info: Info_, first: int = 5) -> list[Meeting_]:
        from service.api.types.meetings import MeetingNode

        rows = await info.context.loaders.upcoming_of_person.load(self.pk)
        return [MeetingNode.from_row(m) for m in rows[: max(0, min(first, 100))]]
