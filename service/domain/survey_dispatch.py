"""After a meeting is held its attendees get its survey by SMS; one reminder if unfinished.

Which survey: one set for that meeting, else the community's after-meeting survey,
else the programme's (the reflection survey every programme starts with). Each
attendee gets an open response (answerable by USSD too) and an invitation in their
language; people who said STOP get nothing.

A survey meant for an audience (not for a meeting's attendees) can be sent to that
audience at once as well: `invite_now`, from the console and GraphQL (or at a set time:
`service.domain.survey_schedule`). Those invited get the same one reminder.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit, outbox
from service.domain.actor import Actor
from service.domain.errors import ValidationError
from service.domain.lookup import get_owned
from service.domain.surveys import ANSWER_WINDOW, REFLECTION, ensure_reflection, in_language, latest
from service.models import (
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
)
from service.models.enums import (
    Channel,
    Language,
    MeetingStatus,
    MembershipStatus,
    Presence,
    ResponseStatus,
    SurveyStatus,
)

# Meetings held longer ago than this are not surveyed any more (e.g. after an outage).
TOO_LATE = timedelta(days=7)


async def survey_for(session: AsyncSession, programme: Programme, meeting: Meeting) -> Survey:
    assert programme.id is not None
    candidates = (
        await session.exec(
            select(Survey)
            .where(Survey.programme_id == programme.id, Survey.status == SurveyStatus.active)
            .order_by(col(Survey.created_at).desc())
        )
    ).all()

    def after_meetings(s: Survey) -> bool:
        return bool((s.audience or {}).get("after_meetings"))

    for found in (
        next((s for s in candidates if s.meeting_id == meeting.id), None),
        next(
            (s for s in candidates if s.community_id == meeting.community_id and after_meetings(s)),
            None,
        ),
        next(
            (
                s
                for s in candidates
                if s.community_id is None and s.meeting_id is None and after_meetings(s)
            ),
            None,
        ),
    ):
        if found is not None:
            return found
    current = await latest(session, programme.id, REFLECTION)
    return current if current is not None else await ensure_reflection(session, programme)


def _title(survey: Survey, language: Language, fallback: Language) -> str:
    return in_language(survey.title or {}, language, fallback) or survey.key


async def dispatch_surveys(session: AsyncSession, now: datetime) -> int:
    """Invite the attendees of every meeting held long enough ago; returns invitations."""
    total = 0
    for programme in (await session.exec(select(Programme))).all():
        delay = timedelta(minutes=programme.survey_delay_minutes)
        meetings = (
            await session.exec(
                select(Meeting)
                .where(
                    Meeting.programme_id == programme.id,
                    Meeting.status == MeetingStatus.held,
                    col(Meeting.surveyed_at).is_(None),
                    col(Meeting.ends_at) <= now - delay,
                    col(Meeting.ends_at) > now - TOO_LATE,
                )
                .with_for_update(skip_locked=True)
            )
        ).all()
        for meeting in meetings:
            total += await invite_attendees(session, programme, meeting, now)
    await session.flush()
    return total


async def invite_attendees(
    session: AsyncSession, programme: Programme, meeting: Meeting, now: datetime
) -> int:
    """Open a response for each attendee and invite them by SMS; marks the meeting surveyed."""
    survey = await survey_for(session, programme, meeting)
    assert survey.id is not None and meeting.id is not None
    meeting.surveyed_at = now
    attendees = (
        await session.exec(
            select(Person)
            .join(Attendance, col(Attendance.person_id) == col(Person.id))
            .where(
                Attendance.meeting_id == meeting.id,
                col(Attendance.presence).in_([Presence.present, Presence.remote]),
                col(Person.phone).is_not(None),
                col(Person.opted_out_at).is_(None),
            )
            .order_by(col(Person.id))
        )
    ).all()
    sent = await _open_and_invite(
        session,
        programme,
        survey,
        attendees,
        now,
        meeting_id=meeting.id,
        community_id=meeting.community_id,
        dedupe=lambda r: f"survey_invite:{survey.id}:{meeting.id}:{r.person_id}",
    )
    return sent.queued


async def _open_and_invite(
    session: AsyncSession,
    programme: Programme,
    survey: Survey,
    people: Sequence[Person],
    now: datetime,
    *,
    meeting_id: int | None,
    community_id: int | None,
    dedupe: Callable[[outbox.Recipient], str],
) -> outbox.Queued:
    """An open response for each person (answerable by SMS and USSD) and the invitation
    in their language, one outbox batch per language."""
    assert survey.id is not None
    questions = await _count(session, survey.id)
    by_language: dict[Language, list[outbox.Recipient]] = defaultdict(list)
    for person in people:
        assert person.id is not None and person.phone is not None
        session.add(
            SurveyResponse(
                survey_id=survey.id,
                person_id=person.id,
                meeting_id=meeting_id,
                channel=Channel.sms,
                started_at=now,
                updated_at=now,
            )
        )
        by_language[person.language].append(
            outbox.Recipient(person.id, person.phone, person.language)
        )
    await session.flush()
    batches = [
        outbox.Batch(
            programme=programme,
            recipients=recipients,
            kind=outbox.SURVEY,
            template="survey_invite",
            params={
                "survey": _title(survey, language, programme.default_language),
                "questions": questions,
            },
            due=now,
            dedupe=dedupe,
            meeting_id=meeting_id,
            community_id=community_id,
        )
        for language, recipients in sorted(by_language.items())
    ]
    return await outbox.queue_many(session, batches, now)


async def remind_unfinished(session: AsyncSession, now: datetime) -> int:
    """One reminder to each invitation still unfinished after the programme's delay: a
    meeting's attendees, and an audience invited by SMS (now or at a set time). Someone
    who opened an audience survey on their own, never invited, is not reminded."""
    total = 0
    for programme in (await session.exec(select(Programme))).all():
        if not programme.survey_reminder_hours:
            continue
        after = timedelta(hours=programme.survey_reminder_hours)
        reminded = sa.select(col(Message.dedupe_key)).where(
            col(Message.kind) == outbox.SURVEY, col(Message.dedupe_key).like("survey_reminder:%")
        )
        rows = (
            await session.exec(
                select(SurveyResponse, Person, Survey)
                .join(Person, col(Person.id) == col(SurveyResponse.person_id))
                .join(Survey, col(Survey.id) == col(SurveyResponse.survey_id))
                .where(
                    Survey.programme_id == programme.id,
                    SurveyResponse.status == ResponseStatus.in_progress,
                    col(SurveyResponse.meeting_id).is_not(None) | _invited_to_audience(),
                    col(SurveyResponse.started_at) <= now - after,
                    col(SurveyResponse.updated_at) > now - ANSWER_WINDOW,
                    col(Person.phone).is_not(None),
                    col(Person.opted_out_at).is_(None),
                    (
                        sa.literal("survey_reminder:") + sa.cast(col(SurveyResponse.id), sa.String)
                    ).not_in(reminded),
                )
            )
        ).all()
        counts: dict[int, int] = {}  # questions per survey, asked once
        batches = []
        for response, person, survey in rows:
            assert person.id is not None and person.phone is not None and survey.id is not None
            if survey.id not in counts:
                counts[survey.id] = await _count(session, survey.id)
            batches.append(
                outbox.Batch(
                    programme=programme,
                    recipients=[outbox.Recipient(person.id, person.phone, person.language)],
                    kind=outbox.SURVEY,
                    template="survey_invite",
                    params={
                        "survey": _title(survey, person.language, programme.default_language),
                        "questions": counts[survey.id],
                    },
                    due=now,
                    dedupe=_reminder_key(response.id),
                    meeting_id=response.meeting_id,
                    community_id=None if response.meeting_id else survey.community_id,
                )
            )
        total += (await outbox.queue_many(session, batches, now)).queued
    return total


async def _count(session: AsyncSession, survey_id: int) -> int:
    found = await session.execute(
        sa.select(sa.func.count()).select_from(Question).where(col(Question.survey_id) == survey_id)
    )
    return int(found.scalar() or 0)


def audience_key(survey_id: int | None, person_id: int) -> str:
    """The dedupe key of a person's invitation to an audience survey: one per survey and
    person, however often (and whenever) its audience is invited."""
    return f"survey_invite:{survey_id}:now:{person_id}"


def _invited_to_audience() -> Any:
    """A response's person got the audience invitation (`audience_key`, in SQL): an
    equality on the outbox's unique dedupe key, so one index probe per response."""
    key = (
        sa.literal("survey_invite:")
        + sa.cast(col(SurveyResponse.survey_id), sa.String)
        + sa.literal(":now:")
        + sa.cast(col(SurveyResponse.person_id), sa.String)
    )
    return sa.exists().where(col(Message.dedupe_key) == key)


