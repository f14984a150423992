"""Root queries. Every one is scoped to the calling key's programme."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError
from sqlalchemy import Text, cast, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar
from strawberry.permission import BasePermission
from strawberry.scalars import JSON

from service.api import ids
from service.api.loaders import delivery_query
from service.api.pagination import Connection, paginate
from service.api.permissions import CanRead, IsAdmin
from service.api.types.access import ApiKeyNode, AuditEntryNode, JobRunNode
from service.api.types.common import (
    CommunityKind,
    Direction,
    Info_,
    MeetingStatus,
    MessageStatus,
    Node,
    Role,
)
from service.api.types.communities import CommunityNode, MembershipNode
from service.api.types.meetings import MeetingNode
from service.api.types.messages import DeliverySummary, MessageNode
from service.api.types.people import PersonNode
from service.api.types.places import ProgrammeNode, SchoolNode, TermNode
from service.api.types.surveys import SurveyNode
from service.api.types.ussd import FunnelStep, UssdSessionNode
from service.domain.errors import NotFound
from service.domain.job_runs import job_states
from service.domain.lookup import get_owned
from service.domain.person_export import export_person
from service.domain.reports import ussd_funnel
from service.models import (
    ApiKey,
    AuditEntry,
    Community,
    CommunitySchool,
    Meeting,
    Membership,
    Message,
    Person,
    School,
    Survey,
    Term,
    UssdSession,
)
from service.models.enums import MembershipStatus, UssdOutcome

READ: list[type[BasePermission]] = [CanRead]
ADMIN: list[type[BasePermission]] = [IsAdmin]


@strawberry.input
class SchoolFilter:
    district: str | None = None
    sector: str | None = None
    search: str | None = strawberry.field(default=None, description="Part of the name or code.")
    external_id: str | None = strawberry.field(
        default=None, description="Exactly this external id (an EMIS code)."
    )


@strawberry.input
class PeopleFilter:
    role: Role | None = None
    school_id: strawberry.ID | None = None
    district: str | None = None
    subject: str | None = None
    community_id: strawberry.ID | None = strawberry.field(
        default=None, description="Active members and facilitators of this community."
    )
    search: str | None = strawberry.field(default=None, description="Part of the name.")
    external_id: str | None = strawberry.field(
        default=None, description="Exactly this external id (a TSC number)."
    )


@strawberry.input
class CommunityFilter:
    kind: CommunityKind | None = None
    subject: str | None = None
    school_id: strawberry.ID | None = None
    district: str | None = None


@strawberry.input
class MeetingFilter:
    community_id: strawberry.ID | None = None
    term_id: strawberry.ID | None = None
    status: MeetingStatus | None = None
    starts_after: datetime | None = None
    starts_before: datetime | None = None


@strawberry.input
class MessageFilter:
    status: MessageStatus | None = None
    direction: Direction | None = None
    kind: str | None = None
    meeting_id: strawberry.ID | None = None
    community_id: strawberry.ID | None = None
    person_id: strawberry.ID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


@strawberry.input
class AuditFilter:
    object_id: strawberry.ID | None = None
    action: str | None = None


def _message_filter(stmt: Any, f: MessageFilter) -> Any:
    if f.kind:
        stmt = stmt.where(col(Message.kind) == f.kind)
    if f.meeting_id:
        stmt = stmt.where(col(Message.meeting_id) == ids.decode(f.meeting_id, "Meeting"))
    if f.community_id:
        stmt = stmt.where(col(Message.community_id) == ids.decode(f.community_id, "Community"))
    if f.person_id:
        stmt = stmt.where(col(Message.person_id) == ids.decode(f.person_id, "Person"))
    if f.created_after:
        stmt = stmt.where(col(Message.created_at) >= f.created_after)
    if f.created_before:
        stmt = stmt.where(col(Message.created_at) < f.created_before)
    return stmt


def _like(column: Any, text: str) -> Any:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return col(column).ilike(f"%{escaped}%", escape="\\")


def _json_has(column: Any, value: str) -> Any:
    # Roles and subjects are short JSON lists of plain words: a quoted match is exact
    # on both engines without JSON operators that differ between them.
    return cast(column, Text).like(f'%"{value}"%')


async def _page(
    info: Info_, stmt: SelectOfScalar[Any], wrap: Any, first: int | None, after: str | None
) -> Any:
    async def work(session: AsyncSession) -> Any:
        return await paginate(session, stmt, first=first, after=after, wrap=wrap)

    return await info.context.run(work)


async def _owned(info: Info_, model: Any, gid: strawberry.ID, type_name: str) -> Any:
    pk = ids.decode(gid, type_name)

    async def work(session: AsyncSession) -> Any:
        return await get_owned(session, model, pk, info.context.programme_id)

    return await info.context.run(work)


async def _maybe(info: Info_, model: Any, gid: strawberry.ID, type_name: str) -> Any:
    try:
        return await _owned(info, model, gid, type_name)
    except NotFound:
        return None


async def _by_id_or_external(
    info: Info_, model: Any, type_name: str, gid: strawberry.ID | None, external_id: str | None
) -> Any:
    """The programme's object with this global id, or with this external id (exactly as
    written, but for spaces around it); None when there is none."""
    if (gid is None) == (external_id is None):
        raise GraphQLError("give either id or externalId", extensions={"code": "bad_arguments"})
    if gid is not None:
        return await _maybe(info, model, gid, type_name)
    assert external_id is not None
    stmt = select(model).where(
        model.programme_id == info.context.programme_id,
        model.external_id == external_id.strip(),
    )

    async def work(session: AsyncSession) -> Any:
        return (await session.exec(stmt)).first()

    return await info.context.run(work)


NODE_TYPES: dict[str, tuple[Any, Any]] = {
    "School": (School, SchoolNode),
    "Person": (Person, PersonNode),
    "Community": (Community, CommunityNode),
    "Meeting": (Meeting, MeetingNode),
    "Term": (Term, TermNode),
    "Survey": (Survey, SurveyNode),
    "Message": (Message, MessageNode),
    "UssdSession": (UssdSession, UssdSessionNode),
}


@strawberry.input
class UssdFilter:
    outcome: UssdOutcome | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None


def _ussd_in(info: Info_, f: UssdFilter) -> Any:
    stmt = select(UssdSession).where(UssdSession.programme_id == info.context.programme_id)
    if f.started_after:
        stmt = stmt.where(col(UssdSession.started_at) >= f.started_after)
    if f.started_before:
        stmt = stmt.where(col(UssdSession.started_at) < f.started_before)
    return stmt


@strawberry.type
class Query:
    @strawberry.field(permission_classes=READ, description="The programme this API key belongs to.")
    def programme(self, info: Info_) -> ProgrammeNode:
        assert info.context.programme is not None
        return ProgrammeNode.from_row(info.context.programme)

    @strawberry.field(permission_classes=READ, description="Any object by its global id.")
    async def node(self, info: Info_, id: strawberry.ID) -> Node | None:
        try:
            type_name, _ = ids.decode_any(id)
        except NotFound:
            return None
        if type_name == "Membership":
            return await _membership(info, id)
        if type_name not in NODE_TYPES:
            return None
        model, node_type = NODE_TYPES[type_name]
        row = await _maybe(info, model, id, type_name)
        return node_type.from_row(row) if row else None

    @strawberry.field(
        permission_classes=READ,
        description="A person by their global id or by their external id (give one of them).",
    )
    async def person(
        self, info: Info_, id: strawberry.ID | None = None, external_id: str | None = None
    ) -> PersonNode | None:
        row = await _by_id_or_external(info, Person, "Person", id, external_id)
        return PersonNode.from_row(row) if row else None

    @strawberry.field(
        permission_classes=READ,
        description="A school by its global id or by its external id (give one of them).",
    )
    async def school(
        self, info: Info_, id: strawberry.ID | None = None, external_id: str | None = None
    ) -> SchoolNode | None:
        row = await _by_id_or_external(info, School, "School", id, external_id)
        return SchoolNode.from_row(row) if row else None

    @strawberry.field(permission_classes=READ)
    async def community(self, info: Info_, id: strawberry.ID) -> CommunityNode | None:
        row = await _maybe(info, Community, id, "Community")
        return CommunityNode.from_row(row) if row else None

    @strawberry.field(permission_classes=READ)
    async def meeting(self, info: Info_, id: strawberry.ID) -> MeetingNode | None:
        row = await _maybe(info, Meeting, id, "Meeting")
        return MeetingNode.from_row(row) if row else None

    @strawberry.field(permission_classes=READ)
    async def terms(self, info: Info_) -> list[TermNode]:
        stmt = select(Term).where(Term.programme_id == info.context.programme_id)

        async def work(session: AsyncSession) -> list[TermNode]:
            rows = (await session.exec(stmt.order_by(col(Term.starts_on)))).all()
            return [TermNode.from_row(t) for t in rows]

        return await info.context.run(work)

    @strawberry.field(permission_classes=READ)
    async def schools(
        self, info: Info_, filter: SchoolFilter | None = None, first: int | None = None,
        after: str | None = None,
    ) -> Connection[SchoolNode]:  # fmt: skip
        f = filter or SchoolFilter()
        stmt = select(School).where(School.programme_id == info.context.programme_id)
        if f.district:
            stmt = stmt.where(School.district == f.district)
        if f.sector:
            stmt = stmt.where(School.sector == f.sector)
        if f.search:
            stmt = stmt.where(or_(_like(School.name, f.search), _like(School.code, f.search)))
        if f.external_id is not None:
            stmt = stmt.where(School.external_id == f.external_id.strip())
        stmt = stmt.order_by(col(School.name), col(School.id))
        return await _page(info, stmt, SchoolNode.from_row, first, after)

    @strawberry.field(permission_classes=READ)
    async def people(
        self, info: Info_, filter: PeopleFilter | None = None, first: int | None = None,
        after: str | None = None,
    ) -> Connection[PersonNode]:  # fmt: skip
        f = filter or PeopleFilter()
        pid = info.context.programme_id
        stmt = select(Person).where(Person.programme_id == pid)
        if f.role:
            stmt = stmt.where(_json_has(Person.roles, f.role.value))
        if f.subject:
            stmt = stmt.where(_json_has(Person.subjects, f.subject))
        if f.school_id:
            stmt = stmt.where(Person.school_id == ids.decode(f.school_id, "School"))
        if f.district:
            in_district = select(School.id).where(
                School.programme_id == pid, School.district == f.district
            )
            stmt = stmt.where(col(Person.school_id).in_(in_district))
        if f.community_id:
            members = select(Membership.person_id).where(
                Membership.community_id == ids.decode(f.community_id, "Community"),
                Membership.status == MembershipStatus.active,
            )
            stmt = stmt.where(col(Person.id).in_(members))
        if f.search:
            stmt = stmt.where(_like(Person.name, f.search))
        if f.external_id is not None:
            stmt = stmt.where(Person.external_id == f.external_id.strip())
        stmt = stmt.order_by(col(Person.name), col(Person.id))
        return await _page(info, stmt, PersonNode.from_row, first, after)

    @strawberry.field(permission_classes=READ)
    async def communities(
        self, info: Info_, filter: CommunityFilter | None = None, first: int | None = None,
        after: str | None = None,
    ) -> Connection[CommunityNode]:  # fmt: skip
        f = filter or CommunityFilter()
        pid = info.context.programme_id
        stmt = select(Community).where(Community.programme_id == pid)
        if f.kind:
            stmt = stmt.where(Community.kind == f.kind)
        if f.subject:
            stmt = stmt.where(_json_has(Community.subjects, f.subject))
        if f.school_id:
            at_school = select(CommunitySchool.community_id).where(
                CommunitySchool.school_id == ids.decode(f.school_id, "School")
            )
            stmt = stmt.where(col(Community.id).in_(at_school))
        if f.district:
            in_district = (
                select(CommunitySchool.community_id)
                .join(School, col(School.id) == CommunitySchool.school_id)
                .where(School.programme_id == pid, School.district == f.district)
            )
            stmt = stmt.where(col(Community.id).in_(in_district))
        stmt = stmt.order_by(col(Community.name), col(Community.id))
        return await _page(info, stmt, CommunityNode.from_row, first, after)

    @strawberry.field(permission_classes=READ)
    async def meetings(
        self, info: Info_, filter: MeetingFilter | None = None, first: int | None = None,
        after: str | None = None,
    ) -> Connection[MeetingNode]:  # fmt: skip
        f = filter or MeetingFilter()
        stmt = select(Meeting).where(Meeting.programme_id == info.context.programme_id)
        if f.community_id:
            stmt = stmt.where(Meeting.community_id == ids.decode(f.community_id, "Community"))
        if f.term_id:
            stmt = stmt.where(Meeting.term_id == ids.decode(f.term_id, "Term"))
        if f.status:
            stmt = stmt.where(Meeting.status == f.status)
        if f.starts_after:
            stmt = stmt.where(col(Meeting.starts_at) >= f.starts_after)
        if f.starts_before:
            stmt = stmt.where(col(Meeting.starts_at) < f.starts_before)
        stmt = stmt.order_by(col(Meeting.starts_at), col(Meeting.id))
        return await _page(info, stmt, MeetingNode.from_row, first, after)

    @strawberry.field(permission_classes=READ)
    async def surveys(self, info: Info_) -> list[SurveyNode]:
        stmt = select(Survey).where(Survey.programme_id == info.context.programme_id)

        async def work(session: AsyncSession) -> list[SurveyNode]:
            rows = (await session.exec(stmt.order_by(col(Survey.key), col(Survey.version)))).all()
            return [SurveyNode.from_row(s) for s in rows]

        return await info.context.run(work)

    @strawberry.field(permission_classes=READ)
    async def messages(
        self, info: Info_, filter: MessageFilter | None = None, first: int | None = None,
        after: str | None = None,
    ) -> Connection[MessageNode]:  # fmt: skip
        f = filter or MessageFilter()
        stmt = _message_filter(
            select(Message).where(Message.programme_id == info.context.programme_id), f
        )
        if f.status:
            stmt = stmt.where(Message.status == f.status)
        if f.direction:
            stmt = stmt.where(Message.direction == f.direction)
        stmt = stmt.order_by(col(Message.created_at).desc(), col(Message.id).desc())
        return await _page(info, stmt, MessageNode.from_row, first, after)

    @strawberry.field(
        permission_classes=READ,
        description="Outgoing SMS by status with segments and cost: the whole programme, "
        "or narrowed to a meeting, a community, a kind or a period (status and direction "
        "in the filter are ignored: the summary counts every status of outgoing SMS).",
    )
    async def delivery_summary(
        self, info: Info_, filter: MessageFilter | None = None
    ) -> DeliverySummary:
        stmt = _message_filter(delivery_query(info.context.programme_id), filter or MessageFilter())

        async def work(session: AsyncSession) -> Any:
            return (await session.execute(stmt)).all()

        return DeliverySummary.of(await info.context.run(work))

    @strawberry.field(permission_classes=READ, description="USSD dials, newest first.")
    async def ussd_sessions(
        self,
        info: Info_,
        filter: UssdFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[UssdSessionNode]:
        f = filter or UssdFilter()
        stmt = _ussd_in(info, f)
        if f.outcome:
            stmt = stmt.where(UssdSession.outcome == f.outcome)
        stmt = stmt.order_by(col(UssdSession.started_at).desc(), col(UssdSession.id).desc())
        return await _page(info, stmt, UssdSessionNode.from_row, first, after)

    @strawberry.field(
        permission_classes=READ,
        description="Where USSD sessions end, by last screen: the screens callers give up on.",
    )
    async def ussd_funnel(self, info: Info_, filter: UssdFilter | None = None) -> list[FunnelStep]:
        f = filter or UssdFilter()

        async def work(session: AsyncSession) -> list[FunnelStep]:
            # The same SQL as the messaging report's drop-off: one place counts it.
            rows = await ussd_funnel(
                session,
                info.context.programme_id,
                started_after=f.started_after,
                started_before=f.started_before,
            )
            return [
                FunnelStep(
                    screen=r.screen,
                    sessions=r.sessions,
                    completed=r.completed,
                    abandoned=r.abandoned,
                    failed=r.failed,
                    open=r.open,
                )
                for r in rows
            ]

        return await info.context.run(work)

    @strawberry.field(permission_classes=ADMIN, description="Who changed what, newest first.")
    async def audit_log(
        self, info: Info_, filter: AuditFilter | None = None, first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEntryNode]:  # fmt: skip
        f = filter or AuditFilter()
        stmt = select(AuditEntry).where(AuditEntry.programme_id == info.context.programme_id)
        if f.object_id:
            type_name, pk = ids.decode_any(f.object_id)
            table = {v: k for k, v in _audit_types().items()}.get(type_name, type_name.lower())
            stmt = stmt.where(AuditEntry.object_type == table, AuditEntry.object_id == pk)
        if f.action:
            stmt = stmt.where(AuditEntry.action == f.action)
        stmt = stmt.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
        return await _page(info, stmt, AuditEntryNode.from_row, first, after)

    @strawberry.field(
        permission_classes=ADMIN,
        description=(
            "Everything stored about one person, as one JSON document (their right of "
            "access): their row, consent history, memberships, attendance, survey "
            "responses and answers, messages to and from them, USSD dials, audit entries "
            "naming them, console sessions and sign-in codes. Null outside the programme."
        ),
    )
    async def export_person(self, info: Info_, person_id: strawberry.ID) -> JSON | None:
        pk = ids.decode(person_id, "Person")
        programme = info.context.programme
        assert programme is not None

        async def work(session: AsyncSession) -> Any:
            try:
                return await export_person(programme, pk, session=session)
            except NotFound:
                return None

        return await info.context.run(work)

    @strawberry.field(permission_classes=ADMIN)
    async def api_keys(self, info: Info_) -> list[ApiKeyNode]:
        stmt = select(ApiKey).where(ApiKey.programme_id == info.context.programme_id)

        async def work(session: AsyncSession) -> list[ApiKeyNode]:
            return [
                ApiKeyNode.from_row(k)
                for k in (await session.exec(stmt.order_by(col(ApiKey.id)))).all()
            ]

        return await info.context.run(work)

    @strawberry.field(
        permission_classes=ADMIN,
        description="Each worker job's last run, one row per job across all workers.",
    )
    async def job_runs(self, info: Info_) -> list[JobRunNode]:
        async def work(session: AsyncSession) -> list[JobRunNode]:
            return [JobRunNode.from_state(s) for s in await job_states(session)]

        return await info.context.run(work)


def _audit_types() -> dict[str, str]:
    from service.api.types.access import TYPE_NAMES

    return TYPE_NAMES


async def _membership(info: Info_, gid: strawberry.ID) -> MembershipNode | None:
    pk = ids.decode(gid, "Membership")

    async def work(session: AsyncSession) -> Membership | None:
        stmt = (
            select(Membership)
            .join(Community, col(Community.id) == Membership.community_id)
            .where(Membership.id == pk, Community.programme_id == info.context.programme_id)
        )
        return (await session.exec(stmt)).first()

    row = await info.context.run(work)
    return MembershipNode.from_row(row) if row else None
