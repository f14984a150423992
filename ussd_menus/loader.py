"""Loading what a hop needs: the programme (cached) and the caller's context (one round trip)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util.concurrency import greenlet_spawn
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import SessionFactory
from service.domain.digests import has_leader_role, school_week
from service.domain.surveys import pending_for
from service.models import (
    Attendance,
    Community,
    Meeting,
    Membership,
    Person,
    Programme,
    UssdAction,
)
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
from ussd_menus.effects import text_answers

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


# The hot path neither rebuilds statements nor creates ORM objects: each statement is
# built once per dialect, and a hop reads plain rows. A caller's whole context (who they
# are, their memberships, their coming meetings) is one round trip: the memberships and
# meetings come back as JSON arrays built by the database (json_agg on PostgreSQL,
# json_group_array on SQLite), correlated to the caller's row.
_ACTIVE = MembershipStatus.active


def _json(dialect: str, columns: list[Any], order: Any) -> Any:
    """An aggregate of rows as one JSON array of arrays; sorted in SQL on PostgreSQL."""
    if dialect == "postgresql":
        return sa.func.json_agg(aggregate_order_by(sa.func.json_build_array(*columns), order))
    # SQLite's json_group_array takes no ORDER BY before 3.44: rows are sorted in Python.
    return sa.func.json_group_array(sa.func.json_array(*columns))


_MEETING_COLUMNS = [
    col(Meeting.id),
    col(Meeting.code),
    col(Meeting.community_id),
    col(Meeting.starts_at),
    col(Meeting.ends_at),
    col(Meeting.modality),
    col(Meeting.venue),
]


def _caller_statement(dialect: str) -> Any:
    membership = sa.orm.aliased(Membership)
    memberships = (
        sa.select(
            _json(
                dialect,
                [
                    col(Membership.community_id),
                    col(Membership.role),
                    col(Membership.status),
                    col(Community.name),
                ],
                col(Community.name),
            )
        )
        .select_from(Membership)
        .join(Community, col(Community.id) == Membership.community_id)
        .where(col(Membership.person_id) == Person.id)
        .scalar_subquery()
    )
    meetings = (
        sa.select(
            _json(
                dialect,
                [*_MEETING_COLUMNS, col(Attendance.rsvp), col(Attendance.presence)],
                col(Meeting.starts_at),
            )
        )
        .select_from(Meeting)
        .join(
            membership,
            (col(membership.community_id) == Meeting.community_id)
            & (col(membership.person_id) == Person.id)
            & (col(membership.status) == _ACTIVE),
        )
        .outerjoin(
            Attendance,
            (col(Attendance.meeting_id) == Meeting.id) & (col(Attendance.person_id) == Person.id),
        )
        .where(
            col(Meeting.status) == MeetingStatus.scheduled,
            col(Meeting.ends_at) > sa.bindparam("now", type_=UTCDateTime()),
            col(Meeting.starts_at) < sa.bindparam("horizon", type_=UTCDateTime()),
        )
        .scalar_subquery()
    )
    return sa.select(
        col(Person.id),
        col(Person.name),
        col(Person.language),
        sa.type_coerce(memberships, sa.JSON),
        sa.type_coerce(meetings, sa.JSON),
        sa.case((has_leader_role(), col(Person.school_id)), else_=None),  # the school they lead
    ).where(
        col(Person.programme_id) == sa.bindparam("programme"),
        col(Person.phone) == sa.bindparam("phone"),
    )


def _communities_of(person: Any, role: MembershipRole | None = None) -> Any:
    """The communities `person` (a bound parameter) is an active member of, in `role`."""
    own = sa.orm.aliased(Membership)
    where = [col(own.person_id) == person, col(own.status) == _ACTIVE]
    if role is not None:
        where.append(col(own.role) == role)
    return sa.select(col(own.community_id)).where(*where)


def _facilitation_statement(dialect: str) -> Any:
    """What a facilitator sees, in one round trip: rosters and requests, meetings, marks.

    The communities they lead are a subquery on the facilitator's id rather than an
    expanding IN list: SQLAlchemy re-renders a statement with an expanding parameter on
    every execution (6% of a hop's CPU for this one), and asyncpg can run it as is.
    """
    led = col(Meeting.community_id).in_(
        _communities_of(sa.bindparam("person"), MembershipRole.facilitator)
    )
    window = (
        sa.or_(
            col(Meeting.status) == MeetingStatus.scheduled,
            col(Meeting.status) == MeetingStatus.held,
        ),
        col(Meeting.ends_at) > sa.bindparam("since", type_=UTCDateTime()),
        col(Meeting.starts_at) < sa.bindparam("horizon", type_=UTCDateTime()),
    )
    members = (
        sa.select(
            _json(
                dialect,
                [
                    col(Membership.id),
                    col(Membership.person_id),
                    col(Membership.community_id),
                    col(Membership.status),
                    col(Person.name),
                    col(Person.phone).is_not(None),
                ],
                col(Person.name),
            )
        )
        .select_from(Membership)
        .join(Person, col(Person.id) == Membership.person_id)
        .where(
            col(Membership.community_id).in_(
                _communities_of(sa.bindparam("person"), MembershipRole.facilitator)
            ),
            sa.or_(
                col(Membership.status) == MembershipStatus.active,
                col(Membership.status) == MembershipStatus.pending,
            ),
        )
        .scalar_subquery()
    )
    meetings = (
        sa.select(_json(dialect, [*_MEETING_COLUMNS, col(Meeting.status)], col(Meeting.starts_at)))
        .where(led, *window)
        .scalar_subquery()
    )
    marks = (
        sa.select(
            _json(
                dialect,
                [
                    col(Attendance.meeting_id),
                    col(Attendance.person_id),
                    col(Attendance.rsvp),
                    col(Attendance.presence),
                ],
                col(Attendance.id),
            )
        )
        .select_from(Attendance)
        .join(Meeting, col(Meeting.id) == Attendance.meeting_id)
        .where(led, *window)
        .scalar_subquery()
    )
    return sa.select(
        sa.type_coerce(members, sa.JSON),
        sa.type_coerce(meetings, sa.JSON),
        sa.type_coerce(marks, sa.JSON),
    )


def _people_statement(dialect: str) -> Any:
    """Who belongs to the caller's communities: (community, role, name) per active member."""
    return (
        sa.select(col(Membership.community_id), col(Membership.role), col(Person.name))
        .join(Person, col(Person.id) == Membership.person_id)
        .where(
            col(Membership.community_id).in_(_communities_of(sa.bindparam("person"))),
            col(Membership.status) == _ACTIVE,
        )
    )


_BUILDERS = {
    "caller": _caller_statement,
    "facilitation": _facilitation_statement,
    "people": _people_statement,
}
_STATEMENTS: dict[tuple[str, str], Any] = {}


def _statement(dialect: str, name: str) -> Any:
    stmt = _STATEMENTS.get((name, dialect))
    if stmt is None:
        stmt = _STATEMENTS[(name, dialect)] = _BUILDERS[name](dialect)
    return stmt


def _moment(value: str) -> datetime:
    """A time from a JSON row: ISO text, with an offset from PostgreSQL, naive UTC from SQLite."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _sorted(rows: list[list[Any]] | None, dialect: str, key: int) -> list[list[Any]]:
    """JSON rows in order: PostgreSQL sorted them already; SQLite's come in any order."""
    if not rows:
        return []
    if dialect != "postgresql":
        rows.sort(key=lambda row: (row[key] is None, row[key]))
    return rows


class Reader:
    """Runs a hop's read statements by name, through SQLAlchemy on a connection.

    The statements are built once per dialect (see _BUILDERS); a hop reads plain rows.
    """

    def __init__(self, connection: AsyncConnection, session: AsyncSession | SessionFactory) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name
        self._session = session

    async def fetch(self, name: str, params: dict[str, Any]) -> Sequence[Any]:
        result = await self.connection.execute(_statement(self.dialect, name), params)
        return result.all()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """An ORM session for what the domain reads itself (a caller's surveys): the
        write's own session, or one on this reader's connection (never a second one:
        a hop holds one connection at a time, see UssdEngine's gate)."""
        if isinstance(self._session, AsyncSession):
            yield self._session
        else:
            async with self._session(bind=self.connection) as session:
                yield session


@dataclass(frozen=True)
class _Compiled:
    """A statement compiled once for asyncpg: its SQL, parameter order and constants."""

    sql: str
    names: tuple[str, ...]
    constants: dict[str, Any]

    def args(self, params: dict[str, Any]) -> list[Any]:
        return [params[n] if n in params else self.constants[n] for n in self.names]


_COMPILED: dict[str, _Compiled] = {}


class DriverReader(Reader):
    """Reads on a pooled PostgreSQL connection through asyncpg itself, outside any
    transaction (asyncpg autocommits each statement): one round trip a statement.

    Measured per menu hop: SQLAlchemy's checkout of a Connection set to AUTOCOMMIT and
    its return cost 60 us, its execution of the statement (context, result, type
    processing) four times asyncpg's own fetch. The pool's raw connection costs 20 us,
    and the driver's answer is the same rows: the JSON codec SQLAlchemy installs on each
    connection decodes the arrays, and no column needs type processing (enums are read
    by value). Should the driver fail (a connection the server dropped, say), the
    connection is invalidated and given back, and the statement asked again through
    SQLAlchemy, which translates errors and invalidates the pool on a disconnect as for
    every other statement.
    """

    def __init__(
        self, engine: AsyncEngine, raw: PoolProxiedConnection | None, sessions: SessionFactory
    ) -> None:
        self.engine = engine
        self.raw = raw
        self.dialect = engine.dialect.name
        self.sessions = sessions

    def _compiled(self, name: str) -> _Compiled:
        found = _COMPILED.get(name)
        if found is None:
            compiled = _statement(self.dialect, name).compile(dialect=self.engine.dialect)
            constants = {k: b.effective_value for k, b in compiled.binds.items() if not b.required}
            found = _COMPILED[name] = _Compiled(
                str(compiled), tuple(compiled.positiontup or ()), constants
            )
        return found

    async def fetch(self, name: str, params: dict[str, Any]) -> Sequence[Any]:
        if self.raw is not None:
            statement = self._compiled(name)
            try:
                driver: Any = self.raw.driver_connection
                rows: Sequence[Any] = await driver.fetch(statement.sql, *statement.args(params))
                return rows
            except Exception as exc:  # asked again below, through SQLAlchemy
                raw, self.raw = self.raw, None
                await greenlet_spawn(raw.invalidate, exc)
                await greenlet_spawn(raw.close)  # before taking another: the pool may be full
        async with self.engine.connect() as connection:
            return await Reader(connection, self.sessions).fetch(name, params)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        # The raw connection goes back first: a hop holds one connection at a time.
        # Later statements of this hop, if any, go through SQLAlchemy.
        await self.close()
        async with self.sessions() as session:
            yield session

    async def close(self) -> None:
        if self.raw is not None:
            raw, self.raw = self.raw, None
            await greenlet_spawn(raw.close)


async def _raw_connection(engine: AsyncEngine) -> PoolProxiedConnection:
    """A pooled connection, failing as `engine.connect()` would: with SQLAlchemy's error.

    The pool hands out the driver's own error when it cannot connect (PostgreSQL
    restarting, `too many connections`, a database not accepting connections): outside
    a Connection, SQLAlchemy does not translate it, and it is no SQLAlchemyError.
    """
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        return await engine.raw_connection()
    except dbapi_error as exc:
        raise DBAPIError.instance(None, None, exc, dbapi_error, dialect=engine.dialect) from exc


@asynccontextmanager
async def reading(engine: AsyncEngine, sessions: SessionFactory) -> AsyncIterator[Reader]:
    """A reader for one hop: asyncpg directly on PostgreSQL, SQLAlchemy elsewhere."""
    if engine.dialect.name == "postgresql":
        reader = DriverReader(engine, await _raw_connection(engine), sessions)
        try:
            yield reader
        finally:
            await reader.close()
    else:
        async with engine.connect() as connection:
            yield Reader(connection, sessions)


async def load_caller(
    reader: Reader, programme: ProgrammeInfo, phone: str, now: datetime
) -> Caller:
    """Who is calling, their communities and their coming meetings: one round trip."""
    local_now = now.astimezone(programme.timezone)
    rows = await reader.fetch(
        "caller", {"programme": programme.id, "phone": phone, "now": now, "horizon": now + HORIZON}
    )
    if not rows:
        return Caller(
            phone=phone,
            programme=programme,
            now=local_now,
            language=programme.default_language,
            communities_=(),
            meetings_=(),
        )
    person_id, name, language, membership_rows, meeting_rows, leads_school = rows[0]
    dialect = reader.dialect
    memberships = _sorted(membership_rows, dialect, 3)
    active = tuple(
        (cid, MembershipRole(role), cname)
        for cid, role, status, cname in memberships
        if status == _ACTIVE
    )
    pending = tuple(
        cname for *_, status, cname in memberships if status == MembershipStatus.pending
    )
    names = {cid: cname for cid, _, cname in active}
    zone = programme.timezone
    meetings = tuple(
        MeetingView(
            id=mid,
            code=code,
            community_id=cid,
            community=names[cid],
            starts_at=_moment(starts).astimezone(zone),
            ends_at=_moment(ends).astimezone(zone),
            modality=Modality(modality),
            venue=venue,
            rsvp=Rsvp(rsvp) if rsvp else Rsvp.none,
            presence=Presence(presence) if presence else Presence.unknown,
        )
        for mid, code, cid, starts, ends, modality, venue, rsvp, presence in _sorted(
            meeting_rows, dialect, 3
        )
    )
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
        meetings_=meetings,
        leads_school=leads_school,
    )


