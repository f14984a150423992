"""The retention policy: message texts and free-text answers go after N months.

Each programme keeps SMS and WhatsApp texts (sent and received) and free-text survey
answers for `retention_months` (24 unless set). The worker blanks older ones hourly:
a message keeps its row, status, segments and cost (the figures count them) and loses
its body and template values; a free-text answer keeps its row (the response still
counts as answered) and loses its text; the claimed actions of old USSD dials (whose
keys hold what the caller typed) are deleted. Nothing about a person under a legal hold is
blanked while the hold lasts. Batches of `BATCH` rows, each its own
transaction, so a first run over years of history holds no lock for long.
"""

from __future__ import annotations

import calendar
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from service.models import (
    Answer,
    Message,
    Person,
    Programme,
    Question,
    Survey,
    SurveyResponse,
    UssdAction,
    UssdSession,
)
from service.models.enums import MessageStatus, QuestionKind

BATCH = 1000
DEFAULT_MONTHS = 24


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the month's last day if
    it has fewer days: 31 August less 6 months is 28 or 29 February)."""
    index = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


async def _in_batches(
    session: AsyncSession, ids: sa.Select[Any], change: sa.Update | sa.Delete
) -> int:
    """Run `change` on the rows `ids` selects, BATCH at a time, committing each batch."""
    done = 0
    while True:
        batch = [i for (i,) in (await session.execute(ids.limit(BATCH))).all()]
        if not batch:
            return done
        table = change.table
        await session.execute(
            change.where(table.c.id.in_(batch)).execution_options(synchronize_session=False)
        )
        await session.commit()
        done += len(batch)
        if len(batch) < BATCH:
            return done


async def apply_retention(session: AsyncSession, now: datetime) -> int:
    """Blank every programme's message texts and free-text answers past its retention
    period; how many rows were blanked."""
    programmes = (
        await session.execute(sa.select(col(Programme.id), col(Programme.retention_months)))
    ).all()
    blanked = 0
    # A legal hold keeps everything about the person as it is, texts included.
    held = sa.select(col(Person.id)).where(col(Person.legal_hold_at).is_not(None))
    for programme_id, months in programmes:
        cutoff = months_before(now, months or DEFAULT_MONTHS)
        old_messages = (
            sa.select(col(Message.id))
            .where(
                col(Message.programme_id) == programme_id,
                col(Message.created_at) < cutoff,
                col(Message.status).not_in([MessageStatus.queued, MessageStatus.sending]),
                # JSON keeps a Python None as the JSON text null: what has values is what
                # reads as something else.
                col(Message.body).is_not(None) | (sa.cast(col(Message.params), sa.Text) != "null"),
                col(Message.person_id).is_(None) | col(Message.person_id).not_in(held),
            )
            .order_by(col(Message.id))
        )
        blanked += await _in_batches(
            session, old_messages, sa.update(Message).values(body=None, params=sa.null())
        )
        surveys = sa.select(col(Survey.id)).where(col(Survey.programme_id) == programme_id)
        responses = sa.select(col(SurveyResponse.id)).where(
            col(SurveyResponse.survey_id).in_(surveys), col(SurveyResponse.person_id).not_in(held)
        )
        free_text = sa.select(col(Question.id)).where(
            col(Question.kind) == QuestionKind.short_text, col(Question.survey_id).in_(surveys)
        )
        old_answers = (
            sa.select(col(Answer.id))
            .where(
                col(Answer.response_id).in_(responses),
                col(Answer.question_id).in_(free_text),
                col(Answer.answered_at) < cutoff,
                col(Answer.value) != "",
            )
            .order_by(col(Answer.id))
        )
        blanked += await _in_batches(session, old_answers, sa.update(Answer).values(value=""))
        # A dial's claimed actions guard its retried hops for minutes; their keys hold
        # what the caller typed (a short free-text answer), so they go with the texts.
        dials = sa.select(col(UssdSession.session_id)).where(
            col(UssdSession.programme_id) == programme_id
        )
        old_actions = (
            sa.select(col(UssdAction.id))
            .where(col(UssdAction.session_id).in_(dials), col(UssdAction.created_at) < cutoff)
            .order_by(col(UssdAction.id))
        )
        blanked += await _in_batches(session, old_actions, sa.delete(UssdAction))
    return blanked
