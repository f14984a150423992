"""The reports programmes run on: attendance, survey results, CoP health, messaging.

Read-only. Every report is a handful of GROUP BY statements whatever the size of
the programme: the database aggregates, Python only joins a few hundred totals.

A report covers the communities a filter selects (district and school through the
schools a community spans, subject, one community, and always within a set of
communities when one is given: a console role's coverage) and a window of programme-local
dates (from/to, narrowed further to a term's dates when a term is given). Meetings
fall in the window by their start, messages by their creation, USSD sessions by
their start, survey responses by their meeting's start (or, with no meeting, by
when they were started). A gender narrows whatever counts people (memberships,
seats and marks, members at risk, respondents, the people SMS went to or came from,
USSD callers) to people of that gender; meetings are not people and still all count.

Attendance describes each held meeting as it happened. A membership counts for a held
meeting when it had begun (and not ended) by the meeting's start, or when the person
was marked present or remote there (a newcomer added after the meeting they first came
to); its marks count only there, so no rate exceeds 1. Facilitators are counted apart
from members and are never members at risk.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.dialects import postgresql
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.lookup import get_owned
from service.domain.surveys import in_language
from service.domain.ussd_billing import UssdCost, ussd_cost
from service.models import (
    Answer,
    Attendance,
    Community,
    CommunitySchool,
    Meeting,
    Membership,
    Message,
    Person,
    Programme,
    Question,
    School,
    Survey,
    SurveyResponse,
    Term,
    UssdSession,
)
from service.models.enums import (
    Direction,
    Gender,
    MeetingStatus,
    MembershipRole,
    MembershipStatus,
    MessageStatus,
    Presence,
    QuestionKind,
    Reach,
    ResponseStatus,
    Role,
    Rsvp,
    UssdOutcome,
)

Rows = sa.Select[*tuple[Any, ...]]  # a statement of any columns
ATTENDED = (Presence.present, Presence.remote)
SENT = (MessageStatus.sent, MessageStatus.delivered, MessageStatus.unknown)
TEXTS_PER_QUESTION = 100
CENT = Decimal("0.0001")  # the precision Message.cost is stored with


class Breakdown(StrEnum):
    none = "none"
    gender = "gender"
    role = "role"


class Band(StrEnum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    UNRATED = "UNRATED"


@dataclass(frozen=True)
class ReportFilter:
    district: str | None = None
    school_id: int | None = None
    community_id: int | None = None
    subject: str | None = None
    term_id: int | None = None
    since: date | None = None  # programme-local, inclusive
    until: date | None = None  # programme-local, inclusive
    by: Breakdown = Breakdown.none
    # Never more than these communities, whatever else the filter says (None: no bound).
    # The console sets a role's coverage here, so an id outside it only ever narrows.
    community_ids: frozenset[int] | None = None
    gender: Gender | None = None  # count people of this gender only

    @property
    def narrows_communities(self) -> bool:
        return self.community_ids is not None or any(
            v is not None for v in (self.district, self.school_id, self.community_id, self.subject)
        )


@dataclass(frozen=True)
class ReportScope:
    """A filter resolved against one programme: community ids and a UTC window."""

    programme_id: int
    filter: ReportFilter
    starts: datetime | None
    ends: datetime | None  # exclusive
    now: datetime
    timezone: str = "UTC"  # the programme's: weeks begin on its Mondays

    def communities(self) -> Rows:
        f = self.filter
        stmt = sa.select(col(Community.id)).where(col(Community.programme_id) == self.programme_id)
        if f.community_ids is not None:
            stmt = stmt.where(col(Community.id).in_(sorted(f.community_ids)))
        if f.community_id is not None:
            stmt = stmt.where(col(Community.id) == f.community_id)
        if f.subject:
            stmt = stmt.where(_json_has(col(Community.subjects), f.subject))
        if f.school_id is not None:
            stmt = stmt.where(
                col(Community.id).in_(
                    sa.select(col(CommunitySchool.community_id)).where(
                        col(CommunitySchool.school_id) == f.school_id
                    )
                )
            )
        if f.district:
            stmt = stmt.where(
                col(Community.id).in_(
                    sa.select(col(CommunitySchool.community_id))
                    .join(School, col(School.id) == col(CommunitySchool.school_id))
                    .where(
                        col(School.programme_id) == self.programme_id,
                        col(School.district) == f.district,
                    )
                )
            )
        return stmt

    def members(self) -> Rows:
        """People with an active membership of a community in scope."""
        return sa.select(col(Membership.person_id)).where(
            col(Membership.community_id).in_(self.communities()),
            col(Membership.status) == MembershipStatus.active,
        )

    def people(self) -> Rows | None:
        """The people a gender filter keeps (None: everyone counts)."""
        if self.filter.gender is None:
            return None
        return sa.select(col(Person.id)).where(
            col(Person.programme_id) == self.programme_id,
            col(Person.gender) == self.filter.gender,
        )

    def counts(self, person_id: Any) -> list[Any]:
        """Conditions on a person id column: the person is one the report counts."""
        people = self.people()
        return [] if people is None else [person_id.in_(people)]

    def within(self, moment: Any) -> list[Any]:
        out = []
        if self.starts is not None:
            out.append(moment >= self.starts)
        if self.ends is not None:
            out.append(moment < self.ends)
        return out


def _json_has(column: Any, word: str) -> Any:
    # Subjects and roles are short JSON lists of words: a quoted match is exact on both
    # engines without JSON operators that differ between them.
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return sa.cast(column, sa.Text).like(f'%"{escaped}"%', escape="\\")


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


async def resolve(
    session: AsyncSession, programme: Programme, f: ReportFilter, *, now: datetime
) -> ReportScope:
    """The window in UTC: local midnight of `since` to local midnight after `until`."""
    assert programme.id is not None
    since, until = f.since, f.until
    if f.term_id is not None:
        term = await get_owned(session, Term, f.term_id, programme.id)
        since = max(since, term.starts_on) if since else term.starts_on
        until = min(until, term.ends_on) if until else term.ends_on
    zone = ZoneInfo(programme.timezone)
    return ReportScope(
        programme_id=programme.id,
        filter=f,
        starts=_local_midnight(since, zone) if since else None,
        ends=_local_midnight(until + timedelta(days=1), zone) if until else None,
        now=now,
        timezone=programme.timezone,
    )


def _count_if(condition: Any) -> Any:
    # Inline constants: PostgreSQL cannot type a bare parameter in a CASE branch.
    one: Any = sa.literal_column("1")
    zero: Any = sa.literal_column("0")
    return func.coalesce(func.sum(sa.case((condition, one), else_=zero)), zero)


def _rate(numerator: int | float, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def belonged_at(moment: Any) -> Any:
    """The membership had begun and not yet ended at `moment`.

    A pending request is not membership yet. A row with no join date (written before
    memberships had dates) counts from always, as every row did then.
    """
    return sa.and_(
        col(Membership.status) != MembershipStatus.pending,
        col(Membership.joined_at).is_(None) | (col(Membership.joined_at) <= moment),
        col(Membership.left_at).is_(None) | (col(Membership.left_at) > moment),
    )


def has_seat() -> Any:
    """A membership's seat at a meeting (the statement joins Meeting and, outer, the
    person's Attendance): they belonged when it began, or they came to it. The
    attendance export marks the same rows `counted`."""
    return col(Attendance.presence).in_(ATTENDED) | belonged_at(col(Meeting.starts_at))


def mark_of_member() -> Any:
    """The member's marks at the meeting: the condition to outer-join Attendance on."""
    return (col(Attendance.meeting_id) == col(Meeting.id)) & (
        col(Attendance.person_id) == col(Membership.person_id)
    )