def _reminder_key(response_id: int | None) -> Callable[[outbox.Recipient], str]:
    return lambda _: f"survey_reminder:{response_id}"


@dataclass(frozen=True)
class Invited:
    """What `invite_now` did: people newly invited, and what became of their SMS."""

    people: int
    sent: outbox.Queued


def can_invite_now(survey: Survey) -> bool:
    """An active survey meant for an audience; one for a meeting's attendees is sent
    after the meeting by `dispatch_surveys`."""
    return (
        survey.status is SurveyStatus.active
        and survey.meeting_id is None
        and not (survey.audience or {}).get("after_meetings")
    )


async def invite_now(
    session: AsyncSession,
    programme: Programme,
    survey: Survey,
    community_ids: Collection[int] | None,
    now: datetime,
    actor: Actor,
) -> Invited:
    """Invite the survey's audience by SMS now: the active members of these communities
    (every community of the programme with None; only the survey's own if it names
    one), narrowed by the survey's audience (roles, schools, districts), with a phone
    and not opted out, who have not been invited to this survey yet.

    Each gets an open response (answerable by SMS and USSD) and the invitation in their
    language, as after a meeting; one dedupe key per survey and person, so sending
    again (a double click, a second officer) reaches only people not invited yet.
    """
    assert programme.id is not None and survey.id is not None
    if survey.programme_id != programme.id:
        await get_owned(session, Survey, survey.id, programme.id)  # NotFound, as for any id
    if not can_invite_now(survey):
        raise ValidationError(
            "only an active survey meant for an audience can be sent now; a meeting's "
            "survey goes to its attendees after it is held",
            field="survey",
        )
    members = (
        sa.select(col(Membership.person_id))
        .join(Community, col(Community.id) == col(Membership.community_id))
        .where(
            col(Community.programme_id) == programme.id,
            col(Membership.status) == MembershipStatus.active,
        )
    )
    if community_ids is not None:
        members = members.where(col(Membership.community_id).in_(sorted(community_ids)))
    if survey.community_id is not None:
        members = members.where(col(Membership.community_id) == survey.community_id)
    invited = sa.select(col(SurveyResponse.person_id)).where(
        col(SurveyResponse.survey_id) == survey.id
    )
    stmt = select(Person).where(
        col(Person.programme_id) == programme.id,
        col(Person.id).in_(members),
        col(Person.id).not_in(invited),
        col(Person.phone).is_not(None),
        col(Person.opted_out_at).is_(None),
        *_audience(survey, programme.id),
    )
    people = (await session.exec(stmt.order_by(col(Person.id)))).all()
    sent = await _open_and_invite(
        session,
        programme,
        survey,
        people,
        now,
        meeting_id=None,
        community_id=survey.community_id,
        dedupe=lambda r: audience_key(survey.id, r.person_id),
    )
    audit.record(
        session,
        actor,
        "survey.invite_now",
        survey,
        changes={
            "invited": len(people),
            "communities": None if community_ids is None else sorted(community_ids),
        },
        at=now,
    )
    await session.flush()
    return Invited(len(people), sent)


def _audience(survey: Survey, programme_id: int) -> list[Any]:
    """Conditions on Person for the survey's audience: roles, schools, districts."""
    audience = survey.audience or {}
    conditions: list[Any] = []
    if roles := audience.get("roles"):
        # Roles are a short JSON list of words: a quoted match is exact on both engines.
        text = sa.cast(col(Person.roles), sa.Text)
        conditions.append(
            sa.or_(*(text.like(f'%"{_escaped(str(r))}"%', escape="\\") for r in roles))
        )
    if schools := audience.get("school_ids"):
        ids = [int(s) for s in schools if str(s).isdigit()]
        conditions.append(col(Person.school_id).in_(ids))
    if districts := audience.get("districts"):
        conditions.append(
            col(Person.school_id).in_(
                sa.select(col(School.id)).where(
                    col(School.programme_id) == programme_id,
                    col(School.district).in_(list(districts)),
                )
            )
        )
    return conditions


def _escaped(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
