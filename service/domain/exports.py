"""CSV exports of one programme: attendance, survey answers and messages.

Each export is an async generator of rows (header first, then one row per record)
that reads the store a page at a time, so a national programme's history goes out
in constant memory. Phone numbers, message bodies and free-text answers are people's
own data: they are written whole only when the caller may see them (`pii`), as in
the GraphQL API; otherwise phones are masked and the text left empty.

An export can be narrowed to some communities (the console gives a facilitator only
theirs) and to a window of programme-local days, as the reports are: meetings by
their start, answers by when they were given, messages by their creation; survey
answers and messages belong to a community as in the reports (by their meeting or
community, else by the person's active membership).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.errors import NotFound
from service.domain.phones import mask_phone
from service.domain.reports import belonged_at, has_seat, mark_of_member
from service.domain.sign_in import SIGN_IN
from service.domain.surveys import in_language
from service.models import (
    Answer,
    Attendance,
    Community,
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
)
from service.models.enums import MeetingStatus, MembershipStatus, QuestionKind

PAGE = 1_000
# A spreadsheet runs a cell starting with one of these as a formula. Text people typed
# (an SMS, a name given at USSD sign-up) must never reach a staff laptop as one.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ExportKind(StrEnum):
    attendance = "attendance"
    responses = "responses"
    messages = "messages"


@dataclass(frozen=True)
class TermSpan:
    id: int
    name: str
    starts: datetime  # the first day's midnight, programme time
    ends: datetime  # the midnight after the last day: exclusive

    def holds(self, moment: datetime) -> bool:
        return self.starts <= moment < self.ends


@dataclass(frozen=True)
class ExportSpec:
    """What an export covers, settled before the first row is written.

    Plain values only: the generators end their transaction after every page, which
    expires ORM objects, so nothing here may need a lazy load.
    """

    programme_id: int
    slug: str
    zone: ZoneInfo
    language: str
    pii: bool
    terms: tuple[TermSpan, ...]  # all of the programme's, to name a meeting's term
    term: TermSpan | None  # the filter, if any
    communities: tuple[int, ...] | None = None  # None: every community of the programme
    since: datetime | None = None  # the first day's midnight, programme time
    until: datetime | None = None  # the midnight after the last day: exclusive

    def within(self, moment: Any) -> list[Any]:
        """Conditions keeping `moment` inside the chosen days (none without)."""
        out = []
        if self.since is not None:
            out.append(moment >= self.since)
        if self.until is not None:
            out.append(moment < self.until)
        return out

    def members(self) -> Any:
        """People with an active membership of a chosen community."""
        assert self.communities is not None
        return sa.select(col(Membership.person_id)).where(
            col(Membership.community_id).in_(self.communities),
            col(Membership.status) == MembershipStatus.active,
        )

    def term_of(self, term_id: int | None, moment: datetime) -> str:
        # A meeting scheduled before its term was entered has no term_id: its date decides.
        for span in self.terms:
            if span.id == term_id or (term_id is None and span.holds(moment)):
                return span.name
        return ""

    def local(self, moment: datetime | None) -> str:
        return moment.astimezone(self.zone).isoformat() if moment is not None else ""

    def phone(self, phone: str | None) -> str:
        return (phone if self.pii else mask_phone(phone)) or ""

    def private(self, text: str | None) -> str:
        return cell(text) if self.pii else ""


def cell(text: str | None) -> str:
    """Free text as a spreadsheet shows it: never as a formula."""
    if not text:
        return ""
    return "'" + text if text.startswith(FORMULA_START) else text


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


async def prepare(
    session: AsyncSession,
    programme: Programme,
    *,
    term: str | None = None,
    pii: bool = False,
    communities: Collection[int] | None = None,
    since: date | None = None,
    until: date | None = None,
) -> ExportSpec:
    """The spec for `programme`; NotFound for a term it does not have. `communities`
    are taken as given: the caller has checked they are the programme's and the
    reader's; `since`/`until` are programme-local days, both included."""
    assert programme.id is not None
    zone = ZoneInfo(programme.timezone)
    stmt = select(Term).where(Term.programme_id == programme.id).order_by(col(Term.starts_on))
    spans = tuple(
        TermSpan(
            id=t.id,
            name=t.name,
            starts=_midnight(t.starts_on, zone),
            ends=_midnight(t.ends_on + timedelta(days=1), zone),
        )
        for t in (await session.exec(stmt)).all()
        if t.id is not None
    )
    chosen = None
    if term is not None:
        chosen = next((s for s in spans if s.name == term), None)
        if chosen is None:
            known = ", ".join(repr(s.name) for s in spans) or "none yet"
            raise NotFound(f"no term named {term!r} in {programme.slug} (terms: {known})")
    return ExportSpec(
        programme_id=programme.id,
        slug=programme.slug,
        zone=zone,
        language=programme.default_language.value,
        pii=pii,
        terms=spans,
        term=chosen,
        communities=None if communities is None else tuple(sorted(set(communities))),
        since=None if since is None else _midnight(since, zone),
        until=None if until is None else _midnight(until + timedelta(days=1), zone),
    )


