"""Loading what a hop needs: the programme (cached) and the caller's context (a few queries)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.surveys import pending_for
from service.models import Attendance, Community, Meeting, Membership, Person, Programme
from service.models.enums import (
    Language,
    MeetingStatus,
    MembershipRole,
    MembershipStatus,
    Modality,
    Presence,
    Rsvp,
)
from service.models.types import UTCDateTime
from ussd_menus.context import (
    Caller,
    CommunityView,
    Facilitation,
    JoinTarget,
    MeetingView,
    MemberView,
    ProgrammeInfo,
    RequestView,
)

HORIZON = timedelta(days=60)  # meetings further ahead are not worth a USSD screen
MARKING_WINDOW = timedelta(days=7)  # facilitators mark attendance up to a week after


async def load_programme(
    session: AsyncSession, service_code: str
) -> tuple[ProgrammeInfo, Programme] | None:
    programme = (
        await session.exec(select(Programme).where(Programme.service_code == service_code))
    ).first()
    if programme is None or programme.id is None:
        return None
    rows = await session.exec(
        select(Community.join_code, Community.id, Community.name).where(
            Community.programme_id == programme.id
        )
    )
    info = ProgrammeInfo(
        id=programme.id,
        name=programme.name,
        timezone=ZoneInfo(programme.timezone),
        languages=tuple(Language(lang) for lang in programme.languages),
        default_language=programme.default_language,
        join_codes={
            code: JoinTarget(community_id=cid or 0, name=name) for code, cid, name in rows.all()
        },
    )
    return info, programme


# Built once: the hot path neither rebuilds statements nor creates ORM objects.
_BASE = (
    sa.select(
        col(Person.id),
        col(Person.name),
        col(Person.language),
        col(Membership.community_id),
        col(Membership.role),
        col(Membership.status),
        col(Community.name),
    )
    .select_from(Person)
    .outerjoin(Membership, col(Membership.person_id) == Person.id)
    .outerjoin(Community, col(Community.id) == Membership.community_id)
    .where(
        col(Person.programme_id) == sa.bindparam("programme"),
        col(Person.phone) == sa.bindparam("phone"),
    )
    .order_by(col(Community.name))
)
_PEOPLE = (
    sa.select(col(Membership.community_id), col(Membership.role), col(Person.name))
    .join(Person, col(Person.id) == Membership.person_id)
    .where(
        col(Membership.community_id).in_(sa.bindparam("communities", expanding=True)),
        col(Membership.status) == MembershipStatus.active,
    )
)
_MEETINGS = (
    sa.select(
        col(Meeting.id),
        col(Meeting.code),
        col(Meeting.community_id),
        col(Meeting.starts_at),
        col(Meeting.ends_at),
        col(Meeting.modality),
        col(Meeting.venue),
        col(Attendance.rsvp),
        col(Attendance.presence),
    )
    .select_from(Meeting)
    .outerjoin(
        Attendance,
        (col(Attendance.meeting_id) == Meeting.id)
        & (col(Attendance.person_id) == sa.bindparam("person")),
    )
    .where(
        col(Meeting.community_id).in_(sa.bindparam("communities", expanding=True)),
        col(Meeting.status) == MeetingStatus.scheduled,
        col(Meeting.ends_at) > sa.bindparam("now", type_=UTCDateTime()),
        col(Meeting.starts_at) < sa.bindparam("horizon", type_=UTCDateTime()),
    )
    .order_by(col(Meeting.starts_at))
)


async def _rows(session: AsyncSession, stmt: Any, **params: Any) -> Sequence[Any]:
    connection = await session.connection()
    rows: Sequence[Any] = (await connection.execute(stmt, params)).all()
    return rows


async def load_caller(
    session: AsyncSession, programme: ProgrammeInfo, phone: str, now: datetime
) -> Caller:
    """Who is calling and which communities they belong to: one query. The rest on demand."""
    local_now = now.astimezone(programme.timezone)
    rows = await _rows(session, _BASE, programme=programme.id, phone=phone)
    if not rows:
        return Caller(
            phone=phone,
            programme=programme,
            now=local_now,
            language=programme.default_language,
            communities_=(),
            meetings_=(),
        )
    person_id, name, language = rows[0][0], rows[0][1], rows[0][2]
    active = tuple(
        (cid, MembershipRole(role), cname)
        for _, _, _, cid, role, status, cname in rows
        if cid is not None and status == MembershipStatus.active
    )
    pending = tuple(cname for *_, status, cname in rows if status == MembershipStatus.pending)
    return Caller(
        phone=phone,
        programme=programme,
        now=local_now,
        person_id=person_id,
        name=name,
        language=Language(language),
        facilitates=any(role is MembershipRole.facilitator for _, role, _ in active),
        active=active,
        pending=pending,
        communities_=None if active else (),
        meetings_=None if active else (),
    )


async def load_part(session: AsyncSession, caller: Caller, part: str, now: datetime) -> Caller:
    """Add one part of the context a screen asked for."""
    names = {cid: (role, cname) for cid, role, cname in caller.active}
    if part == "communities":
        facilitators: dict[int, list[str]] = defaultdict(list)
        sizes: dict[int, int] = defaultdict(int)
        for cid, role, pname in await _rows(session, _PEOPLE, communities=list(names)):
            sizes[cid] += 1
            if role == MembershipRole.facilitator:
                facilitators[cid].append(pname)
        views = tuple(
            CommunityView(
                id=cid,
                name=cname,
                role=role,
                facilitators=tuple(facilitators[cid]),
                members=sizes[cid],
            )
            for cid, role, cname in caller.active
        )
        return replace(caller, communities_=views)
    if part == "meetings":
        zone = caller.programme.timezone
        rows = await _rows(
            session,
            _MEETINGS,
            communities=list(names),
            person=caller.person_id,
            now=now,
            horizon=now + HORIZON,
        )
        meetings = tuple(
            MeetingView(
                id=mid,
                code=code,
                community_id=cid,
                community=names[cid][1],
                starts_at=_aware(starts).astimezone(zone),
                ends_at=_aware(ends).astimezone(zone),
                modality=Modality(modality),
                venue=venue,
                rsvp=Rsvp(rsvp) if rsvp else Rsvp.none,
                presence=Presence(presence) if presence else Presence.unknown,
            )
            for mid, code, cid, starts, ends, modality, venue, rsvp, presence in rows
        )
        return replace(caller, meetings_=meetings)
    if part == "facilitation":
        led = [cid for cid, role, _ in caller.active if role is MembershipRole.facilitator]
        facilitation = await load_facilitation(session, caller.programme, led, names, now)
        return replace(caller, facilitation_=facilitation)
    if part == "surveys":
        pending = (
            await pending_for(session, caller.person_id, now, session_ref=caller.session_ref)
            if caller.person_id is not None
            else []
        )
        return replace(caller, surveys_=tuple(pending))
    raise ValueError(f"unknown part of the caller's context: {part!r}")


def _aware(moment: datetime) -> datetime:
    # Core rows from SQLite come back naive; they are UTC by construction.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def load_facilitation(
    session: AsyncSession,
    programme: ProgrammeInfo,
    led: list[int],
    names: dict[int, tuple[MembershipRole, str]],
    now: datetime,
) -> Facilitation:
    members = (
        await session.exec(
            select(Membership, Person.name, Person.phone)
            .join(Person, col(Person.id) == Membership.person_id)
            .where(
                col(Membership.community_id).in_(led),
                col(Membership.status).in_([MembershipStatus.active, MembershipStatus.pending]),
            )
            .order_by(col(Person.name))
        )
    ).all()
    rosters: dict[int, list[MemberView]] = defaultdict(list)
    requests = []
    for membership, pname, pphone in members:
        cid = membership.community_id
        if membership.status is MembershipStatus.active:
            rosters[cid].append(
                MemberView(id=membership.person_id, name=pname, has_phone=pphone is not None)
            )
        else:
            requests.append(
                RequestView(membership_id=membership.id or 0, name=pname, community=names[cid][1])
            )
    meetings = (
        await session.exec(
            select(Meeting)
            .where(
                col(Meeting.community_id).in_(led),
                col(Meeting.status).in_([MeetingStatus.scheduled, MeetingStatus.held]),
                col(Meeting.ends_at) > now - MARKING_WINDOW,
                col(Meeting.starts_at) < now + HORIZON,
            )
            .order_by(col(Meeting.starts_at))
        )
    ).all()
    ids = [m.id for m in meetings]
    marks: dict[int, dict[int, tuple[Rsvp, Presence]]] = defaultdict(dict)
    if ids:
        rows = await session.exec(
            select(
                Attendance.meeting_id, Attendance.person_id, Attendance.rsvp, Attendance.presence
            ).where(col(Attendance.meeting_id).in_(ids))
        )
        for mid, pid, rsvp, presence in rows.all():
            marks[mid][pid] = (Rsvp(rsvp), Presence(presence))
    views = tuple(
        MeetingView(
            id=m.id or 0,
            code=m.code,
            community_id=m.community_id,
            community=names[m.community_id][1],
            starts_at=m.starts_at.astimezone(programme.timezone),
            ends_at=m.ends_at.astimezone(programme.timezone),
            modality=m.modality,
            venue=m.venue,
            rsvp=Rsvp.none,
            presence=Presence.unknown,
            status=m.status,
        )
        for m in meetings
    )
    return Facilitation(
        meetings=views,
        rosters={cid: tuple(v) for cid, v in rosters.items()},
        marks=dict(marks),
        requests=tuple(requests),
    )
