"""Survey set-ups shared by the USSD and SMS survey tests."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.apikeys import create_api_key
from service.domain.attendance import record_presence
from service.domain.meetings import mark_meeting_held
from service.domain.survey_dispatch import dispatch_surveys
from service.models import Meeting, Person
from service.models.enums import Language, Presence, Scope
from tests import factories as f


async def held_meeting(session: AsyncSession, w: f.World, attendees: list[Person]) -> Meeting:
    """A meeting of the world's community that ended 2.5 hours ago, the attendees present:
    past the programme's default two-hour delay, so its survey is due."""
    held = await f.meeting(
        session,
        w.programme,
        w.community,
        starts_in=timedelta(hours=1),
        at=f.now() - timedelta(hours=5),
    )
    assert held.id is not None
    for person in attendees:
        assert person.id is not None
        await record_presence(
            w.pid, held.id, person.id, Presence.present, session=session, actor=f.OPERATOR,
            now=held.starts_at,
        )  # fmt: skip
    await mark_meeting_held(w.programme, held.id, session=session, actor=f.OPERATOR)
    return held


async def invited(session: AsyncSession, language: Language) -> tuple[f.World, Meeting]:
    """A teacher (the world's first member, speaking `language`) who attended a meeting
    held a while ago, invited to its reflection survey."""
    w = await f.world(session)
    w.members[0].language = language
    held = await held_meeting(session, w, [w.members[0]])
    assert await dispatch_surveys(session, f.now()) == 1
    await session.commit()
    return w, held


RESPONSES = """
{ surveys { key responses { status answers { position value } } } }"""


async def answers_through_graphql(
    client: httpx.AsyncClient, session: AsyncSession, w: f.World
) -> list[dict[str, object]]:
    """What a partner app reads back: the reflection survey's answers, free text included."""
    issued = await create_api_key(
        w.programme, "tests", [Scope.read, Scope.read_pii], session=session, actor=f.OPERATOR
    )
    await session.commit()
    response = await client.post(
        "/graphql",
        json={"query": RESPONSES},
        headers={"Authorization": f"Bearer {issued.secret}"},
    )
    [survey] = [s for s in response.json()["data"]["surveys"] if s["key"] == "reflection"]
    [only] = survey["responses"]
    assert only["status"] == "completed"
    return only["answers"]  # type: ignore[no-any-return]