async def load_part(reader: Reader, caller: Caller, part: str, now: datetime) -> Caller:
    """Add one part of the context a screen asked for."""
    names = {cid: (role, cname) for cid, role, cname in caller.active}
    if part == "communities":
        facilitators: dict[int, list[str]] = defaultdict(list)
        sizes: dict[int, int] = defaultdict(int)
        rows = await reader.fetch("people", {"person": caller.person_id})
        for cid, role, pname in rows:
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
    if part == "facilitation":
        facilitation = await load_facilitation(
            reader, caller.programme, caller.person_id, names, now
        )
        return replace(caller, facilitation_=facilitation)
    if part == "surveys":
        pending = []
        claimed: Sequence[str] = ()
        if caller.person_id is not None:
            async with reader.session() as session:
                pending = await pending_for(
                    session, caller.person_id, now, session_ref=caller.session_ref
                )
                claimed = (
                    await session.exec(
                        select(UssdAction.key).where(UssdAction.session_id == caller.session_ref)
                    )
                ).all()
        return replace(caller, surveys_=tuple(pending), text_answers=text_answers(claimed))
    if part == "school":
        return await load_school(reader, caller, now)
    raise ValueError(f"unknown part of the caller's context: {part!r}")


async def load_facilitation(
    reader: Reader,
    programme: ProgrammeInfo,
    person_id: int | None,
    names: dict[int, tuple[MembershipRole, str]],
    now: datetime,
) -> Facilitation:
    """The communities `person_id` leads: rosters, join requests, meetings and marks."""
    [row] = await reader.fetch(
        "facilitation",
        {"person": person_id, "since": now - MARKING_WINDOW, "horizon": now + HORIZON},
    )
    dialect = reader.dialect
    member_rows, meeting_rows, mark_rows = row
    rosters: dict[int, list[MemberView]] = defaultdict(list)
    requests = []
    # A community the caller started to lead since their row was read waits for the next hop.
    for membership_id, pid, cid, status, pname, has_phone in _sorted(member_rows, dialect, 4):
        if cid not in names:
            continue
        if status == MembershipStatus.active:
            rosters[cid].append(MemberView(id=pid, name=pname, has_phone=bool(has_phone)))
        else:
            requests.append(
                RequestView(membership_id=membership_id, name=pname, community=names[cid][1])
            )
    marks: dict[int, dict[int, tuple[Rsvp, Presence]]] = defaultdict(dict)
    for mid, pid, rsvp, presence in mark_rows or ():
        marks[mid][pid] = (Rsvp(rsvp), Presence(presence))
    zone = programme.timezone
    views = tuple(
        MeetingView(
            id=mid,
            code=code,
            community_id=cid,
            community=names[cid][1],
            starts_at=_moment(starts).astimezone(zone),
            ends_at=_moment(ends).astimezone(zone),
            modality=Modality(modality),
            venue=venue,
            rsvp=Rsvp.none,
            presence=Presence.unknown,
            status=MeetingStatus(status),
        )
        for mid, code, cid, starts, ends, modality, venue, status in _sorted(
            meeting_rows, dialect, 3
        )
        if cid in names
    )
    return Facilitation(
        meetings=views,
        rosters={cid: tuple(v) for cid, v in rosters.items()},
        marks=dict(marks),
        requests=tuple(requests),
    )


async def load_school(reader: Reader, caller: Caller, now: datetime) -> Caller:
    """The week of the school a head teacher or deputy leads (`digests.school_week`)."""
    week = None
    if caller.leads_school is not None:
        async with reader.session() as session:
            week = await school_week(
                session,
                caller.programme.id,
                caller.programme.timezone.key,
                caller.leads_school,
                now,
            )
    return replace(caller, school_=week, school_loaded=True)