def _with_group(stmt: Rows, by: Breakdown, person_id: Any) -> tuple[Rows, Any]:
    """Add the disaggregation column (and its joins) to a statement over people."""
    if by is Breakdown.none:
        return stmt, None
    stmt = stmt.join(Person, col(Person.id) == person_id)
    if by is Breakdown.gender:
        # Inline, not a parameter: PostgreSQL must see the same expression in GROUP BY.
        unknown: Any = sa.literal_column("'unknown'")
        return stmt, func.coalesce(sa.type_coerce(col(Person.gender), sa.String), unknown)
    # A person with several roles counts in each: join a constant table of the roles.
    roles = sa.union_all(
        *(sa.select(sa.literal_column(f"'{r.value}'", sa.String).label("role")) for r in Role)
    ).subquery("roles")
    pattern: Any = (
        sa.literal_column("'%\"'", sa.String) + roles.c.role + sa.literal_column("'\"%'", sa.String)
    )
    stmt = stmt.join(roles, sa.cast(col(Person.roles), sa.Text).like(pattern))
    return stmt, roles.c.role


# ---------------------------------------------------------------- attendance


@dataclass
class MeetingCounts:
    planned: int = 0  # every meeting in the window, whatever became of it
    held: int = 0
    cancelled: int = 0
    scheduled: int = 0
    overdue: int = 0  # still scheduled though their start is past

    def add(self, other: MeetingCounts) -> None:
        self.planned += other.planned
        self.held += other.held
        self.cancelled += other.cancelled
        self.scheduled += other.scheduled
        self.overdue += other.overdue

    @property
    def held_rate(self) -> float | None:
        """Held among the meetings that should have happened by now."""
        return _rate(self.held, self.held + self.cancelled + self.overdue)


@dataclass
class AttendanceFigures:
    members: int = 0  # active memberships
    expected: int = 0  # seats at held meetings: a membership belonging then, or who came
    attended: int = 0  # present + remote
    present: int = 0
    remote: int = 0
    rsvp_yes: int = 0
    rsvp_no: int = 0
    rsvp_yes_attended: int = 0
    rsvp_no_attended: int = 0

    def add(self, other: AttendanceFigures) -> None:
        # Field by field, not by looping over the fields: the overview adds a few
        # thousand seat rows per request and the generic loop was a fifth of its time.
        self.members += other.members
        self.expected += other.expected
        self.attended += other.attended
        self.present += other.present
        self.remote += other.remote
        self.rsvp_yes += other.rsvp_yes
        self.rsvp_no += other.rsvp_no
        self.rsvp_yes_attended += other.rsvp_yes_attended
        self.rsvp_no_attended += other.rsvp_no_attended

    @property
    def rate(self) -> float | None:
        return _rate(self.attended, self.expected)


@dataclass
class CommunityAttendance:
    community_id: int
    name: str
    meetings: MeetingCounts
    figures: AttendanceFigures  # members only
    facilitators: AttendanceFigures = field(default_factory=AttendanceFigures)


@dataclass
class GroupAttendance:
    group: str
    figures: AttendanceFigures


@dataclass
class WeekAttendance:
    week: date  # the programme-local Monday the week begins on
    held: int  # meetings held that week
    figures: AttendanceFigures  # members' seats and marks at them (facilitators apart)


@dataclass
class AttendanceReport:
    meetings: MeetingCounts
    totals: AttendanceFigures  # members only
    communities: list[CommunityAttendance]
    groups: list[GroupAttendance]  # members only
    facilitators: AttendanceFigures = field(default_factory=AttendanceFigures)
    weeks: list[WeekAttendance] = field(default_factory=list)  # when asked: `weekly`


