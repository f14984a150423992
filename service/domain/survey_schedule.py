"""An audience survey sent at a set time: scheduled from the console or GraphQL, sent
once by the worker through `invite_now`'s path (the same responses, invitations, dedupe
keys and one reminder as a survey sent at once).

The time and the communities are kept on the survey (`send_at`, `send_to`); the worker
claims a due survey with FOR UPDATE SKIP LOCKED and stamps `sent_at` in the same
transaction as the invitations, so two workers never send it twice.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import structlog
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain import audit
from service.domain.actor import Actor
from service.domain.errors import NotFound, ValidationError
from service.domain.lookup import get_owned
from service.domain.survey_dispatch import can_invite_now, invite_now
from service.models import Community, Programme, Survey

log = structlog.get_logger(__name__)

# A survey whose time passed this long ago (e.g. workers down for a week) is not sent
# any more: its moment has gone. It is marked sent, and the audit says why.
TOO_LATE = timedelta(days=7)


def _not_for_an_audience() -> ValidationError:
    return ValidationError(
        "only an active survey meant for an audience can be sent at a set time; a "
        "meeting's survey goes to its attendees after it is held",
        field="survey",
    )


async def _owned(session: AsyncSession, programme: Programme, survey: Survey) -> None:
    assert programme.id is not None and survey.id is not None
    if survey.programme_id != programme.id:
        await get_owned(session, Survey, survey.id, programme.id)  # NotFound, as for any id


async def _check_communities(
    session: AsyncSession, programme: Programme, community_ids: Collection[int]
) -> None:
    wanted = set(community_ids)
    found = await session.execute(
        sa.select(col(Community.id)).where(
            col(Community.programme_id) == programme.id, col(Community.id).in_(sorted(wanted))
        )
    )
    missing = wanted - set(found.scalars().all())
    if missing:
        raise NotFound(f"community {min(missing)} not found", id=min(missing))


async def schedule_invitation(
    session: AsyncSession,
    programme: Programme,
    survey: Survey,
    at: datetime,
    community_ids: Collection[int] | None,
    now: datetime,
    actor: Actor,
) -> Survey:
    """Send the survey to its audience at `at`: the members of these communities (every
    community of the programme with None), as `invite_now` would then. A new time
    replaces the one set before; people invited already are not invited again."""
    await _owned(session, programme, survey)
    if not can_invite_now(survey):
        raise _not_for_an_audience()
    if at.tzinfo is None:
        raise ValidationError("the time to send needs a time zone", field="send_at")
    if at <= now:
        raise ValidationError("the time to send must be in the future", field="send_at")
    if community_ids is not None:
        await _check_communities(session, programme, community_ids)
    survey.send_at = at.astimezone(UTC)
    survey.send_to = None if community_ids is None else sorted(set(community_ids))
    survey.sent_at = None
    audit.record(
        session,
        actor,
        "survey.schedule_invitation",
        survey,
        changes={"send_at": survey.send_at, "communities": survey.send_to},
        at=now,
    )
    await session.flush()
    return survey


async def cancel_invitation(
    session: AsyncSession, programme: Programme, survey: Survey, now: datetime, actor: Actor
) -> Survey:
    """Forget the time set to send the survey, before it is sent."""
    await _owned(session, programme, survey)
    if survey.send_at is None or survey.sent_at is not None:
        raise ValidationError("this survey has no invitation waiting to be sent", field="survey")
    cancelled = survey.send_at
    survey.send_at = None
    survey.send_to = None
    audit.record(
        session, actor, "survey.cancel_invitation", survey, changes={"send_at": cancelled}, at=now
    )
    await session.flush()
    return survey


async def send_scheduled_surveys(session: AsyncSession, now: datetime) -> int:
    """The worker's job: invite the audience of every survey whose time has come, once.
    Returns how many people were invited."""
    due = (
        await session.exec(
            select(Survey)
            .where(col(Survey.send_at) <= now, col(Survey.sent_at).is_(None))
            .order_by(col(Survey.send_at), col(Survey.id))
            .with_for_update(skip_locked=True)
        )
    ).all()
    total = 0
    for survey in due:
        assert survey.send_at is not None
        survey.sent_at = now
        reason = None
        if not can_invite_now(survey):
            reason = "the survey is no longer open to an audience"
        elif survey.send_at < now - TOO_LATE:
            reason = "its time passed too long ago"
        if reason is not None:
            log.warning("survey.scheduled_invitation_skipped", survey_id=survey.id, reason=reason)
            audit.record(
                session,
                Actor.system(),
                "survey.invitation_skipped",
                survey,
                changes={"reason": reason},
                at=now,
            )
            continue
        programme = await session.get(Programme, survey.programme_id)
        assert programme is not None
        done = await invite_now(session, programme, survey, survey.send_to, now, Actor.system())
        total += done.people
    await session.flush()
    return total
