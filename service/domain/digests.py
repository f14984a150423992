"""School leaders' week: their school's CoPs at a glance, by SMS once a week and by USSD.

A head teacher or deputy follows up the teachers of their school. Their school's
communities are those linked to the school and those with an active member who
teaches there (a cluster CoP reaches many schools). For them:

- the meetings planned from now to the end of the seventh day (programme time), with
  the RSVPs given so far (yes, no);
- last week's attendance: members present or remote at the meetings held in the seven
  days before today, of the members who had a seat (`reports.attendance`);
- the members at risk (`reports.members_at_risk`, the console's and the API's
  definition: missed each of their community's last `MISSED` held meetings), over the
  term under way or, with none, the last `RECENT_DAYS` days; each person once, the
  school's own teachers first. Their phone number is given only for the school's own
  teachers: only their leaders may call them.

The weekly digest goes to every leader with a phone who has not opted out, at the
programme's digest day and time; the outbox's dedupe key (leader, ISO week) keeps it
to one a week however often the job runs, and quiet hours hold it as any SMS.
A school with no CoP gets no digest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import outbox, reports
from service.domain.terms import term_on
from service.models import (
    Attendance,
    Community,
    CommunitySchool,
    Meeting,
    Membership,
    Message,
    Person,
    Programme,
    School,
)
from service.models.enums import SCHOOL_LEADERS, MeetingStatus, MembershipStatus, Rsvp

DIGEST = "digest"  # the outbox kind and the SMS template
MISSED = 2  # held meetings in a row that put a member at risk (the console's and API's)
RECENT_DAYS = 90  # the at-risk window when no term is under way
CATCH_UP = timedelta(hours=24)  # a worker down at digest time still sends it within this
MAX_MEETINGS = 10  # listed in the digest's values; the SMS shows what fits
MAX_NAMES = 30
_AT_RISK_ROWS = 500  # memberships at risk read per school: a school has far fewer


@dataclass(frozen=True)
class WeekMeeting:
    meeting_id: int
    community: str
    starts_at: datetime  # UTC
    yes: int
    no: int


@dataclass(frozen=True)
class AtRisk:
    person_id: int
    name: str
    community: str
    phone: str | None  # only for the school's own teachers
    own_school: bool


@dataclass(frozen=True)
class SchoolWeek:
    school_id: int
    school: str
    communities: int
    meetings: list[WeekMeeting] = field(default_factory=list)
    held: int = 0  # meetings held last week
    attended: int = 0  # members present or remote at them
    expected: int = 0  # members with a seat at them
    at_risk: list[AtRisk] = field(default_factory=list)

    @property
    def rate(self) -> int | None:
        """Last week's attendance in whole percent."""
        return round(100 * self.attended / self.expected) if self.expected else None


def has_leader_role() -> Any:
    """A condition on Person: head teacher or deputy (roles are a short JSON list)."""
    text = sa.cast(col(Person.roles), sa.Text)
    return sa.or_(*(text.like(f'%"{role.value}"%') for role in SCHOOL_LEADERS))


def school_communities(school_id: int) -> Any:
    """The ids of a school's communities: linked to it, or with a member teaching there."""
    linked = sa.select(col(CommunitySchool.community_id)).where(
        col(CommunitySchool.school_id) == school_id
    )
    taught = (
        sa.select(col(Membership.community_id))
        .join(Person, col(Person.id) == col(Membership.person_id))
        .where(
            col(Person.school_id) == school_id,
            col(Membership.status) == MembershipStatus.active,
        )
    )
    return sa.union(linked, taught)