async def _meeting_counts(session: AsyncSession, scope: ReportScope) -> dict[int, MeetingCounts]:
    stmt = (
        sa.select(
            col(Meeting.community_id),
            col(Meeting.status),
            func.count(),
            _count_if(col(Meeting.starts_at) < scope.now),
        )
        .where(
            col(Meeting.programme_id) == scope.programme_id,
            col(Meeting.community_id).in_(scope.communities()),
            *scope.within(col(Meeting.starts_at)),
        )
        .group_by(col(Meeting.community_id), col(Meeting.status))
    )
    counts: dict[int, MeetingCounts] = defaultdict(MeetingCounts)
    for community_id, status, n, past in (await session.execute(stmt)).all():
        c = counts[community_id]
        c.planned += n
        if status is MeetingStatus.held:
            c.held += n
        elif status is MeetingStatus.cancelled:
            c.cancelled += n
        else:
            c.scheduled += n
            c.overdue += past
    return counts


async def _community_names(session: AsyncSession, scope: ReportScope) -> list[tuple[int, str]]:
    stmt = (
        sa.select(col(Community.id), col(Community.name))
        .where(col(Community.id).in_(scope.communities()))
        .order_by(col(Community.name), col(Community.id))
    )
    return [(i, n) for i, n in (await session.execute(stmt)).all()]


FigureKey = tuple[int, MembershipRole, str]  # community, role in it, group ("all" unsplit)


async def _figures(
    session: AsyncSession,
    scope: ReportScope,
    by: Breakdown,
    weeks: dict[date, WeekAttendance] | None = None,
) -> dict[FigureKey, AttendanceFigures]:
    """Active memberships, and seats and marks at held meetings: two statements.

    One row per (membership, held meeting of its community) it has a seat at (see
    `has_seat`), with the person's marks there if any. Marks elsewhere (a meeting held
    before they joined, or after they left, that they did not come to) count nowhere,
    so the marks counted are those of the seats counted.

    Given `weeks`, the seats are grouped by meeting as well (a term has a few hundred
    held meetings however many members) and each member's seats are also summed into
    the programme-local week (Monday first) of their meeting: the trend costs no
    statement of its own.
    """
    members, group = _with_group(
        sa.select(col(Membership.community_id), col(Membership.role)).where(
            col(Membership.community_id).in_(scope.communities()),
            col(Membership.status) == MembershipStatus.active,
            *scope.counts(col(Membership.person_id)),
        ),
        by,
        col(Membership.person_id),
    )
    keys = [col(Membership.community_id), col(Membership.role)]
    keys += [group] if group is not None else []
    members = members.add_columns(*keys[2:], func.count()).group_by(*keys)

    attended = col(Attendance.presence).in_(ATTENDED)
    seats = (
        sa.select(col(Meeting.community_id), col(Membership.role))
        .select_from(Membership)
        .join(Meeting, col(Meeting.community_id) == col(Membership.community_id))
        .outerjoin(Attendance, mark_of_member())
        .where(
            col(Meeting.programme_id) == scope.programme_id,
            col(Meeting.status) == MeetingStatus.held,
            col(Meeting.community_id).in_(scope.communities()),
            *scope.within(col(Meeting.starts_at)),
            has_seat(),
            *scope.counts(col(Membership.person_id)),
        )
    )
    seats, group = _with_group(seats, by, col(Membership.person_id))
    seat_keys = [col(Meeting.community_id), col(Membership.role)]
    seat_keys += [group] if group is not None else []
    seat_keys += [col(Meeting.id), col(Meeting.starts_at)] if weeks is not None else []
    yes, no = col(Attendance.rsvp) == Rsvp.yes, col(Attendance.rsvp) == Rsvp.no
    seats = seats.add_columns(
        *seat_keys[2:],
        func.count(),
        _count_if(attended),
        _count_if(col(Attendance.presence) == Presence.present),
        _count_if(col(Attendance.presence) == Presence.remote),
        _count_if(yes),
        _count_if(no),
        _count_if(yes & attended),
        _count_if(no & attended),
    ).group_by(*seat_keys)

    figures: dict[FigureKey, AttendanceFigures] = defaultdict(AttendanceFigures)
    grouped = group is not None
    for row in (await session.execute(members)).all():
        key = (row[0], row[1], row[2] if grouped else "all")
        figures[key].members = row[-1]
    zone = ZoneInfo(scope.timezone)
    held: dict[date, set[int]] = defaultdict(set)
    mondays: dict[int, date] = {}  # per meeting: its rows come once per role and group
    for row in (await session.execute(seats)).all():
        key = (row[0], row[1], row[2] if grouped else "all")
        seat = AttendanceFigures(0, *row[-8:])
        figures[key].add(seat)
        if weeks is not None and row[1] is MembershipRole.member:
            meeting_id, starts_at = row[-10:-8]
            monday = mondays.get(meeting_id)
            if monday is None:
                day = _aware(starts_at).astimezone(zone).date()
                monday = mondays[meeting_id] = day - timedelta(days=day.weekday())
            week = weeks.setdefault(monday, WeekAttendance(monday, 0, AttendanceFigures()))
            week.figures.add(seat)
            held[monday].add(meeting_id)
    for monday, meetings in held.items():
        assert weeks is not None
        weeks[monday].held = len(meetings)
    return figures


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes, PostgreSQL aware ones."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo("UTC"))


