"""Communities of Practice and their memberships (members and facilitators)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import bindparam, insert, update
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit, membership_sms, outbox
from service.domain.actor import Actor
from service.domain.errors import Conflict, NotAllowed, NotFound, ValidationError
from service.domain.lookup import check_owned, get_owned, plan_for_batches
from service.domain.outcome import Outcome
from service.domain.people import UNKNOWN_NAME
from service.models import Community, CommunitySchool, Membership, Person, Programme, School
from service.models.enums import Channel, CommunityKind, MembershipRole, MembershipStatus
from service.models.types import utcnow


class CommunityInput(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
    name: str = Field(min_length=2, max_length=200)
    kind: CommunityKind
    subjects: list[str] = Field(default_factory=list, max_length=10)
    school_ids: list[int] = Field(default_factory=list, max_length=50)
    meetings_per_term: int = Field(default=3, ge=0, le=60)
    reminder_offsets_h: list[int] | None = Field(default=None, max_length=5)

    @field_validator("subjects")
    @classmethod
    def _subjects(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(s.strip() for s in value if s.strip()))

    @field_validator("reminder_offsets_h")
    @classmethod
    def _offsets(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return None
        if any(h < 0 or h > 24 * 14 for h in value):
            raise ValueError("reminder offsets are hours before the meeting, 0 to 336")
        return sorted(set(value), reverse=True)


async def find_community(session: AsyncSession, programme_id: int, code: str) -> Community | None:
    stmt = select(Community).where(Community.programme_id == programme_id, Community.code == code)
    return (await session.exec(stmt)).first()


async def school_ids_of(session: AsyncSession, community_id: int) -> list[int]:
    stmt = select(CommunitySchool.school_id).where(CommunitySchool.community_id == community_id)
    return sorted((await session.exec(stmt)).all())


async def _new_join_code(session: AsyncSession, programme_id: int) -> str:
    taken = set(
        (
            await session.exec(
                select(Community.join_code).where(Community.programme_id == programme_id)
            )
        ).all()
    )
    while True:
        code = str(100000 + secrets.randbelow(900000))
        if code not in taken:
            return code


def check_community(data: CommunityInput) -> None:
    """The rules on a community that need no database (its schools' owner does)."""
    if data.kind is CommunityKind.school and len(set(data.school_ids)) > 1:
        raise ValidationError(
            "a school-based community belongs to exactly one school", field="school_ids"
        )


async def _validate(programme: Programme, data: CommunityInput, session: AsyncSession) -> None:
    assert programme.id is not None
    for school_id in data.school_ids:
        await get_owned(session, School, school_id, programme.id)
    check_community(data)


async def _set_schools(session: AsyncSession, community_id: int, school_ids: list[int]) -> None:
    await session.exec(
        delete(CommunitySchool).where(col(CommunitySchool.community_id) == community_id)
    )
    for school_id in sorted(set(school_ids)):
        session.add(CommunitySchool(community_id=community_id, school_id=school_id))


def _fields(data: CommunityInput) -> dict[str, Any]:
    """What an upsert stores besides code and schools. Reminder times only when given: a
    roster has no column for them, and leaves a community's own as they are."""
    left_out = {"school_ids", "code"}
    if "reminder_offsets_h" not in data.model_fields_set:
        left_out.add("reminder_offsets_h")
    return data.model_dump(exclude=left_out)


async def upsert_community(
    programme: Programme, data: CommunityInput, *, session: AsyncSession, actor: Actor
) -> tuple[Community, Outcome]:
    assert programme.id is not None
    await _validate(programme, data, session)
    values: dict[str, Any] = _fields(data)
    community = await find_community(session, programme.id, data.code)
    if community is None:
        community = Community(
            programme_id=programme.id,
            code=data.code,
            join_code=await _new_join_code(session, programme.id),
            **values,
        )
        session.add(community)
        await session.flush()
        assert community.id is not None
        await _set_schools(session, community.id, data.school_ids)
        audit.record(session, actor, "community.create", community, changes=data.model_dump())
        await session.flush()
        return community, Outcome.created
    assert community.id is not None
    changes = audit.apply_changes(community, values)
    old_schools = await school_ids_of(session, community.id)
    if old_schools != sorted(set(data.school_ids)):
        await _set_schools(session, community.id, data.school_ids)
        changes["school_ids"] = [old_schools, sorted(set(data.school_ids))]
    if not changes:
        return community, Outcome.unchanged
    community.updated_at = utcnow()
    audit.record(session, actor, "community.update", community, changes=changes)
    await session.flush()
    return community, Outcome.updated


async def plan_community(
    programme_id: int, data: CommunityInput, *, session: AsyncSession
) -> Outcome:
    """What `upsert_community` would do with `data`, writing nothing (a roster's preview).
    A school id not stored yet (a negative one, for a school the same upload creates)
    counts as a change of the community's schools, as it will be."""
    check_community(data)
    community = await find_community(session, programme_id, data.code)
    if community is None:
        return Outcome.created
    assert community.id is not None
    values: dict[str, Any] = _fields(data)
    current = {field: getattr(community, field) for field in values}
    if audit.diff(current, values):
        return Outcome.updated
    same_schools = await school_ids_of(session, community.id) == sorted(set(data.school_ids))
    return Outcome.unchanged if same_schools else Outcome.updated


async def create_community(
    programme: Programme, data: CommunityInput, *, session: AsyncSession, actor: Actor
) -> Community:
    assert programme.id is not None
    if await find_community(session, programme.id, data.code) is not None:
        raise Conflict(f"a community with code {data.code!r} already exists", field="code")
    community, _ = await upsert_community(programme, data, session=session, actor=actor)
    return community


async def get_membership(
    session: AsyncSession, community_id: int, person_id: int
) -> Membership | None:
    stmt = select(Membership).where(
        Membership.community_id == community_id, Membership.person_id == person_id
    )
    return (await session.exec(stmt)).first()


def _joining(
    current: dict[str, Any] | None, role: MembershipRole, now: datetime
) -> tuple[dict[str, Any], Outcome]:
    """What adding someone with `role` changes: a new membership, a rejoin, a new role, or
    nothing. Returns the values to write (all of them when new, else {field: [old, new]})."""
    if current is None:
        values = {
            "role": role,
            "status": MembershipStatus.active,
            "requested_at": now,
            "joined_at": now,
        }
        return values, Outcome.created
    values = {"role": role, "status": MembershipStatus.active}
    if current["status"] is not MembershipStatus.active:
        values |= {"joined_at": now, "left_at": None}
    changes = audit.diff(current, values)
    return changes, Outcome.updated if changes else Outcome.unchanged


_MEMBERSHIP_STATE = ("role", "status", "joined_at", "left_at")


async def add_member(
    programme_id: int,
    community_id: int,
    person_id: int,
    *,
    role: MembershipRole = MembershipRole.member,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> tuple[Membership, Outcome]:
    """Make a person an active member (or facilitator). Re-adding someone who left rejoins them."""
    now = now or utcnow()
    await get_owned(session, Community, community_id, programme_id)
    await get_owned(session, Person, person_id, programme_id)
    membership = await get_membership(session, community_id, person_id)
    current = None if membership is None else {f: getattr(membership, f) for f in _MEMBERSHIP_STATE}
    values, outcome = _joining(current, role, now)
    changes: dict[str, Any]
    if membership is None:
        membership = Membership(community_id=community_id, person_id=person_id, **values)
        session.add(membership)
        changes = {"person_id": person_id, "role": role}
    else:
        changes = audit.apply_changes(membership, {f: new for f, (_, new) in values.items()})
    await session.flush()
    if outcome is not Outcome.unchanged:
        audit.record(
            session,
            actor,
            "membership.add",
            membership,
            changes=changes,
            at=now,
            programme_id=programme_id,
        )
    return membership, outcome


async def add_members(
    programme_id: int,
    wanted: Sequence[tuple[int, int, MembershipRole]],
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> list[Outcome]:
    """`add_member` for many (community, person, role) at once (roster imports): the same
    rules and audit entries, in a few statements whatever the number."""
    now = now or utcnow()
    pairs = [(community_id, person_id) for community_id, person_id, _ in wanted]
    if len(set(pairs)) != len(pairs):
        raise ValueError("the same membership twice in one batch; give each person one role")
    if not wanted:
        return []
    await session.flush()  # the statements below bypass the unit of work: write it first
    await plan_for_batches(session)
    await check_owned(session, Community, {c for c, _ in pairs}, programme_id)
    await check_owned(session, Person, {p for _, p in pairs}, programme_id)
    connection = await session.connection()
    columns = [col(Membership.id), col(Membership.community_id), col(Membership.person_id)]
    columns += [col(getattr(Membership, f)) for f in _MEMBERSHIP_STATE]
    stmt = sa.select(*columns).where(col(Membership.person_id).in_({p for _, p in pairs}))
    existing = {
        (row.community_id, row.person_id): dict(row._mapping)
        for row in await connection.execute(stmt)
    }

    def entry(membership_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        return audit.entry_values(
            actor, "membership.add", "membership", membership_id,
            changes=changes, at=now, programme_id=programme_id,
        )  # fmt: skip

    outcomes: list[Outcome] = []
    created: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for community_id, person_id, role in wanted:
        current = existing.get((community_id, person_id))
        values, outcome = _joining(current, role, now)
        outcomes.append(outcome)
        if current is None:
            created.append(values | {"community_id": community_id, "person_id": person_id})
        elif values:
            # The SET clause comes from the parameters' keys: give every row all of them.
            state = {f: current[f] for f in _MEMBERSHIP_STATE}
            new = {f: after for f, (_, after) in values.items()}
            changed.append(state | new | {"membership_id": current["id"]})
            entries.append(entry(current["id"], values))
    if created:
        # RETURNING gives no order for a multi-row INSERT on every engine: match by pair.
        returned = (Membership.id, Membership.community_id, Membership.person_id)
        add = insert(Membership).returning(*(col(c) for c in returned))
        ids = {(r.community_id, r.person_id): r.id for r in await connection.execute(add, created)}
        for values in created:
            membership_id: int = ids[values["community_id"], values["person_id"]]
            entries.append(
                entry(membership_id, {"person_id": values["person_id"], "role": values["role"]})
            )
    if changed:
        by_id = col(Membership.id) == bindparam("membership_id")
        await connection.execute(update(Membership).where(by_id), changed)
    await audit.record_many(session, entries)
    return outcomes


async def plan_members(
    wanted: Sequence[tuple[int, int | None, MembershipRole]], *, session: AsyncSession
) -> list[Outcome]:
    """What `add_members` would do with each (community, person, role), writing nothing.
    A person not stored yet (None), or a community not stored yet (a negative id), joins
    as a new membership."""
    people = {p for _, p, _ in wanted if p is not None}
    existing: dict[tuple[int, int], dict[str, Any]] = {}
    if people:
        connection = await session.connection()
        columns = [col(Membership.community_id), col(Membership.person_id)]
        columns += [col(getattr(Membership, f)) for f in _MEMBERSHIP_STATE]
        stmt = sa.select(*columns).where(col(Membership.person_id).in_(people))
        existing = {
            (row.community_id, row.person_id): dict(row._mapping)
            for row in await connection.execute(stmt)
        }
    now = utcnow()
    outcomes = []
    for community_id, person_id, role in wanted:
        current = None if person_id is None else existing.get((community_id, person_id))
        outcomes.append(_joining(current, role, now)[1])
    return outcomes


async def remove_member(
    programme_id: int,
    community_id: int,
    person_id: int,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> Membership:
    """Mark the membership left: history (attendance, answers) stays, messages stop."""
    now = now or utcnow()
    await get_owned(session, Community, community_id, programme_id)
    membership = await get_membership(session, community_id, person_id)
    if membership is None or membership.status is MembershipStatus.left:
        raise NotFound(f"person {person_id} is not a member of community {community_id}")
    membership.status = MembershipStatus.left
    membership.left_at = now
    audit.record(
        session,
        actor,
        "membership.remove",
        membership,
        changes={"status": "left"},
        at=now,
        programme_id=programme_id,
    )
    await outbox.drop_pending(
        session,
        person_id=person_id,
        community_id=community_id,
        reason="left the community",
        now=now,
    )
    await session.flush()
    return membership


async def request_to_join(
    programme_id: int,
    join_code: str,
    person_id: int,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime | None = None,
) -> Membership:
    """A caller asks to join with a join code; the community's facilitators are told by
    SMS, and one of them approves or declines it."""
    now = now or utcnow()
    stmt = select(Community).where(
        Community.programme_id == programme_id, Community.join_code == join_code.strip()
    )
    community = (await session.exec(stmt)).first()
    if community is None or community.id is None:
        raise NotFound("no community has that join code", join_code=join_code)
    person = await get_owned(session, Person, person_id, programme_id)
    membership = await get_membership(session, community.id, person_id)
    if membership is not None and membership.status is not MembershipStatus.left:
        return membership
    if membership is None:
        membership = Membership(
            community_id=community.id,
            person_id=person_id,
            status=MembershipStatus.pending,
            requested_at=now,
        )
        session.add(membership)
    else:
        membership.status = MembershipStatus.pending
        membership.requested_at = now
        membership.left_at = None
    await session.flush()
    audit.record(
        session,
        actor,
        "membership.request",
        membership,
        changes={"community_id": community.id},
        at=now,
        programme_id=programme_id,
    )
    programme = await session.get(Programme, programme_id)
    assert programme is not None
    await membership_sms.tell_facilitators(session, programme, community, membership, person, now)
    return membership


async def is_facilitator(session: AsyncSession, community_id: int, person_id: int) -> bool:
    membership = await get_membership(session, community_id, person_id)
    return (
        membership is not None
        and membership.role is MembershipRole.facilitator
        and membership.status is MembershipStatus.active
    )


async def ensure_facilitates(session: AsyncSession, community_id: int, actor: Actor) -> None:
    """People act on a community from a phone only if they facilitate it; keys, operators
    and the console (which checked the person's scope before) may."""
    if actor.kind != "person" or actor.channel is Channel.console:
        return
    assert actor.id is not None
    if not await is_facilitator(session, community_id, actor.id):
        raise NotAllowed("only a facilitator of this community can do this")


async def _pending_request(
    programme_id: int,
    membership_id: int,
    *,
    session: AsyncSession,
    approver_id: int | None,
) -> tuple[Membership, Community]:
    """A pending join request of this programme, and its community, if `approver_id`
    (None: staff or a key) facilitates that community."""
    membership = await session.get(Membership, membership_id)
    if membership is None:
        raise NotFound(f"membership {membership_id} not found")
    community = await get_owned(session, Community, membership.community_id, programme_id)
    if approver_id is not None and not await is_facilitator(
        session, membership.community_id, approver_id
    ):
        raise NotAllowed("only a facilitator of this community can answer join requests")
    if membership.status is not MembershipStatus.pending:
        raise Conflict(f"membership is {membership.status}, not pending")
    person = await session.get(Person, membership.person_id)
    if person is not None and person.name == UNKNOWN_NAME:
        # A number a facilitator added: the person answers the invitation themselves.
        raise Conflict("this is an invitation: the person joins when they accept it")
    return membership, community


async def _answer(
    programme_id: int,
    membership: Membership,
    community: Community,
    action: str,
    template: str,
    *,
    session: AsyncSession,
    actor: Actor,
    now: datetime,
) -> None:
    """Audit the answer to a join request and tell the person who asked, by SMS."""
    audit.record(
        session,
        actor,
        action,
        membership,
        changes={"status": membership.status.value},
        at=now,
        programme_id=programme_id,
    )
    await session.flush()
    programme = await session.get(Programme, programme_id)
    assert programme is not None
    await membership_sms.tell_requester(session, programme, community, membership, template, now)


async def approve_membership(
    programme_id: int,
    membership_id: int,
    *,
    session: AsyncSession,
    actor: Actor,
    approver_id: int | None = None,
    now: datetime | None = None,
) -> Membership:
    """Approve a pending request. A person approving must facilitate that community."""
    now = now or utcnow()
    membership, community = await _pending_request(
        programme_id, membership_id, session=session, approver_id=approver_id
    )
    membership.status = MembershipStatus.active
    membership.joined_at = now
    await _answer(
        programme_id, membership, community, "membership.approve", membership_sms.JOIN_APPROVED,
        session=session, actor=actor, now=now,
    )  # fmt: skip
    return membership


async def decline_membership(
    programme_id: int,
    membership_id: int,
    *,
    session: AsyncSession,
    actor: Actor,
    approver_id: int | None = None,
    now: datetime | None = None,
) -> Membership:
    """Turn down a pending request: the membership is marked left, so the person may ask
    again later with the join code. A person declining must facilitate that community."""
    now = now or utcnow()
    membership, community = await _pending_request(
        programme_id, membership_id, session=session, approver_id=approver_id
    )
    membership.status = MembershipStatus.left
    membership.left_at = now
    await _answer(
        programme_id, membership, community, "membership.decline", membership_sms.JOIN_DECLINED,
        session=session, actor=actor, now=now,
    )  # fmt: skip
    return membership


async def active_member_ids(session: AsyncSession, community_id: int) -> list[int]:
    stmt = select(Membership.person_id).where(
        Membership.community_id == community_id, Membership.status == MembershipStatus.active
    )
    return list((await session.exec(stmt)).all())
