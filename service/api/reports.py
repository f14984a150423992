"""Report fields of the root Query: attendance, surveyResults, copHealth, messaging.

The figures come from `service.domain.reports`; this module only turns the GraphQL
filter into a scope of the key's programme and the domain's numbers into types.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TypeVar

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession
from strawberry.permission import BasePermission

from service.api import ids
from service.api.pagination import Connection, Edge, PageInfo, _cursor, _offset, page_size
from service.api.permissions import CanRead
from service.api.types.common import Info_, QuestionKind, Reach
from service.api.types.communities import CommunityNode
from service.api.types.messages import Money
from service.api.types.people import PersonNode
from service.api.types.surveys import SurveyNode
from service.api.types.ussd import FunnelStep
from service.domain import reports
from service.domain.errors import ValidationError
from service.domain.reports import Band, Breakdown
from service.models.enums import Scope

READ: list[type[BasePermission]] = [CanRead]
T = TypeVar("T")

strawberry.enum(Breakdown, name="Disaggregation", description="How to split figures by people.")
strawberry.enum(Band, name="CopBand", description="A CoP's effectiveness band (README: Reports).")


@strawberry.input(description="Which communities and dates a report covers; always one programme.")
class ReportFilter:
    district: str | None = strawberry.field(
        default=None, description="Communities spanning a school in this district."
    )
    school_id: strawberry.ID | None = strawberry.field(
        default=None, description="Communities spanning this school."
    )
    community_id: strawberry.ID | None = None
    subject: str | None = None
    term_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only the term's dates (intersected with from/to)."
    )
    from_: date | None = strawberry.field(
        default=None, name="from", description="First programme-local day, inclusive."
    )
    to: date | None = strawberry.field(
        default=None, description="Last programme-local day, inclusive."
    )
    by: Breakdown = strawberry.field(
        default=Breakdown.none, description="Split attendance by gender or role."
    )

    def to_domain(self) -> reports.ReportFilter:
        return reports.ReportFilter(
            district=self.district,
            school_id=ids.decode(self.school_id, "School") if self.school_id else None,
            community_id=ids.decode(self.community_id, "Community") if self.community_id else None,
            subject=self.subject,
            term_id=ids.decode(self.term_id, "Term") if self.term_id else None,
            since=self.from_,
            until=self.to,
            by=self.by,
        )


async def _run(info: Info_, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    return await info.context.run(work)


async def _scope(info: Info_, f: ReportFilter | None) -> reports.ReportScope:
    programme = info.context.programme
    assert programme is not None

    async def work(session: AsyncSession) -> reports.ReportScope:
        return await reports.resolve(
            session, programme, (f or ReportFilter()).to_domain(), now=info.context.now
        )

    return await _run(info, work)


def _page(
    items: Sequence[T], first: int | None, after: str | None, total: int | None = None
) -> Connection[T]:
    """A Connection over rows already computed (or a page of them starting at `after`)."""
    size, start = page_size(first), _offset(after)
    rows = items[start : start + size] if total is None else items
    total = len(items) if total is None else total
    edges = [Edge(cursor=_cursor(start + i), node=row) for i, row in enumerate(rows)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=start + len(rows) < total,
            has_previous_page=start > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=total,
    )


async def _community(info: Info_, pk: int) -> CommunityNode:
    row = await info.context.loaders.community.load(pk)
    assert row is not None
    return CommunityNode.from_row(row)


# ---------------------------------------------------------------- attendance


@strawberry.type(description="Meetings in the window by what became of them.")
class MeetingCounts:
    planned: int = strawberry.field(description="Scheduled, held and cancelled.")
    held: int
    cancelled: int
    scheduled: int
    overdue: int = strawberry.field(description="Still scheduled though their start is past.")
    held_rate: float | None = strawberry.field(
        description="held / (held + cancelled + overdue); null when nothing was due."
    )

    @classmethod
    def of(cls, m: reports.MeetingCounts) -> MeetingCounts:
        return cls(
            planned=m.planned,
            held=m.held,
            cancelled=m.cancelled,
            scheduled=m.scheduled,
            overdue=m.overdue,
            held_rate=m.held_rate,
        )


@strawberry.type(
    description="Who said they would come to held meetings, and who came: members' figures, "
    "or facilitators' where the field is `facilitators`."
)
class AttendanceFigures:
    members: int = strawberry.field(
        description="Active memberships (a teacher in two communities counts in each); "
        "facilitators are counted apart."
    )
    expected: int = strawberry.field(
        description="Seats at held meetings: each membership counts for the meetings held "
        "while it lasted (from joining to leaving), and for any it was marked present or "
        "remote at."
    )
    attended: int = strawberry.field(description="Marked present or remote, at those seats.")
    present: int
    remote: int
    rsvp_yes: int
    rsvp_no: int
    rsvp_yes_attended: int = strawberry.field(description="Said yes and came.")
    rsvp_no_attended: int = strawberry.field(description="Said no but came.")
    attendance_rate: float | None = strawberry.field(
        description="attended / expected; null with no held meeting or no member."
    )

    @classmethod
    def of(cls, f: reports.AttendanceFigures) -> AttendanceFigures:
        return cls(
            members=f.members,
            expected=f.expected,
            attended=f.attended,
            present=f.present,
            remote=f.remote,
            rsvp_yes=f.rsvp_yes,
            rsvp_no=f.rsvp_no,
            rsvp_yes_attended=f.rsvp_yes_attended,
            rsvp_no_attended=f.rsvp_no_attended,
            attendance_rate=f.rate,
        )


@strawberry.type
class CommunityAttendance:
    meetings: MeetingCounts
    figures: AttendanceFigures = strawberry.field(description="Its members, facilitators apart.")
    facilitators: AttendanceFigures = strawberry.field(
        description="Its facilitators' own attendance, not in `figures`."
    )
    community_pk: strawberry.Private[int]

    @strawberry.field
    async def community(self, info: Info_) -> CommunityNode:
        return await _community(info, self.community_pk)


@strawberry.type
class AttendanceGroup:
    group: str = strawberry.field(description="A gender (or `unknown`) or a role.")
    figures: AttendanceFigures


@strawberry.type(
    description="A member who missed each of their community's last N held meetings since "
    "they joined."
)
class MemberAtRisk:
    held_meetings: int = strawberry.field(
        description="Held meetings of the community in range since they joined (and any "
        "before that they came to)."
    )
    attended: int
    attendance_rate: float | None
    last_attended_at: datetime | None = strawberry.field(
        description="Their last attended meeting of this community, at any time."
    )
    person_pk: strawberry.Private[int]
    community_pk: strawberry.Private[int]

    @strawberry.field
    async def person(self, info: Info_) -> PersonNode:
        row = await info.context.loaders.person.load(self.person_pk)
        assert row is not None
        return PersonNode.from_row(row)

    @strawberry.field
    async def community(self, info: Info_) -> CommunityNode:
        return await _community(info, self.community_pk)


@strawberry.type
class AttendanceReport:
    meetings: MeetingCounts
    totals: AttendanceFigures = strawberry.field(description="Members, facilitators apart.")
    facilitators: AttendanceFigures = strawberry.field(
        description="Facilitators' own attendance, not in `totals`, `groups` or `atRisk`."
    )
    groups: list[AttendanceGroup] = strawberry.field(
        description="Per gender or role when the filter asks (`by`); empty otherwise. "
        "A person with several roles counts in each."
    )
    rows: strawberry.Private[list[CommunityAttendance]]
    scope: strawberry.Private[reports.ReportScope]

    @strawberry.field(description="Per community, by name.")
    def communities(
        self, first: int | None = None, after: str | None = None
    ) -> Connection[CommunityAttendance]:
        return _page(self.rows, first, after)

    @strawberry.field(
        description="Active members (not facilitators) who missed (not present, not remote) "
        "each of their community's last `missed` held meetings in range since they joined, "
        "by community and name."
    )
    async def at_risk(
        self, info: Info_, missed: int = 2, first: int | None = None, after: str | None = None
    ) -> Connection[MemberAtRisk]:
        if missed < 1:
            raise ValidationError("missed must be at least 1", field="missed")
        size, start = page_size(first), _offset(after)

        async def work(session: AsyncSession) -> reports.AtRiskPage:
            return await reports.members_at_risk(
                session, self.scope, missed=missed, offset=start, limit=size
            )

        found = await _run(info, work)
        rows = [
            MemberAtRisk(
                held_meetings=m.held,
                attended=m.attended,
                attendance_rate=m.rate,
                last_attended_at=m.last_attended_at,
                person_pk=m.person_id,
                community_pk=m.community_id,
            )
            for m in found.members
        ]
        return _page(rows, first, after, total=found.total)


# ---------------------------------------------------------------- surveys


@strawberry.type
class AnswerCount:
    value: str = strawberry.field(description='Option number "1".."n", yes/no, or 1..5.')
    label: str | None = strawberry.field(
        description="An option's text in the programme's language."
    )
    count: int
    percent: float | None = strawberry.field(description="Of those who answered the question.")


@strawberry.type
class QuestionResult:
    position: int
    kind: QuestionKind
    text: str = strawberry.field(description="In the programme's default language.")
    answered: int = strawberry.field(description="Skipped questions have no answer.")
    answers: list[AnswerCount] = strawberry.field(
        description="Choices, yes/no and ratings: every possible value, in order."
    )
    mean: float | None = strawberry.field(description="Ratings and numbers.")
    minimum: float | None
    maximum: float | None
    texts: list[str] | None = strawberry.field(
        description="Short text answers, newest 100; null without read:pii."
    )


@strawberry.type
class SurveyResults:
    survey: SurveyNode
    invited: int = strawberry.field(description="Responses started or sent: every status.")
    in_progress: int
    completed: int
    abandoned: int
    response_rate: float | None = strawberry.field(description="completed / invited.")
    questions: list[QuestionResult]


def _survey_results(r: reports.SurveyResults) -> SurveyResults:
    return SurveyResults(
        survey=SurveyNode.from_row(r.survey),
        invited=r.invited,
        in_progress=r.in_progress,
        completed=r.completed,
        abandoned=r.abandoned,
        response_rate=r.response_rate,
        questions=[
            QuestionResult(
                position=q.position,
                kind=q.kind,
                text=q.text,
                answered=q.answered,
                answers=[
                    AnswerCount(value=a.value, label=a.label, count=a.count, percent=a.percent)
                    for a in q.options
                ],
                mean=q.mean,
                minimum=q.minimum,
                maximum=q.maximum,
                texts=q.texts,
            )
            for q in r.questions
        ],
    )


# ---------------------------------------------------------------- CoP health


@strawberry.type
class CommunityHealth:
    band: Band
    rating_mean: float | None = strawberry.field(
        description="Mean of every rating answer (1-5) by its members in range."
    )
    ratings: int
    held_rate: float | None
    attendance_rate: float | None = strawberry.field(
        description="Its members' attendance rate, facilitators apart (as `attendance`)."
    )
    meetings: MeetingCounts
    community_pk: strawberry.Private[int]

    @strawberry.field
    async def community(self, info: Info_) -> CommunityNode:
        return await _community(info, self.community_pk)


@strawberry.type
class BandCounts:
    high: int
    medium: int
    low: int
    unrated: int


@strawberry.type
class CopHealthReport:
    bands: BandCounts
    rows: strawberry.Private[list[CommunityHealth]]

    @strawberry.field(description="Per community, by name.")
    def communities(
        self, first: int | None = None, after: str | None = None
    ) -> Connection[CommunityHealth]:
        return _page(self.rows, first, after)


# ---------------------------------------------------------------- messaging


def _money(amounts: dict[str, Decimal]) -> list[Money]:
    return [Money(amount=a, currency=c) for c, a in sorted(amounts.items())]


@strawberry.type
class SmsFigures:
    messages: int = strawberry.field(description="Outgoing, every status.")
    queued: int = strawberry.field(description="Queued or being sent.")
    sent: int = strawberry.field(description="Sent, delivered or unknown: left for the network.")
    delivered: int
    failed: int
    dropped: int = strawberry.field(description="Not sent on purpose: opted out, quiet hours…")
    received: int = strawberry.field(description="Incoming SMS.")
    segments: int = strawberry.field(description="Of the SMS sent.")
    cost: list[Money] = strawberry.field(description="Per currency; dropped SMS excluded.")
    recipients: int = strawberry.field(description="Distinct people sent at least one SMS.")
    cost_per_teacher: list[Money] = strawberry.field(description="cost / recipients.")


@strawberry.type
class UssdFigures:
    sessions: int
    completed: int
    abandoned: int
    failed: int
    open: int
    funnel: list[FunnelStep] = strawberry.field(
        description="By last screen, most abandoned first (as ussdFunnel)."
    )
    billed_units: int = strawberry.field(
        description="What the network bills: sessions, or 20-second slices begun (the "
        "programme's ussdBilling)."
    )
    cost: list[Money] = strawberry.field(
        description="billedUnits times the programme's current ussdPrice."
    )


@strawberry.type(description="SMS and USSD cost side by side, per teacher reached by either.")
class CostFigures:
    reached: int = strawberry.field(
        description="Distinct people sent an SMS or who dialled the USSD code."
    )
    sms: list[Money]
    ussd: list[Money]
    total: list[Money] = strawberry.field(description="sms + ussd.")
    sms_per_teacher: list[Money] = strawberry.field(description="sms / reached.")
    ussd_per_teacher: list[Money] = strawberry.field(description="ussd / reached.")
    per_teacher: list[Money] = strawberry.field(
        description="total / reached: smsPerTeacher + ussdPerTeacher."
    )


@strawberry.type(description="Outgoing and incoming messages of one channel.")
class ChannelFigures:
    channel: Reach
    messages: int
    queued: int
    sent: int
    delivered: int
    failed: int
    dropped: int
    received: int
    segments: int = strawberry.field(description="SMS segments (0 for WhatsApp).")
    cost: list[Money]
    recipients: int
    cost_per_teacher: list[Money]


@strawberry.type
class MessagingReport:
    sms: SmsFigures = strawberry.field(description="Every message, whichever channel.")
    ussd: UssdFigures
    cost: CostFigures
    channels: list[ChannelFigures] = strawberry.field(
        description="The same figures per channel: SMS and WhatsApp."
    )
    fell_back: int = strawberry.field(
        description="Messages to people on WhatsApp that went by SMS instead (each "
        "message says why)."
    )


def _channel(reach: Reach, f: reports.SmsFigures) -> ChannelFigures:
    return ChannelFigures(
        channel=reach,
        messages=f.messages,
        queued=f.queued,
        sent=f.sent,
        delivered=f.delivered,
        failed=f.failed,
        dropped=f.dropped,
        received=f.received,
        segments=f.segments,
        cost=_money(f.cost),
        recipients=f.recipients,
        cost_per_teacher=_money(f.cost_per_teacher),
    )


def _messaging(r: reports.MessagingReport) -> MessagingReport:
    s, c = r.sms, r.cost
    funnel = [
        FunnelStep(
            screen=f.screen,
            sessions=f.sessions,
            completed=f.completed,
            abandoned=f.abandoned,
            failed=f.failed,
            open=f.open,
        )
        for f in r.ussd.funnel
    ]
    return MessagingReport(
        sms=SmsFigures(
            messages=s.messages,
            queued=s.queued,
            sent=s.sent,
            delivered=s.delivered,
            failed=s.failed,
            dropped=s.dropped,
            received=s.received,
            segments=s.segments,
            cost=_money(s.cost),
            recipients=s.recipients,
            cost_per_teacher=_money(s.cost_per_teacher),
        ),
        ussd=UssdFigures(
            sessions=sum(f.sessions for f in funnel),
            completed=r.ussd.total("completed"),
            abandoned=r.ussd.total("abandoned"),
            failed=r.ussd.total("failed"),
            open=r.ussd.total("open"),
            funnel=funnel,
            billed_units=r.ussd.billed.units,
            cost=_money(r.ussd.billed.cost),
        ),
        cost=CostFigures(
            reached=c.reached,
            sms=_money(c.sms),
            ussd=_money(c.ussd),
            total=_money(c.total),
            sms_per_teacher=_money(c.sms_per_teacher),
            ussd_per_teacher=_money(c.ussd_per_teacher),
            per_teacher=_money(c.per_teacher),
        ),
        channels=[_channel(reach, figures) for reach, figures in r.channels.items()],
        fell_back=r.fell_back,
    )


# ---------------------------------------------------------------- the root fields


@strawberry.type
class ReportQueries:
    @strawberry.field(
        permission_classes=READ,
        description="Meetings planned, held and cancelled; RSVPs against presence; "
        "attendance rates per community and per gender or role; members at risk.",
    )
    async def attendance(self, info: Info_, filter: ReportFilter | None = None) -> AttendanceReport:
        scope = await _scope(info, filter)

        async def work(session: AsyncSession) -> reports.AttendanceReport:
            return await reports.attendance(session, scope)

        r = await _run(info, work)
        return AttendanceReport(
            meetings=MeetingCounts.of(r.meetings),
            totals=AttendanceFigures.of(r.totals),
            facilitators=AttendanceFigures.of(r.facilitators),
            groups=[
                AttendanceGroup(group=g.group, figures=AttendanceFigures.of(g.figures))
                for g in r.groups
            ],
            rows=[
                CommunityAttendance(
                    meetings=MeetingCounts.of(c.meetings),
                    figures=AttendanceFigures.of(c.figures),
                    facilitators=AttendanceFigures.of(c.facilitators),
                    community_pk=c.community_id,
                )
                for c in r.communities
            ],
            scope=scope,
        )

    @strawberry.field(
        permission_classes=READ,
        description="Answers per question of a survey (its latest version unless given), "
        "with the response rate. Free text needs read:pii. Null for an unknown survey.",
    )
    async def survey_results(
        self,
        info: Info_,
        survey_key: str,
        version: int | None = None,
        filter: ReportFilter | None = None,
    ) -> SurveyResults | None:
        scope = await _scope(info, filter)
        programme = info.context.programme
        assert programme is not None

        async def work(session: AsyncSession) -> reports.SurveyResults | None:
            return await reports.survey_results(
                session,
                scope,
                survey_key,
                version,
                language=programme.default_language.value,
                with_texts=info.context.has(Scope.read_pii),
            )

        r = await _run(info, work)
        return _survey_results(r) if r else None

    @strawberry.field(
        permission_classes=READ,
        description="Per community: rating mean, held-meeting rate, attendance rate and "
        "an effectiveness band (HIGH, MEDIUM, LOW, UNRATED).",
    )
    async def cop_health(self, info: Info_, filter: ReportFilter | None = None) -> CopHealthReport:
        scope = await _scope(info, filter)

        async def work(session: AsyncSession) -> list[reports.CommunityHealth]:
            return await reports.cop_health(session, scope)

        rows = [
            CommunityHealth(
                band=h.band,
                rating_mean=h.rating_mean,
                ratings=h.ratings,
                held_rate=h.held_rate,
                attendance_rate=h.attendance_rate,
                meetings=MeetingCounts.of(h.meetings),
                community_pk=h.community_id,
            )
            for h in await _run(info, work)
        ]
        bands = {b: sum(1 for r in rows if r.band is b) for b in Band}
        return CopHealthReport(
            bands=BandCounts(
                high=bands[Band.HIGH],
                medium=bands[Band.MEDIUM],
                low=bands[Band.LOW],
                unrated=bands[Band.UNRATED],
            ),
            rows=rows,
        )

    @strawberry.field(
        permission_classes=READ,
        description="SMS sent, delivered, failed and dropped with segments and cost (per "
        "currency and per teacher reached), and USSD sessions with their drop-off.",
    )
    async def messaging(self, info: Info_, filter: ReportFilter | None = None) -> MessagingReport:
        scope = await _scope(info, filter)

        async def work(session: AsyncSession) -> reports.MessagingReport:
            return await reports.messaging(session, scope)

        return _messaging(await _run(info, work))
