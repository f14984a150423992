"""An audience survey sent at a set time: not before it, once at it (however many
worker runs), to everyone in the audience in their language; one reminder to those
who have not finished; the response rate counts everyone invited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import ColumnElement
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import SessionFactory
from service.domain import reports
from service.domain.actor import Actor
from service.domain.errors import NotFound, ValidationError
from service.domain.reports import ReportFilter
from service.domain.survey_dispatch import remind_unfinished
from service.domain.survey_schedule import (
    cancel_invitation,
    schedule_invitation,
    send_scheduled_surveys,
)
from service.domain.surveys import (
    QuestionSpec,
    SurveySpec,
    open_response,
    record_answer,
    save_survey,
    set_status,
)
from service.models import AuditEntry, Message, Person, Survey, SurveyResponse
from service.models.enums import Channel, Language, QuestionKind, ResponseStatus, SurveyStatus
from service.worker import DEFAULT_JOBS, Worker
from tests import factories as f

NOW = datetime(2025, 3, 4, 6, 0, tzinfo=UTC)  # 09:00 in Nairobi: no quiet hours
AT = NOW + timedelta(hours=3)
ACTOR = Actor.person(999, Channel.console)
TITLES = {lang: f"Pulse {lang.value}" for lang in Language}


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


async def _survey(
    session: AsyncSession,
    world: f.World,
    *,
    key: str = "pulse",
    after_meetings: bool = False,
    status: SurveyStatus = SurveyStatus.active,
) -> Survey:
    spec = SurveySpec(
        key=key,
        title=dict(TITLES),
        questions=[
            QuestionSpec(kind=QuestionKind.yes_no, text={Language.en: "All well?"}),
            QuestionSpec(kind=QuestionKind.rating, text={Language.en: "How useful?"}),
        ],
        after_meetings=after_meetings,
    )
    survey = await save_survey(world.programme, spec, session=session, actor=f.OPERATOR)
    assert survey.id is not None
    if status is not SurveyStatus.draft:
        survey = await set_status(
            world.programme, survey.id, status, session=session, actor=f.OPERATOR
        )
    await session.commit()
    return survey


async def _count(sessions: SessionFactory, model: type, *where: object) -> int:
    async with sessions() as fresh:
        stmt = select(func.count()).select_from(model).where(*where)  # type: ignore[arg-type]
        return int((await fresh.exec(stmt)).one())


def _invites(survey_id: int | None) -> ColumnElement[bool]:
    return col(Message.dedupe_key).like(f"survey_invite:{survey_id}:now:%")


def _reminders() -> ColumnElement[bool]:
    return col(Message.dedupe_key).like("survey_reminder:%")


async def _run_worker(sessions: SessionFactory, at: datetime) -> None:
    """The worker's own job, as `copline worker` runs it."""
    job = next(j for j in DEFAULT_JOBS if j.name == "send_scheduled_surveys")
    await Worker(sessions, [job], clock=Clock(at)).run_job(job)