def _counted(condition: Any) -> Any:
    one: Any = sa.literal_column("1")  # inline: PostgreSQL cannot type a bare parameter here
    zero: Any = sa.literal_column("0")
    return sa.func.coalesce(sa.func.sum(sa.case((condition, one), else_=zero)), zero)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def _meetings(
    session: AsyncSession, ids: list[int], now: datetime, ends: datetime
) -> list[WeekMeeting]:
    stmt = (
        sa.select(
            col(Meeting.id),
            col(Community.name),
            col(Meeting.starts_at),
            _counted(col(Attendance.rsvp) == Rsvp.yes),
            _counted(col(Attendance.rsvp) == Rsvp.no),
        )
        .join(Community, col(Community.id) == col(Meeting.community_id))
        .outerjoin(Attendance, col(Attendance.meeting_id) == col(Meeting.id))
        .where(
            col(Meeting.community_id).in_(ids),
            col(Meeting.status) == MeetingStatus.scheduled,
            col(Meeting.starts_at) >= now,
            col(Meeting.starts_at) < ends,
        )
        .group_by(col(Meeting.id), col(Community.name), col(Meeting.starts_at))
        .order_by(col(Meeting.starts_at), col(Meeting.id))
    )
    return [
        WeekMeeting(mid, name, _aware(starts), int(yes), int(no))
        for mid, name, starts, yes, no in (await session.execute(stmt)).all()
    ]


async def _at_risk(
    session: AsyncSession, scope: reports.ReportScope, school_id: int
) -> list[AtRisk]:
    found = await reports.members_at_risk(
        session, scope, missed=MISSED, offset=0, limit=_AT_RISK_ROWS
    )
    if not found.members:
        return []
    ids = sorted({m.person_id for m in found.members})
    people = {
        p.id: p for p in (await session.exec(select(Person).where(col(Person.id).in_(ids)))).all()
    }
    names = dict(
        (
            await session.execute(
                sa.select(col(Community.id), col(Community.name)).where(
                    col(Community.id).in_(sorted({m.community_id for m in found.members}))
                )
            )
        ).all()
    )
    seen: dict[int, AtRisk] = {}
    for m in found.members:
        person = people[m.person_id]
        if m.person_id in seen:
            continue
        own = person.school_id == school_id
        seen[m.person_id] = AtRisk(
            m.person_id, person.name, names[m.community_id], person.phone if own else None, own
        )
    return sorted(seen.values(), key=lambda r: (not r.own_school, r.name.casefold(), r.person_id))


async def school_week(
    session: AsyncSession, programme_id: int, timezone: str, school_id: int, now: datetime
) -> SchoolWeek | None:
    """The school's week as its leaders see it; None when the school has no CoP."""
    school = await session.get(School, school_id)
    if school is None or school.programme_id != programme_id:
        return None
    ids = sorted(
        (
            await session.execute(
                sa.select(col(Community.id)).where(
                    col(Community.programme_id) == programme_id,
                    col(Community.id).in_(school_communities(school_id)),
                )
            )
        ).scalars()
    )
    if not ids:
        return None
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    week_end = datetime.combine(today + timedelta(days=7), time(0), tzinfo=zone)
    meetings = await _meetings(session, ids, now, week_end.astimezone(UTC))

    def scope(since: date, until: date) -> reports.ReportScope:
        return reports.ReportScope(
            programme_id=programme_id,
            filter=reports.ReportFilter(community_ids=frozenset(ids), since=since, until=until),
            starts=datetime.combine(since, time(0), tzinfo=zone),
            ends=datetime.combine(until + timedelta(days=1), time(0), tzinfo=zone),
            now=now,
            timezone=timezone,
        )

    last = await reports.attendance(session, scope(today - timedelta(days=7), today))
    term = await term_on(session, programme_id, today)
    since = term.starts_on if term is not None else today - timedelta(days=RECENT_DAYS - 1)
    at_risk = await _at_risk(session, scope(since, today), school_id)
    return SchoolWeek(
        school_id=school_id,
        school=school.name,
        communities=len(ids),
        meetings=meetings,
        held=last.meetings.held,
        attended=last.totals.attended,
        expected=last.totals.expected,
        at_risk=at_risk,
    )