def _after(keys: Sequence[Mapped[Any]], last: Sequence[Any]) -> sa.ColumnElement[bool]:
    """Rows strictly after `last` in the order of `keys`, spelled out column by column
    so each value is bound with its own column's type (aware datetimes included)."""
    clauses = []
    for i, key in enumerate(keys):
        equal = [k == v for k, v in zip(keys[:i], last[:i], strict=True)]
        clauses.append(sa.and_(*equal, key > last[i]))
    return sa.or_(*clauses)


async def _keyset(
    session: AsyncSession, stmt: sa.Select[*tuple[Any, ...]], keys: Sequence[Mapped[Any]]
) -> AsyncIterator[tuple[Any, ...]]:
    """`stmt`'s rows in the order of `keys` (unique together), a page at a time.

    Each page is a short read of its own, and the transaction ends before the rows are
    handed on: a slow download holds neither a pooled connection nor, on SQLite, the
    write lock that USSD callers are waiting for.
    """
    n = len(keys)
    paged = stmt.add_columns(*(k.label(f"_key{i}") for i, k in enumerate(keys)))
    paged = paged.order_by(*keys).limit(PAGE)
    last: tuple[Any, ...] | None = None
    while True:
        page = paged if last is None else paged.where(_after(keys, last))
        rows = (await session.execute(page)).all()
        # Detached, the page's objects keep their values when the transaction ends
        # (ending it would expire them), and the identity map does not grow page by page.
        session.expunge_all()
        await session.rollback()
        for row in rows:
            yield tuple(row)
        if len(rows) < PAGE:
            return
        last = tuple(rows[-1])[-n:]


def _label(texts: Mapping[str, str], language: str) -> str:
    return in_language(texts, language, "en")


ATTENDANCE_COLUMNS = [
    "term",
    "community_code",
    "community_name",
    "meeting_id",
    "meeting_code",
    "meeting_starts_at",
    "meeting_status",
    "person_id",
    "name",
    "gender",
    "roles",
    "membership_role",
    "school_code",
    "phone",
    "rsvp",
    "rsvp_reason",
    "rsvp_channel",
    "presence",
    "presence_channel",
    "counted",
]


