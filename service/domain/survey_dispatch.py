"""After a meeting is held its attendees get its survey by SMS; one reminder if unfinished.

Which survey: one set for that meeting, else the community's after-meeting survey,
else the programme's (the reflection survey every programme starts with). Each
attendee gets an open response (answerable by USSD too) and an invitation in their
language; people who said STOP get nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import outbox
from service.domain.surveys import ANSWER_WINDOW, REFLECTION, ensure_reflection, in_language, latest
from service.models import (
    Attendance,
    Meeting,
    Message,
    Person,
    Programme,
    Question,
    Survey,
    SurveyResponse,
)
from service.models.enums import (
    Channel,
    Language,
    MeetingStatus,
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
    questions = await _count(session, survey.id)
    by_language: dict[Language, list[outbox.Recipient]] = defaultdict(list)
    for person in attendees:
        assert person.id is not None and person.phone is not None
        session.add(
            SurveyResponse(
                survey_id=survey.id,
                person_id=person.id,
                meeting_id=meeting.id,
                channel=Channel.sms,
                started_at=now,
                updated_at=now,
            )
        )
        by_language[person.language].append(
            outbox.Recipient(person.id, person.phone, person.language)
        )
    await session.flush()
    queued = 0
    for language, recipients in by_language.items():
        result = await outbox.queue(
            session,
            programme,
            recipients,
            kind=outbox.SURVEY,
            template="survey_invite",
            params={
                "survey": _title(survey, language, programme.default_language),
                "questions": questions,
            },
            due=now,
            now=now,
            dedupe=lambda r: f"survey_invite:{survey.id}:{meeting.id}:{r.person_id}",
            meeting_id=meeting.id,
            community_id=meeting.community_id,
        )
        queued += result.queued
    return queued


async def remind_unfinished(session: AsyncSession, now: datetime) -> int:
    """One reminder to each invitation still unfinished after the programme's delay."""
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
                    col(SurveyResponse.meeting_id).is_not(None),
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
                )
            )
        total += (await outbox.queue_many(session, batches, now)).queued
    return total


async def _count(session: AsyncSession, survey_id: int) -> int:
    found = await session.execute(
        sa.select(sa.func.count()).select_from(Question).where(col(Question.survey_id) == survey_id)
    )
    return int(found.scalar() or 0)


def _reminder_key(response_id: int | None) -> Callable[[outbox.Recipient], str]:
    return lambda _: f"survey_reminder:{response_id}"
