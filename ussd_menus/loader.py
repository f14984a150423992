"""Loading what a hop needs: the programme (cached) and the caller's context (a few queries)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import outerjoin
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import Attendance, Community, Meeting, Membership, Person, Programme
from service.models.enums import (
    Language,
    MeetingStatus,
    MembershipRole,
    MembershipStatus,
    Presence,
    Rsvp,
)
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


async def load_caller(
    session: AsyncSession, programme: ProgrammeInfo, phone: str, now: datetime
) -> Caller:
    local_now = now.astimezone(programme.timezone)
    person = (
        await session.exec(
            select(Person.id, Person.name, Person.language).where(
                Person.programme_id == programme.id, Person.phone == phone
            )
        )
    ).first()
    if person is None:
        return Caller(
            phone=phone, programme=programme, now=local_now, language=programme.default_language
        )
    person_id, name, language = person
    memberships = (
        await session.exec(
            select(Membership.community_id, Membership.role, Membership.status, Community.name)
            .join(Community, col(Community.id) == Membership.community_id)
            .where(Membership.person_id == person_id)
            .order_by(col(Community.name))
        )
    ).all()
    active = {
        cid: (role, cname)
        for cid, role, status, cname in memberships
        if status == MembershipStatus.active
    }
    pending = tuple(
        cname for _, _, status, cname in memberships if status == MembershipStatus.pending
    )
    communities: tuple[CommunityView, ...] = ()
    meetings: tuple[MeetingView, ...] = ()
    if active:
        people = (
            await session.exec(
                select(Membership.community_id, Membership.role, Person.name)
                .join(Person, col(Person.id) == Membership.person_id)
                .where(
                    col(Membership.community_id).in_(active),
                    Membership.status == MembershipStatus.active,
                )
            )
        ).all()
        facilitators: dict[int, list[str]] = defaultdict(list)
        sizes: dict[int, int] = defaultdict(int)
        for cid, role, pname in people:
            sizes[cid] += 1
            if role == MembershipRole.facilitator:
                facilitators[cid].append(pname)
        communities = tuple(
            CommunityView(
                id=cid,
                name=cname,
                role=MembershipRole(role),
                facilitators=tuple(facilitators[cid]),
                members=sizes[cid],
            )
            for cid, (role, cname) in active.items()
        )
        mine = outerjoin(
            Meeting,
            Attendance,
            (col(Attendance.meeting_id) == Meeting.id) & (col(Attendance.person_id) == person_id),
        )
        rows = (
            await session.exec(
                select(Meeting, Attendance.rsvp, Attendance.presence)
                .select_from(mine)
                .where(
                    col(Meeting.community_id).in_(active),
                    Meeting.status == MeetingStatus.scheduled,
                    col(Meeting.ends_at) > now,
                    col(Meeting.starts_at) < now + HORIZON,
                )
                .order_by(col(Meeting.starts_at))
            )
        ).all()
        meetings = tuple(
            MeetingView(
                id=m.id or 0,
                code=m.code,
                community_id=m.community_id,
                community=active[m.community_id][1],
                starts_at=m.starts_at.astimezone(programme.timezone),
                ends_at=m.ends_at.astimezone(programme.timezone),
                modality=m.modality,
                venue=m.venue,
                rsvp=Rsvp(rsvp) if rsvp else Rsvp.none,
                presence=Presence(presence) if presence else Presence.unknown,
            )
            for m, rsvp, presence in rows
        )
    led = [cid for cid, (role, _) in active.items() if role == MembershipRole.facilitator]
    facilitation = await load_facilitation(session, programme, led, active, now) if led else None
    return Caller(
        phone=phone,
        programme=programme,
        now=local_now,
        facilitation=facilitation,
        person_id=person_id,
        name=name,
        language=Language(language),
        communities=communities,
        pending=pending,
        meetings=meetings,
    )


async def load_facilitation(
    session: AsyncSession,
    programme: ProgrammeInfo,
    led: list[int],
    names: dict[int, tuple[str, str]],
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