async def attendance(session: AsyncSession, spec: ExportSpec) -> AsyncIterator[list[str]]:
    """One row per meeting and member of its community, marked or not.

    Members are those whose membership had begun and not ended when the meeting began
    (so nobody is listed for a meeting held before they joined), plus anyone with a
    mark for it: an unmarked member is a row too. `counted` says which rows are the
    attendance report's seats (a held meeting they belonged to, or came to), so its
    rates can be computed from the file alone, members' and facilitators' apart by
    `membership_role`.
    """
    yield ATTENDANCE_COLUMNS
    yes: Any = sa.literal_column("1")
    no: Any = sa.literal_column("0")
    counted = sa.case(
        (sa.and_(col(Meeting.status) == MeetingStatus.held, has_seat()), yes), else_=no
    )
    stmt = (
        sa.select(Meeting, col(Community.code), col(Community.name), Person)
        .add_columns(col(Membership.role), col(School.code), Attendance, counted)
        .join(Community, col(Community.id) == Meeting.community_id)
        .join(Membership, col(Membership.community_id) == Meeting.community_id)
        .join(Person, col(Person.id) == Membership.person_id)
        .outerjoin(School, col(School.id) == Person.school_id)
        .outerjoin(Attendance, mark_of_member())
        .where(
            col(Meeting.programme_id) == spec.programme_id,
            sa.or_(col(Attendance.id).is_not(None), belonged_at(col(Meeting.starts_at))),
        )
    )
    if spec.term is not None:
        by_dates = sa.and_(
            col(Meeting.term_id).is_(None),
            col(Meeting.starts_at) >= spec.term.starts,
            col(Meeting.starts_at) < spec.term.ends,
        )
        stmt = stmt.where(sa.or_(col(Meeting.term_id) == spec.term.id, by_dates))
    if spec.communities is not None:
        stmt = stmt.where(col(Meeting.community_id).in_(spec.communities))
    stmt = stmt.where(*spec.within(col(Meeting.starts_at)))
    keys = [col(Meeting.starts_at), col(Meeting.id), col(Person.id)]
    async for row in _keyset(session, stmt, keys):
        meeting: Meeting = row[0]
        person: Person = row[3]
        mark: Attendance | None = row[6]
        yield [
            spec.term_of(meeting.term_id, meeting.starts_at),
            row[1],
            row[2],
            str(meeting.id),
            meeting.code,
            spec.local(meeting.starts_at),
            meeting.status.value,
            str(person.id),
            cell(person.name),
            person.gender.value if person.gender else "",
            ";".join(person.roles),
            row[4].value,
            row[5] or "",
            spec.phone(person.phone),
            mark.rsvp.value if mark else "none",
            cell(mark.rsvp_reason) if mark else "",
            mark.rsvp_channel.value if mark and mark.rsvp_channel else "",
            mark.presence.value if mark else "unknown",
            mark.presence_channel.value if mark and mark.presence_channel else "",
            "yes" if row[7] else "no",
        ]


RESPONSE_COLUMNS = [
    "survey_key",
    "survey_version",
    "response_id",
    "response_status",
    "question_position",
    "question_kind",
    "question_text",
    "person_id",
    "name",
    "phone",
    "meeting_code",
    "channel",
    "value",
    "value_label",
    "answered_at",
]


async def responses(session: AsyncSession, spec: ExportSpec) -> AsyncIterator[list[str]]:
    """One row per answer, in the order each response was given, question by question.

    A term selects answers given between its first and last day.
    """
    yield RESPONSE_COLUMNS
    stmt = (
        sa.select(Answer, SurveyResponse, col(Survey.key), col(Survey.version), Question)
        .add_columns(col(Person.name), col(Person.phone), col(Meeting.code))
        .join(SurveyResponse, col(SurveyResponse.id) == Answer.response_id)
        .join(Survey, col(Survey.id) == SurveyResponse.survey_id)
        .join(Question, col(Question.id) == Answer.question_id)
        .join(Person, col(Person.id) == SurveyResponse.person_id)
        .outerjoin(Meeting, col(Meeting.id) == SurveyResponse.meeting_id)
        .where(col(Survey.programme_id) == spec.programme_id)
    )
    if spec.term is not None:
        stmt = stmt.where(
            col(Answer.answered_at) >= spec.term.starts, col(Answer.answered_at) < spec.term.ends
        )
    if spec.communities is not None:
        stmt = stmt.where(
            col(Meeting.community_id).in_(spec.communities)
            | (
                col(SurveyResponse.meeting_id).is_(None)
                & col(SurveyResponse.person_id).in_(spec.members())
            )
        )
    stmt = stmt.where(*spec.within(col(Answer.answered_at)))
    keys = [col(SurveyResponse.id), col(Question.position)]
    async for row in _keyset(session, stmt, keys):
        answer: Answer = row[0]
        response: SurveyResponse = row[1]
        question: Question = row[4]
        free_text = question.kind is QuestionKind.short_text
        # Only free text is people's own words; the other kinds are normalised values.
        value = spec.private(answer.value) if free_text else answer.value
        yield [
            row[2],
            str(row[3]),
            str(response.id),
            response.status.value,
            str(question.position),
            question.kind.value,
            _label(question.text, spec.language),
            str(response.person_id),
            cell(row[5]),
            spec.phone(row[6]),
            row[7] or "",
            answer.channel.value,
            value,
            _option(question, answer.value, spec.language),
            spec.local(answer.answered_at),
        ]


