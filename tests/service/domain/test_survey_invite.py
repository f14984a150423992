"""Inviting a survey's audience now: active members of the given communities, narrowed
by the survey's audience, each once, by SMS through the outbox."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.communities import add_member
from service.domain.errors import NotFound, ValidationError
from service.domain.survey_dispatch import invite_now
from service.domain.surveys import QuestionSpec, SurveySpec, save_survey, set_status
from service.models import AuditEntry, Message, Person, Survey, SurveyResponse
from service.models.enums import (
    Channel,
    Country,
    Language,
    QuestionKind,
    ResponseStatus,
    Role,
    SurveyStatus,
)
from tests import factories as f

NOW = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)  # 12:00 in Nairobi: no quiet hours
ACTOR = Actor.person(999, Channel.console)


async def _survey(
    session: AsyncSession,
    world: f.World,
    *,
    key: str = "pulse",
    audience: dict[str, list[str]] | None = None,
    after_meetings: bool = False,
    status: SurveyStatus = SurveyStatus.active,
    community_id: int | None = None,
) -> Survey:
    spec = SurveySpec(
        key=key,
        title={Language.en: "Term pulse", Language.sw: "Hali ya muhula"},
        questions=[QuestionSpec(kind=QuestionKind.yes_no, text={Language.en: "All well?"})],
        audience=audience or {},
        after_meetings=after_meetings,
        community_id=community_id,
    )
    survey = await save_survey(world.programme, spec, session=session, actor=f.OPERATOR)
    assert survey.id is not None
    if status is not SurveyStatus.draft:
        survey = await set_status(
            world.programme, survey.id, status, session=session, actor=f.OPERATOR
        )
    await session.commit()
    return survey


async def _invites(session: AsyncSession) -> list[Message]:
    stmt = select(Message).where(Message.template == "survey_invite").order_by(col(Message.id))
    return list((await session.exec(stmt)).all())


async def test_the_members_are_invited_once_each(session: AsyncSession) -> None:
    world = await f.world(session)
    survey = await _survey(session, world)
    assert world.community.id is not None and survey.id is not None
    done = await invite_now(session, world.programme, survey, {world.community.id}, NOW, ACTOR)
    await session.commit()
    # The facilitator and the two members; not the outsider, who belongs to no community.
    invited = {world.facilitator.id, *(m.id for m in world.members)}
    assert done.people == 3 and done.sent.queued == 3
    messages = await _invites(session)
    assert {m.person_id for m in messages} == invited
    assert {m.dedupe_key for m in messages} == {
        f"survey_invite:{survey.id}:now:{pid}" for pid in invited
    }
    assert messages[0].params == {"survey": "Hali ya muhula", "questions": 1}  # in Kiswahili
    responses = (await session.exec(select(SurveyResponse))).all()
    assert {r.person_id for r in responses} == invited
    assert {(r.status, r.channel, r.meeting_id) for r in responses} == {
        (ResponseStatus.in_progress, Channel.sms, None)
    }
    audit = (
        await session.exec(select(AuditEntry).where(AuditEntry.action == "survey.invite_now"))
    ).one()
    assert audit.actor == "person:999"

    again = await invite_now(session, world.programme, survey, None, NOW, ACTOR)
    assert (again.people, again.sent.queued) == (0, 0)
    assert len(await _invites(session)) == 3


async def test_only_the_given_communities_and_the_surveys_audience(session: AsyncSession) -> None:
    world = await f.world(session)
    prog = world.programme
    assert prog.id is not None
    other = await f.community(session, prog, code="CLUSTER-2")
    elsewhere = await f.person(session, prog, name="Elsewhere")
    no_phone = await f.person(session, prog, name="No Phone", phone=None)
    stopped = await f.person(session, prog, name="Said Stop")
    stored = await session.get(Person, stopped.id)
    assert stored is not None
    stored.opted_out_at = NOW
    for person, comm in (
        (elsewhere, other),
        (no_phone, world.community),
        (stopped, world.community),
    ):
        assert person.id is not None and comm.id is not None
        await add_member(prog.id, comm.id, person.id, session=session, actor=f.OPERATOR)
    await session.commit()
    assert world.community.id is not None and other.id is not None

    survey = await _survey(session, world)
    mine = await invite_now(session, prog, survey, {world.community.id}, NOW, ACTOR)
    assert mine.people == 3  # not Elsewhere (another community), No Phone or Said Stop
    reached = {m.person_id for m in await _invites(session)}
    assert reached == {world.facilitator.id, *(m.id for m in world.members)}

    coaches = await _survey(session, world, key="coaches", audience={"roles": [Role.coach.value]})
    everyone = await invite_now(session, prog, coaches, None, NOW, ACTOR)
    assert everyone.people == 1  # Coach Achieng only, of every community

    theirs = await _survey(session, world, key="cluster-2", community_id=other.id)
    only_theirs = await invite_now(session, prog, theirs, None, NOW, ACTOR)
    assert only_theirs.people == 1  # Elsewhere: the survey is for CLUSTER-2
    none_of_mine = await invite_now(session, prog, theirs, {world.community.id}, NOW, ACTOR)
    assert none_of_mine.people == 0


@pytest.mark.parametrize(
    ("after_meetings", "status"),
    [(True, SurveyStatus.active), (False, SurveyStatus.draft), (False, SurveyStatus.closed)],
)
async def test_only_an_open_survey_for_an_audience_can_be_sent_now(
    session: AsyncSession, after_meetings: bool, status: SurveyStatus
) -> None:
    world = await f.world(session)
    survey = await _survey(session, world, after_meetings=after_meetings, status=status)
    with pytest.raises(ValidationError):
        await invite_now(session, world.programme, survey, None, NOW, ACTOR)
    assert await _invites(session) == []


async def test_another_programmes_survey_is_not_found(session: AsyncSession) -> None:
    world = await f.world(session)
    theirs = await f.world(
        session, slug="rw-sbi", country=Country.RW, timezone="Africa/Kigali", language=Language.rw
    )
    survey = await _survey(session, theirs)
    with pytest.raises(NotFound):
        await invite_now(session, world.programme, survey, None, NOW, ACTOR)
    assert await _invites(session) == []