async def test_a_scheduled_survey_is_not_sent_before_its_time_and_once_at_it(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    world = await f.world(session)
    survey = await _survey(session, world)
    await schedule_invitation(session, world.programme, survey, AT, None, NOW, ACTOR)
    await session.commit()

    await _run_worker(sessions, AT - timedelta(minutes=1))
    assert await _count(sessions, Message, _invites(survey.id)) == 0
    assert await _count(sessions, SurveyResponse) == 0

    await _run_worker(sessions, AT)
    await _run_worker(sessions, AT + timedelta(minutes=1))
    # The facilitator and the two members; not the outsider, who belongs to no community.
    audience = {world.facilitator.id, *(m.id for m in world.members)}
    async with sessions() as fresh:
        sent = (await fresh.exec(select(Message).where(_invites(survey.id)))).all()
        responses = (await fresh.exec(select(SurveyResponse))).all()
        stored = await fresh.get(Survey, survey.id)
    assert len(sent) == 3 and {m.person_id for m in sent} == audience  # once each
    assert {r.person_id for r in responses} == audience and len(responses) == 3
    assert {r.status for r in responses} == {ResponseStatus.in_progress}
    assert stored is not None and stored.sent_at == AT and stored.send_at == AT
    audits = await _count(sessions, AuditEntry, col(AuditEntry.action) == "survey.invite_now")
    assert audits == 1


@pytest.mark.parametrize("language", list(Language))
async def test_each_person_of_the_audience_is_invited_in_their_language(
    session: AsyncSession, sessions: SessionFactory, language: Language
) -> None:
    world = await f.world(session)
    for member in world.members:
        stored = await session.get(Person, member.id)
        assert stored is not None
        stored.language = language
    await session.commit()
    survey = await _survey(session, world)
    await schedule_invitation(session, world.programme, survey, AT, None, NOW, ACTOR)
    await session.commit()
    await _run_worker(sessions, AT)
    async with sessions() as fresh:
        stmt = select(Message).where(
            _invites(survey.id), col(Message.person_id).in_([m.id for m in world.members])
        )
        sent = (await fresh.exec(stmt)).all()
    assert len(sent) == 2
    for message in sent:
        assert message.language is language
        assert message.params == {"survey": TITLES[language], "questions": 2}


async def test_only_the_communities_given_when_scheduled(session: AsyncSession) -> None:
    world = await f.world(session)
    prog = world.programme
    other = await f.community(session, prog, code="CLUSTER-2")
    elsewhere = await f.person(session, prog, name="Elsewhere")
    from service.domain.communities import add_member

    assert prog.id is not None and other.id is not None and elsewhere.id is not None
    await add_member(prog.id, other.id, elsewhere.id, session=session, actor=f.OPERATOR)
    survey = await _survey(session, world)
    await schedule_invitation(session, prog, survey, AT, {other.id}, NOW, ACTOR)
    await session.commit()
    assert await send_scheduled_surveys(session, AT) == 1
    await session.commit()
    reached = (await session.exec(select(Message.person_id).where(_invites(survey.id)))).all()
    assert list(reached) == [elsewhere.id]


async def test_a_new_time_replaces_the_old_and_a_cancelled_one_is_never_sent(
    session: AsyncSession,
) -> None:
    world = await f.world(session)
    survey = await _survey(session, world)
    await schedule_invitation(session, world.programme, survey, AT, None, NOW, ACTOR)
    later = AT + timedelta(days=1)
    await schedule_invitation(session, world.programme, survey, later, None, NOW, ACTOR)
    await session.commit()
    assert await send_scheduled_surveys(session, AT) == 0
    await cancel_invitation(session, world.programme, survey, NOW, ACTOR)
    await session.commit()
    assert await send_scheduled_surveys(session, later) == 0
    assert (await session.exec(select(func.count()).select_from(Message))).one() == 0
    actions = (
        await session.exec(
            select(AuditEntry.action).where(col(AuditEntry.action).like("survey.%invitation"))
        )
    ).all()
    assert sorted(actions) == [
        "survey.cancel_invitation",
        "survey.schedule_invitation",
        "survey.schedule_invitation",
    ]
    with pytest.raises(ValidationError):  # nothing is waiting any more
        await cancel_invitation(session, world.programme, survey, NOW, ACTOR)


async def test_a_survey_closed_before_its_time_is_not_sent(session: AsyncSession) -> None:
    world = await f.world(session)
    survey = await _survey(session, world)
    await schedule_invitation(session, world.programme, survey, AT, None, NOW, ACTOR)
    assert survey.id is not None
    await set_status(
        world.programme, survey.id, SurveyStatus.closed, session=session, actor=f.OPERATOR
    )
    await session.commit()
    assert await send_scheduled_surveys(session, AT) == 0
    await session.commit()
    assert (await session.exec(select(func.count()).select_from(Message))).one() == 0
    skipped = select(AuditEntry).where(AuditEntry.action == "survey.invitation_skipped")
    assert len((await session.exec(skipped)).all()) == 1
    assert await send_scheduled_surveys(session, AT + timedelta(hours=1)) == 0
    assert len((await session.exec(skipped)).all()) == 1  # marked: never looked at again


@pytest.mark.parametrize(
    ("case", "when"),
    [
        ("past time", NOW - timedelta(minutes=1)),
        ("this very moment", NOW),
        ("meeting survey", AT),
        ("draft survey", AT),
        ("closed survey", AT),
        ("no time zone", AT.replace(tzinfo=None)),
    ],
)
async def test_a_time_that_cannot_be_kept_is_refused_and_nothing_is_stored(
    session: AsyncSession, case: str, when: datetime
) -> None:
    world = await f.world(session)
    status = {"draft survey": SurveyStatus.draft, "closed survey": SurveyStatus.closed}
    survey = await _survey(
        session,
        world,
        after_meetings=case == "meeting survey",
        status=status.get(case, SurveyStatus.active),
    )
    with pytest.raises(ValidationError) as refused:
        await schedule_invitation(session, world.programme, survey, when, None, NOW, ACTOR)
    expected = "survey" if case.endswith("survey") else "send_at"
    assert refused.value.field == expected
    await session.rollback()
    stored = await session.get(Survey, survey.id)
    assert stored is not None and stored.send_at is None
    assert await send_scheduled_surveys(session, AT + timedelta(days=2)) == 0


async def test_another_programmes_survey_or_community_is_not_found(
    session: AsyncSession,
) -> None:
    world = await f.world(session)
    theirs = await f.world(session, slug="rw-sbi", language=Language.rw)
    survey = await _survey(session, theirs)
    with pytest.raises(NotFound):
        await schedule_invitation(session, world.programme, survey, AT, None, NOW, ACTOR)
    ours = await _survey(session, world, key="ours")
    assert theirs.community.id is not None
    with pytest.raises(NotFound):
        await schedule_invitation(
            session, world.programme, ours, AT, {theirs.community.id}, NOW, ACTOR
        )


async def test_one_reminder_to_those_unfinished_and_the_rate_counts_everyone_invited(
    session: AsyncSession, sessions: SessionFactory
) -> None:
    world = await f.world(session)
    survey = await _survey(session, world)
    assert survey.id is not None
    # Someone outside any community opens the survey on their own: never reminded.
    assert world.outsider.id is not None
    await open_response(session, survey.id, world.outsider.id, Channel.ussd, AT)
    await schedule_invitation(session, world.programme, survey, AT, None, NOW, ACTOR)
    await session.commit()
    await _run_worker(sessions, AT)

    finisher, silent = world.members
    async with sessions() as fresh:
        assert finisher.id is not None
        response = await open_response(fresh, survey.id, finisher.id, Channel.sms, AT)
        for position, value in ((1, "yes"), (2, "4")):
            await record_answer(fresh, response, position, value, channel=Channel.sms, now=AT)
        await fresh.commit()

    hours = world.programme.survey_reminder_hours
    assert hours is not None
    async with sessions() as fresh:
        assert await remind_unfinished(fresh, AT + timedelta(hours=hours - 1)) == 0  # too soon
        await fresh.commit()
    for later in (hours, hours + 1, hours + 5):
        async with sessions() as fresh:
            await remind_unfinished(fresh, AT + timedelta(hours=later))
            await fresh.commit()
    async with sessions() as fresh:
        reminded = (await fresh.exec(select(Message.person_id).where(_reminders()))).all()
    # The facilitator and the silent member: not the finisher, not the outsider; once each.
    assert sorted(p or 0 for p in reminded) == sorted([world.facilitator.id or 0, silent.id or 0])

    async with sessions() as fresh:
        scope = await reports.resolve(fresh, world.programme, ReportFilter(), now=AT)
        results = await reports.survey_results(
            fresh, scope, "pulse", language="en", with_texts=False
        )
        by_survey = await reports.responses_by_survey(fresh, scope)
    assert results is not None
    # Invited: the three it was sent to, and the outsider who opened it; one completed.
    assert (results.invited, results.completed) == (4, 1)
    assert results.response_rate == pytest.approx(1 / 4)
    assert by_survey[survey.id].invited == 4 and by_survey[survey.id].completed == 1


async def test_two_workers_at_once_send_it_once(sessions: SessionFactory) -> None:
    async with sessions() as setup:
        if setup.bind is not None and setup.bind.dialect.name == "sqlite":
            pytest.skip("SQLite has one writer; several workers need PostgreSQL")
        world = await f.world(setup)
        survey = await _survey(setup, world)
        await schedule_invitation(setup, world.programme, survey, AT, None, NOW, ACTOR)
        await setup.commit()
    async with sessions() as first, sessions() as second:
        assert await send_scheduled_surveys(first, AT) == 3  # holds the survey's row
        assert await send_scheduled_surveys(second, AT) == 0  # skips the locked row
        await first.commit()
        await second.commit()
    async with sessions() as third:
        assert await send_scheduled_surveys(third, AT) == 0
    assert await _count(sessions, Message, _invites(survey.id)) == 3