def digest_params(week: SchoolWeek) -> dict[str, Any]:
    """The digest's values as JSON; the SMS channel words it and fits what it can."""
    return {
        "school": week.school,
        "meetings": [
            {
                "community": m.community,
                "starts_at": m.starts_at.astimezone(UTC).isoformat(),
                "yes": m.yes,
                "no": m.no,
            }
            for m in week.meetings[:MAX_MEETINGS]
        ],
        "more_meetings": max(0, len(week.meetings) - MAX_MEETINGS),
        "held": week.held,
        "attended": week.attended,
        "expected": week.expected,
        "at_risk": [r.name for r in week.at_risk[:MAX_NAMES]],
        "at_risk_total": len(week.at_risk),
    }


def due_digest(programme: Programme, now: datetime) -> datetime | None:
    """The digest moment (UTC) whose time has come and not long passed, if any: this
    week's, or last week's when the programme's day is late in the week and `now` early."""
    zone = ZoneInfo(programme.timezone)
    local = now.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    day = monday + timedelta(days=programme.digest_day.number)
    this_week = datetime.combine(day, programme.digest_time, tzinfo=zone)
    for moment in (this_week, this_week - timedelta(days=7)):
        if moment <= local < moment + CATCH_UP:
            return moment.astimezone(UTC)
    return None


def week_of(moment: datetime, timezone: str) -> str:
    """The ISO week of a digest moment, programme time: `2026-W48`."""
    return f"{moment.astimezone(ZoneInfo(timezone)):%G-W%V}"


def digest_key(person_id: int, week: str) -> str:
    return f"{DIGEST}:{person_id}:{week}"


async def leaders_due(
    session: AsyncSession, programme: Programme, week: str
) -> dict[int, list[outbox.Recipient]]:
    """Per school, its leaders with a phone, not opted out, not yet sent this week's."""
    rows = (
        await session.execute(
            sa.select(
                col(Person.school_id), col(Person.id), col(Person.phone), col(Person.language)
            )
            .where(
                col(Person.programme_id) == programme.id,
                col(Person.school_id).is_not(None),
                col(Person.phone).is_not(None),
                col(Person.opted_out_at).is_(None),
                has_leader_role(),
            )
            .order_by(col(Person.school_id), col(Person.id))
        )
    ).all()
    if not rows:
        return {}
    keys = [digest_key(pid, week) for _, pid, _, _ in rows]
    sent = set(
        (
            await session.execute(
                sa.select(col(Message.dedupe_key)).where(col(Message.dedupe_key).in_(keys))
            )
        ).scalars()
    )
    due: dict[int, list[outbox.Recipient]] = defaultdict(list)
    for school_id, pid, phone, language in rows:
        if digest_key(pid, week) not in sent:
            due[school_id].append(outbox.Recipient(pid, phone, language))
    return dict(due)


def _keyed(week: str) -> Callable[[outbox.Recipient], str]:
    return lambda r: digest_key(r.person_id, week)


async def queue_digests(session: AsyncSession, now: datetime) -> int:
    """Queue the weekly digest of every programme whose digest time has come."""
    total = 0
    for programme in (await session.exec(select(Programme))).all():
        moment = due_digest(programme, now)
        if moment is None or programme.id is None:
            continue
        week = week_of(moment, programme.timezone)
        batches = []
        for school_id, leaders in (await leaders_due(session, programme, week)).items():
            found = await school_week(session, programme.id, programme.timezone, school_id, now)
            if found is None:
                continue
            batches.append(
                outbox.Batch(
                    programme=programme,
                    recipients=leaders,
                    kind=DIGEST,
                    template=DIGEST,
                    params=digest_params(found),
                    due=now,
                    dedupe=_keyed(week),
                )
            )
        if batches:
            total += (await outbox.queue_many(session, batches, now)).queued
    await session.flush()
    return total