def _option(question: Question, value: str, language: str) -> str:
    if question.kind is not QuestionKind.single_choice or not value.isdigit():
        return ""
    number = int(value)
    if not 1 <= number <= len(question.options):
        return ""
    return _label(question.options[number - 1], language)


MESSAGE_COLUMNS = [
    "message_id",
    "direction",
    "kind",
    "template",
    "status",
    "person_id",
    "phone",
    "language",
    "encoding",
    "segments",
    "cost",
    "currency",
    "provider_id",
    "attempts",
    "last_error",
    "created_at",
    "sent_at",
    "delivered_at",
    "meeting_code",
    "community_code",
    "body",
]


async def messages(session: AsyncSession, spec: ExportSpec) -> AsyncIterator[list[str]]:
    """One row per SMS in or out. A term selects messages created between its first and
    last day. Bodies need `pii`, as in the API: a reply is a person's own words, and a
    facilitator's broadcast may name people too. A console sign-in code's body is left
    out for everyone."""
    yield MESSAGE_COLUMNS
    stmt = (
        sa.select(Message, col(Meeting.code), col(Community.code))
        .outerjoin(Meeting, col(Meeting.id) == Message.meeting_id)
        .outerjoin(Community, col(Community.id) == Message.community_id)
        .where(col(Message.programme_id) == spec.programme_id)
    )
    if spec.term is not None:
        stmt = stmt.where(
            col(Message.created_at) >= spec.term.starts, col(Message.created_at) < spec.term.ends
        )
    if spec.communities is not None:
        stmt = stmt.where(
            col(Message.community_id).in_(spec.communities)
            | (col(Message.community_id).is_(None) & col(Message.person_id).in_(spec.members()))
        )
    stmt = stmt.where(*spec.within(col(Message.created_at)))
    async for row in _keyset(session, stmt, [col(Message.id)]):
        m: Message = row[0]
        yield [
            str(m.id),
            m.direction.name,  # "inbound"/"outbound" reads better than the stored "in"/"out"
            m.kind,
            m.template or "",
            m.status.value,
            str(m.person_id) if m.person_id is not None else "",
            spec.phone(m.phone),
            m.language.value if m.language else "",
            m.encoding.value,
            str(m.segments),
            str(m.cost) if m.cost is not None else "",
            m.currency or "",
            m.provider_id or "",
            str(m.attempts),
            cell(m.last_error),
            spec.local(m.created_at),
            spec.local(m.sent_at),
            spec.local(m.delivered_at),
            row[1] or "",
            row[2] or "",
            # A sign-in code is a key to the console, not a record: never in a file.
            "" if m.kind == SIGN_IN else spec.private(m.body),
        ]


def file_name(spec: ExportSpec, kind: ExportKind, *extra: str) -> str:
    """`<programme>-<kind>[-<term>][-<extra>…].csv`, safe in a Content-Disposition header."""
    parts = [spec.slug, kind.value] + ([spec.term.name] if spec.term else []) + list(extra)
    # Term names are free text; a header value must stay plain ASCII with no quotes.
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(parts)).strip("-") + ".csv"


Rows = Callable[[AsyncSession, ExportSpec], AsyncIterator[list[str]]]
EXPORTS: dict[ExportKind, Rows] = {
    ExportKind.attendance: attendance,
    ExportKind.responses: responses,
    ExportKind.messages: messages,
}


async def csv_chunks(rows: AsyncIterable[Sequence[str]]) -> AsyncIterator[str]:
    """The rows as CSV text, a page's worth at a time (few, large writes to a socket
    or file rather than one per row)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    count = 0
    async for row in rows:
        writer.writerow(row)
        count += 1
        if count % PAGE == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