async def attendance(
    session: AsyncSession, scope: ReportScope, *, weekly: bool = False
) -> AttendanceReport:
    """Members' figures in total, per community and per group; facilitators' apart.
    `weekly`: with the members' figures per programme-local week too, oldest first
    (weeks without a held meeting left out)."""
    by = scope.filter.by
    meetings = await _meeting_counts(session, scope)
    weeks: dict[date, WeekAttendance] | None = {} if weekly else None
    figures = await _figures(session, scope, by, weeks)
    names = await _community_names(session, scope)

    per_community: dict[int, AttendanceFigures] = defaultdict(AttendanceFigures)
    facilitating: dict[int, AttendanceFigures] = defaultdict(AttendanceFigures)
    per_group: dict[str, AttendanceFigures] = defaultdict(AttendanceFigures)
    for (community_id, role, group), f in figures.items():
        if role is MembershipRole.facilitator:
            facilitating[community_id].add(f)
            continue
        per_community[community_id].add(f)
        per_group[group].add(f)

    total_meetings, totals, facilitators = MeetingCounts(), AttendanceFigures(), AttendanceFigures()
    rows = []
    for community_id, name in names:
        m, f = meetings.get(community_id, MeetingCounts()), per_community[community_id]
        total_meetings.add(m)
        totals.add(f)
        facilitators.add(facilitating[community_id])
        rows.append(CommunityAttendance(community_id, name, m, f, facilitating[community_id]))
    order: list[str] = (
        [r.value for r in Role if r.value in per_group] if by is Breakdown.role else []
    )
    order = order or sorted(per_group)
    groups = [GroupAttendance(g, per_group[g]) for g in order] if by is not Breakdown.none else []
    in_order = [weeks[w] for w in sorted(weeks)] if weeks else []
    return AttendanceReport(total_meetings, totals, rows, groups, facilitators, in_order)


async def attendees(session: AsyncSession, scope: ReportScope) -> int:
    """Distinct members (facilitators apart) marked present or remote at a held meeting
    in scope: the people behind `attended`, each counted once however often they came.
    A mark there is always a seat (see `has_seat`), so they are the report's own marks.
    One statement."""
    stmt = (
        sa.select(func.count(sa.distinct(col(Membership.person_id))))
        .select_from(Membership)
        .join(Meeting, col(Meeting.community_id) == col(Membership.community_id))
        .join(Attendance, mark_of_member())
        .where(
            col(Meeting.programme_id) == scope.programme_id,
            col(Meeting.status) == MeetingStatus.held,
            col(Meeting.community_id).in_(scope.communities()),
            *scope.within(col(Meeting.starts_at)),
            col(Membership.role) == MembershipRole.member,
            col(Attendance.presence).in_(ATTENDED),
            *scope.counts(col(Membership.person_id)),
        )
    )
    return int((await session.execute(stmt)).scalar_one())


@dataclass
class MemberAtRisk:
    person_id: int
    community_id: int
    held: int  # held meetings in the window they had a seat at (since they joined)
    attended: int
    last_attended_at: datetime | None

    @property
    def rate(self) -> float | None:
        return _rate(self.attended, self.held)


@dataclass
class AtRiskPage:
    total: int
    members: list[MemberAtRisk]


def _one_of(session: AsyncSession, column: Any, ids: list[int]) -> Any:
    """`column IN ids`. On PostgreSQL as one array parameter: a term has a few hundred
    recent meetings, and an IN list of that many parameters made each statement a new
    text to compile and to prepare on every request."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, ids, type_=postgresql.ARRAY(sa.Integer)))
    return column.in_(ids)


async def members_at_risk(
    session: AsyncSession, scope: ReportScope, *, missed: int, offset: int, limit: int
) -> AtRiskPage:
    """Active members who missed each of the last `missed` held meetings of their
    community since they joined. Facilitators are never at risk.

    Only a member who had joined by the start of the oldest of those meetings can be
    at risk: one who joined later has had fewer than `missed` meetings to miss, as in
    a community with fewer than `missed` held meetings in the window. (A meeting
    before they joined is a seat only if they came to it, which clears them anyway.)
    Three statements: the recent meetings (a few per community), the count and the
    page. The recent meetings travel as a list of ids so the "came to one of them" set
    is an uncorrelated subquery the database hashes once, whatever its statistics say.
    """
    community = col(Meeting.community_id)
    ranked = (
        sa.select(
            col(Meeting.id),
            col(Meeting.community_id),
            func.row_number().over(partition_by=community, order_by=col(Meeting.starts_at).desc()),
            func.count().over(partition_by=community),
        )
        .where(
            col(Meeting.programme_id) == scope.programme_id,
            col(Meeting.status) == MeetingStatus.held,
            col(Meeting.community_id).in_(scope.communities()),
            *scope.within(col(Meeting.starts_at)),
        )
        .subquery("ranked")
    )
    recent_rows = (
        await session.execute(sa.select(ranked).where(ranked.c[2] <= missed, ranked.c[3] >= missed))
    ).all()
    recent = [meeting_id for meeting_id, _, _, _ in recent_rows]
    if not recent:
        return AtRiskPage(0, [])
    oldest = (
        sa.select(col(Meeting.community_id), func.min(col(Meeting.starts_at)).label("starts_at"))
        .where(_one_of(session, col(Meeting.id), recent))
        .group_by(col(Meeting.community_id))
        .subquery("oldest")
    )
    came = (
        sa.select(col(Meeting.community_id), col(Attendance.person_id))
        .join(Meeting, col(Meeting.id) == col(Attendance.meeting_id))
        .where(
            _one_of(session, col(Attendance.meeting_id), recent),
            col(Attendance.presence).in_(ATTENDED),
        )
    )
    pair = sa.tuple_(col(Membership.community_id), col(Membership.person_id))
    at_risk = [
        col(Membership.status) == MembershipStatus.active,
        col(Membership.role) == MembershipRole.member,
        col(Membership.joined_at).is_(None) | (col(Membership.joined_at) <= oldest.c.starts_at),
        pair.not_in(came),
        *scope.counts(col(Membership.person_id)),
    ]
    in_oldest = oldest.c.community_id == col(Membership.community_id)
    count = sa.select(func.count()).select_from(Membership).join(oldest, in_oldest)
    total = (await session.execute(count.where(*at_risk))).scalar_one()
    if not limit:
        return AtRiskPage(total, [])

    def attended(*extra: Any) -> Any:
        return (
            sa.select(*extra)
            .select_from(Attendance)
            .join(Meeting, col(Meeting.id) == col(Attendance.meeting_id))
            .where(
                col(Meeting.community_id) == col(Membership.community_id),
                col(Attendance.person_id) == col(Membership.person_id),
                col(Attendance.presence).in_(ATTENDED),
            )
        )

    held = (col(Meeting.status) == MeetingStatus.held, *scope.within(col(Meeting.starts_at)))
    in_window = attended(func.count()).where(*held)
    seats = (
        sa.select(func.count())
        .select_from(Meeting)
        .outerjoin(Attendance, mark_of_member())
        .where(col(Meeting.community_id) == col(Membership.community_id), *held, has_seat())
    )
    page = (
        sa.select(
            col(Membership.person_id),
            col(Membership.community_id),
            seats.scalar_subquery(),
            in_window.scalar_subquery(),
            attended(func.max(col(Meeting.starts_at))).scalar_subquery(),
        )
        .join(oldest, in_oldest)
        .join(Person, col(Person.id) == col(Membership.person_id))
        .join(Community, col(Community.id) == col(Membership.community_id))
        .where(*at_risk)
        .order_by(col(Community.name), col(Person.name), col(Membership.id))
        .offset(offset)
        .limit(limit)
    )
    rows = (await session.execute(page)).all()
    return AtRiskPage(total, [MemberAtRisk(*row) for row in rows])


# ---------------------------------------------------------------- survey results


@dataclass
class AnswerCount:
    value: str
    label: str | None
    count: int
    percent: float | None  # of those who answered the question


@dataclass
class QuestionResult:
    position: int
    kind: QuestionKind
    text: str
    answered: int
    options: list[AnswerCount] = field(default_factory=list)
    mean: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    texts: list[str] | None = None  # short text answers, newest first, when allowed


@dataclass
class SurveyResults:
    survey: Survey
    invited: int
    in_progress: int
    completed: int
    abandoned: int
    questions: list[QuestionResult]

    @property
    def response_rate(self) -> float | None:
        return _rate(self.completed, self.invited)


@dataclass
class ResponseCounts:
    in_progress: int = 0
    completed: int = 0
    abandoned: int = 0

    @property
    def invited(self) -> int:
        """Responses started or sent: every status (as `SurveyResults.invited`)."""
        return self.in_progress + self.completed + self.abandoned

    @property
    def response_rate(self) -> float | None:
        return _rate(self.completed, self.invited)

    def add(self, other: ResponseCounts) -> None:
        self.in_progress += other.in_progress
        self.completed += other.completed
        self.abandoned += other.abandoned


async def responses_by_survey(
    session: AsyncSession, scope: ReportScope
) -> dict[int, ResponseCounts]:
    """Every survey's responses in scope by status, as `survey_results` counts them for
    one: one statement."""
    responses = _responses(scope, None).subquery("responses")
    stmt = sa.select(responses.c.survey_id, responses.c.status, func.count()).group_by(
        responses.c.survey_id, responses.c.status
    )
    out: dict[int, ResponseCounts] = defaultdict(ResponseCounts)
    for survey_id, status, n in (await session.execute(stmt)).all():
        counts = out[survey_id]
        match ResponseStatus(status):
            case ResponseStatus.in_progress:
                counts.in_progress += n
            case ResponseStatus.completed:
                counts.completed += n
            case ResponseStatus.abandoned:
                counts.abandoned += n
    return dict(out)


def _label(texts: dict[str, str], language: str) -> str:
    return in_language(texts, language)


def _responses(scope: ReportScope, survey_id: int | None) -> Rows:
    """The survey's responses in scope (every survey's of the programme with None): by
    their meeting, or by who answered."""
    moment = func.coalesce(col(Meeting.starts_at), col(SurveyResponse.started_at))
    stmt = (
        sa.select(col(SurveyResponse.id), col(SurveyResponse.status), col(SurveyResponse.survey_id))
        .outerjoin(Meeting, col(Meeting.id) == col(SurveyResponse.meeting_id))
        .where(*scope.within(moment), *scope.counts(col(SurveyResponse.person_id)))
    )
    if survey_id is not None:
        stmt = stmt.where(col(SurveyResponse.survey_id) == survey_id)
    else:
        stmt = stmt.where(
            col(SurveyResponse.survey_id).in_(
                sa.select(col(Survey.id)).where(col(Survey.programme_id) == scope.programme_id)
            )
        )
    if scope.filter.narrows_communities:
        stmt = stmt.where(
            col(Meeting.community_id).in_(scope.communities())
            | (
                col(SurveyResponse.meeting_id).is_(None)
                & col(SurveyResponse.person_id).in_(scope.members())
            )
        )
    return stmt


def _choices(question: Question, language: str) -> list[tuple[str, str | None]]:
    if question.kind is QuestionKind.single_choice:
        return [(str(i), _label(o, language)) for i, o in enumerate(question.options, start=1)]
    if question.kind is QuestionKind.yes_no:
        return [("yes", None), ("no", None)]
    low, high = question.min_value or 1, question.max_value or 5
    return [(str(v), None) for v in range(low, high + 1)]


async def survey_results(
    session: AsyncSession,
    scope: ReportScope,
    key: str,
    version: int | None = None,
    *,
    language: str,
    with_texts: bool,
) -> SurveyResults | None:
    """Counts per answer, means, response rate; free text only when `with_texts`."""
    stmt = sa.select(Survey).where(
        col(Survey.programme_id) == scope.programme_id, col(Survey.key) == key
    )
    if version is not None:
        stmt = stmt.where(col(Survey.version) == version)
    survey = (
        (await session.execute(stmt.order_by(col(Survey.version).desc()).limit(1)))
        .scalars()
        .first()
    )
    if survey is None:
        return None
    assert survey.id is not None
    questions = (
        (
            await session.execute(
                sa.select(Question)
                .where(col(Question.survey_id) == survey.id)
                .order_by(col(Question.position))
            )
        )
        .scalars()
        .all()
    )
    responses = _responses(scope, survey.id).subquery("responses")
    statuses = {
        status: n
        for status, n in (
            await session.execute(
                sa.select(responses.c.status, func.count()).group_by(responses.c.status)
            )
        ).all()
    }

    def answers(*columns: Any) -> Rows:
        return (
            sa.select(col(Answer.question_id), *columns)
            .join(responses, responses.c.id == col(Answer.response_id))
            .group_by(col(Answer.question_id))
        )

    kinds: dict[QuestionKind, list[int]] = defaultdict(list)
    for q in questions:
        assert q.id is not None
        kinds[q.kind].append(q.id)
    counted = kinds[QuestionKind.single_choice] + kinds[QuestionKind.yes_no]
    counted += kinds[QuestionKind.rating]
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    if counted:
        stmt = answers(col(Answer.value), func.count()).where(col(Answer.question_id).in_(counted))
        for qid, value, n in (await session.execute(stmt.group_by(col(Answer.value)))).all():
            counts[qid][value] = n
    numbers: dict[int, tuple[int, Any, Any, Any]] = {}
    if kinds[QuestionKind.number]:
        value = sa.cast(col(Answer.value), sa.Numeric)
        stmt = answers(func.count(), func.avg(value), func.min(value), func.max(value))
        stmt = stmt.where(col(Answer.question_id).in_(kinds[QuestionKind.number]))
        numbers = {qid: tuple(rest) for qid, *rest in (await session.execute(stmt)).all()}
    text_ids = kinds[QuestionKind.short_text]
    texts: dict[int, list[str]] = defaultdict(list)
    if text_ids:
        stmt = answers(func.count()).where(col(Answer.question_id).in_(text_ids))
        numbers |= {qid: (n, None, None, None) for qid, n in (await session.execute(stmt)).all()}
    if text_ids and with_texts:
        newest = func.row_number().over(
            partition_by=col(Answer.question_id),
            order_by=(col(Answer.answered_at).desc(), col(Answer.id).desc()),
        )
        ranked = (
            sa.select(col(Answer.question_id), col(Answer.value), newest.label("n"))
            .join(responses, responses.c.id == col(Answer.response_id))
            .where(col(Answer.question_id).in_(text_ids))
            .subquery("ranked")
        )
        stmt = (
            sa.select(ranked.c.question_id, ranked.c.value)
            .where(ranked.c.n <= TEXTS_PER_QUESTION)
            .order_by(ranked.c.question_id, ranked.c.n)
        )
        for qid, text in (await session.execute(stmt)).all():
            texts[qid].append(text)

    results = []
    for q in questions:
        assert q.id is not None
        result = QuestionResult(q.position, q.kind, _label(q.text, language), answered=0)
        if q.kind is QuestionKind.number or q.kind is QuestionKind.short_text:
            n, mean, low, high = numbers.get(q.id, (0, None, None, None))
            result.answered = n
            result.mean, result.minimum, result.maximum = (
                None if v is None else float(v) for v in (mean, low, high)
            )
            if q.kind is QuestionKind.short_text:
                result.texts = texts.get(q.id, []) if with_texts else None
        else:
            given = counts.get(q.id, {})
            result.answered = sum(given.values())
            known = _choices(q, language)
            extra = sorted(set(given) - {v for v, _ in known})  # values no option explains
            result.options = [
                AnswerCount(v, label, given.get(v, 0), _percent(given.get(v, 0), result.answered))
                for v, label in [*known, *((v, None) for v in extra)]
            ]
            if q.kind is QuestionKind.rating and result.answered:
                total = sum(int(v) * n for v, n in given.items() if v.isdigit())
                result.mean = total / result.answered
        results.append(result)
    in_progress = statuses.get(ResponseStatus.in_progress, 0)
    completed = statuses.get(ResponseStatus.completed, 0)
    abandoned = statuses.get(ResponseStatus.abandoned, 0)
    return SurveyResults(
        survey, in_progress + completed + abandoned, in_progress, completed, abandoned, results
    )


def _percent(count: int, of: int) -> float | None:
    return 100 * count / of if of else None


# ---------------------------------------------------------------- CoP health

HIGH_RATING, LOW_RATING = 4.0, 3.0
HIGH_HELD, LOW_HELD = 0.8, 0.5
HIGH_ATTENDANCE, LOW_ATTENDANCE = 0.6, 0.4


def band(rating: float | None, held_rate: float | None, attendance_rate: float | None) -> Band:
    """HIGH when every known measure clears its high bar; LOW when any falls under its
    low bar; MEDIUM otherwise. An unknown measure (nothing to judge it on) counts
    neither way; with none known the community is UNRATED."""
    measures = [
        (value, high, low)
        for value, high, low in (
            (rating, HIGH_RATING, LOW_RATING),
            (held_rate, HIGH_HELD, LOW_HELD),
            (attendance_rate, HIGH_ATTENDANCE, LOW_ATTENDANCE),
        )
        if value is not None
    ]
    if not measures:
        return Band.UNRATED
    if any(value < low for value, _, low in measures):
        return Band.LOW
    if all(value >= high for value, high, _ in measures):
        return Band.HIGH
    return Band.MEDIUM


@dataclass
class CommunityHealth:
    community_id: int
    name: str
    ratings: int
    rating_mean: float | None
    meetings: MeetingCounts
    figures: AttendanceFigures

    @property
    def held_rate(self) -> float | None:
        return self.meetings.held_rate

    @property
    def attendance_rate(self) -> float | None:
        return self.figures.rate

    @property
    def band(self) -> Band:
        return band(self.rating_mean, self.held_rate, self.attendance_rate)


async def _ratings(session: AsyncSession, scope: ReportScope) -> dict[int, tuple[int, int]]:
    """Sum and count of rating answers per community: two statements.

    An answer tied to a meeting counts for that meeting's community; one with no
    meeting counts for each community in scope its author is an active member of.
    """
    value = sa.cast(col(Answer.value), sa.Integer)
    rated = (
        sa.select()
        .select_from(Answer)
        .join(Question, col(Question.id) == col(Answer.question_id))
        .join(SurveyResponse, col(SurveyResponse.id) == col(Answer.response_id))
        .join(Survey, col(Survey.id) == col(SurveyResponse.survey_id))
        .where(
            col(Survey.programme_id) == scope.programme_id,
            col(Question.kind) == QuestionKind.rating,
            *scope.counts(col(SurveyResponse.person_id)),
        )
    )
    at_meeting = (
        rated.join(Meeting, col(Meeting.id) == col(SurveyResponse.meeting_id))
        .add_columns(col(Meeting.community_id), func.sum(value), func.count())
        .where(
            col(Meeting.community_id).in_(scope.communities()),
            *scope.within(col(Meeting.starts_at)),
        )
        .group_by(col(Meeting.community_id))
    )
    by_member = (
        rated.join(
            Membership,
            (col(Membership.person_id) == col(SurveyResponse.person_id))
            & (col(Membership.status) == MembershipStatus.active),
        )
        .add_columns(col(Membership.community_id), func.sum(value), func.count())
        .where(
            col(SurveyResponse.meeting_id).is_(None),
            col(Membership.community_id).in_(scope.communities()),
            *scope.within(col(Answer.answered_at)),
        )
        .group_by(col(Membership.community_id))
    )
    out: dict[int, tuple[int, int]] = {}
    for stmt in (at_meeting, by_member):
        for community_id, total, n in (await session.execute(stmt)).all():
            old = out.get(community_id, (0, 0))
            out[community_id] = (old[0] + int(total or 0), old[1] + n)
    return out


async def cop_health(
    session: AsyncSession, scope: ReportScope, attended: AttendanceReport | None = None
) -> list[CommunityHealth]:
    """Per community, by name. `attended`: this scope's attendance report when the
    caller has it already; its meetings and members' figures are the ones a CoP is
    judged on, so only the ratings are read (one statement for two, not four)."""
    if attended is None:
        meetings = await _meeting_counts(session, scope)
        figures = await _figures(session, scope, Breakdown.none)
        known = [
            (
                community_id,
                name,
                meetings.get(community_id, MeetingCounts()),
                figures.get((community_id, MembershipRole.member, "all"), AttendanceFigures()),
            )
            for community_id, name in await _community_names(session, scope)
        ]
    else:
        known = [(c.community_id, c.name, c.meetings, c.figures) for c in attended.communities]
    ratings = await _ratings(session, scope)
    rows = []
    for community_id, name, m, f in known:
        total, n = ratings.get(community_id, (0, 0))
        rows.append(CommunityHealth(community_id, name, n, total / n if n else None, m, f))
    return rows


# ---------------------------------------------------------------- messaging


@dataclass
class SmsFigures:
    messages: int = 0  # outgoing, every status
    queued: int = 0  # queued or being sent
    sent: int = 0  # sent, delivered or unknown: left us for the network
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    received: int = 0  # incoming
    segments: int = 0  # of the messages sent
    cost: dict[str, Decimal] = field(default_factory=dict)  # per currency, dropped excluded
    recipients: int = 0  # distinct people sent at least one SMS

    def add(
        self,
        direction: Direction,
        status: MessageStatus,
        currency: str | None,
        n: int,
        segments: int,
        cost: object,
    ) -> None:
        """Count `n` messages of one direction, status and currency."""
        if direction is Direction.inbound:
            self.received += n
            return
        self.messages += n
        if status in SENT:
            self.sent += n
            self.segments += segments
        if status is MessageStatus.delivered:
            self.delivered += n
        elif status is MessageStatus.failed:
            self.failed += n
        elif status is MessageStatus.dropped:
            self.dropped += n
        elif status in (MessageStatus.queued, MessageStatus.sending):
            self.queued += n
        if currency and cost is not None and status is not MessageStatus.dropped:
            self.cost[currency] = self.cost.get(currency, Decimal(0)) + Decimal(str(cost))

    @property
    def cost_per_teacher(self) -> dict[str, Decimal]:
        if not self.recipients:
            return {}
        return {c: (amount / self.recipients).quantize(CENT) for c, amount in self.cost.items()}


@dataclass
class FunnelRow:
    screen: str
    completed: int = 0
    abandoned: int = 0
    failed: int = 0
    open: int = 0

    @property
    def sessions(self) -> int:
        return self.completed + self.abandoned + self.failed + self.open


@dataclass
class UssdFigures:
    funnel: list[FunnelRow]
    billed: UssdCost = field(default_factory=UssdCost)  # at the programme's USSD price

    def total(self, outcome: str) -> int:
        return sum(int(getattr(row, outcome)) for row in self.funnel)


@dataclass
class CostFigures:
    """What reaching teachers cost, SMS and USSD side by side, over the people reached
    by either (sent an SMS, or dialled the USSD code): the two parts add up to the total."""

    sms: dict[str, Decimal]
    ussd: dict[str, Decimal]
    reached: int

    @property
    def total(self) -> dict[str, Decimal]:
        return {
            c: self.sms.get(c, Decimal(0)) + self.ussd.get(c, Decimal(0))
            for c in sorted({*self.sms, *self.ussd})
        }

    def _each(self, amounts: dict[str, Decimal]) -> dict[str, Decimal]:
        if not self.reached:
            return {}
        return {c: (amount / self.reached).quantize(CENT) for c, amount in amounts.items()}

    @property
    def sms_per_teacher(self) -> dict[str, Decimal]:
        return self._each(self.sms)

    @property
    def ussd_per_teacher(self) -> dict[str, Decimal]:
        return self._each(self.ussd)

    @property
    def per_teacher(self) -> dict[str, Decimal]:
        return self._each(self.total)


@dataclass
class MessagingReport:
    sms: SmsFigures  # every message, whichever channel it went by
    ussd: UssdFigures
    cost: CostFigures
    # The same figures per channel (SMS, WhatsApp), and how many messages to someone
    # on WhatsApp went by SMS instead (each with its reason on the message).
    channels: dict[Reach, SmsFigures] = field(default_factory=dict)
    fell_back: int = 0


async def ussd_funnel(
    session: AsyncSession,
    programme_id: int,
    *,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
    people: Rows | None = None,
) -> list[FunnelRow]:
    """Where USSD sessions end, by last screen: most abandoned first. One statement."""
    stmt = sa.select(col(UssdSession.last_screen), col(UssdSession.outcome), func.count()).where(
        *_ussd_sessions(programme_id, started_after, started_before, people)
    )
    stmt = stmt.group_by(col(UssdSession.last_screen), col(UssdSession.outcome))
    steps: dict[str, FunnelRow] = {}
    for screen, outcome, n in (await session.execute(stmt)).all():
        step = steps.setdefault(screen or "-", FunnelRow(screen or "-"))
        name = UssdOutcome(outcome).value
        setattr(step, name, getattr(step, name) + n)
    return sorted(steps.values(), key=lambda s: (-s.abandoned, -s.sessions, s.screen))


def _ussd_sessions(
    programme_id: int,
    started_after: datetime | None,
    started_before: datetime | None,
    people: Rows | None,
) -> list[Any]:
    conditions: list[Any] = [col(UssdSession.programme_id) == programme_id]
    if started_after is not None:
        conditions.append(col(UssdSession.started_at) >= started_after)
    if started_before is not None:
        conditions.append(col(UssdSession.started_at) < started_before)
    if people is not None:
        conditions.append(col(UssdSession.person_id).in_(people))
    return conditions


async def messaging(session: AsyncSession, scope: ReportScope) -> MessagingReport:
    """SMS by status, cost and cost per teacher, USSD sessions and their cost, and the
    cost per teacher reached by either: six statements."""
    where = [
        col(Message.programme_id) == scope.programme_id,
        *scope.within(col(Message.created_at)),
        *scope.counts(col(Message.person_id)),
    ]
    if scope.filter.narrows_communities:
        # A message about a community counts for it; one about none (a broadcast, a
        # reply) counts when it went to a member of a community in scope.
        where.append(
            col(Message.community_id).in_(scope.communities())
            | (col(Message.community_id).is_(None) & col(Message.person_id).in_(scope.members()))
        )
    by_status = sa.select(
        col(Message.reach),
        col(Message.direction),
        col(Message.status),
        col(Message.currency),
        func.count(),
        func.coalesce(func.sum(col(Message.segments)), 0),
        func.sum(col(Message.cost)),
        func.count(col(Message.fallback_reason)),
    ).where(*where)
    by_status = by_status.group_by(
        col(Message.reach), col(Message.direction), col(Message.status), col(Message.currency)
    )
    sms = SmsFigures()
    channels = {reach: SmsFigures() for reach in Reach}
    fell_back = 0
    for reach, direction, status, currency, n, segments, cost, fallbacks in (
        await session.execute(by_status)
    ).all():
        sms.add(direction, status, currency, n, segments, cost)
        channels[Reach(reach)].add(direction, status, currency, n, segments, cost)
        fell_back += fallbacks if direction is Direction.outbound else 0
    recipients = (
        sa.select(col(Message.reach), func.count(sa.distinct(col(Message.person_id))))
        .where(*where, col(Message.direction) == Direction.outbound, col(Message.status).in_(SENT))
        .group_by(col(Message.reach))
    )
    for reach, people in (await session.execute(recipients)).all():
        channels[Reach(reach)].recipients = people
    everyone = sa.select(func.count(sa.distinct(col(Message.person_id)))).where(
        *where, col(Message.direction) == Direction.outbound, col(Message.status).in_(SENT)
    )
    sms.recipients = (await session.execute(everyone)).one()[0]
    callers = _callers(scope)
    funnel = await ussd_funnel(
        session,
        scope.programme_id,
        started_after=scope.starts,
        started_before=scope.ends,
        people=callers,
    )
    dialled = _ussd_sessions(scope.programme_id, scope.starts, scope.ends, callers)
    programme = await session.get(Programme, scope.programme_id)
    assert programme is not None
    billed = await ussd_cost(session, programme, dialled)
    either = sa.union(
        sa.select(col(Message.person_id)).where(
            *where, col(Message.direction) == Direction.outbound, col(Message.status).in_(SENT)
        ),
        sa.select(col(UssdSession.person_id)).where(*dialled),
    ).subquery("reached")
    reached = sa.select(func.count()).select_from(either).where(either.c.person_id.is_not(None))
    cost = CostFigures(
        sms=dict(sms.cost),
        ussd=billed.cost,
        reached=(await session.execute(reached)).one()[0],
    )
    return MessagingReport(sms, UssdFigures(funnel, billed), cost, channels, fell_back)


def _callers(scope: ReportScope) -> Rows | None:
    """Whose USSD sessions count: members of the communities in scope, of the gender."""
    people = scope.people()
    if not scope.filter.narrows_communities:
        return people
    members = scope.members()
    return members if people is None else members.where(col(Membership.person_id).in_(people))
