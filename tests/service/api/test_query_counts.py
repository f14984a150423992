"""SQL statements per request depend on the query's depth, not on how many rows it returns."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.communities import add_member
from service.models.enums import MembershipRole, Role, Scope
from tests import factories as f
from tests.service.api.conftest import Api, issue_key

DASHBOARD = """{ communities(first: 100) { totalCount nodes {
    name memberCount schools { name }
    members { role person { name phone school { name } } }
    facilitators { name }
    nextMeeting { startsAtLocal venue attendanceSummary { members rsvpYes present } }
} } }"""


async def build(session: AsyncSession, communities: int, members: int) -> str:
    programme = await f.programme(session)
    assert programme.id is not None
    schools = [await f.school(session, programme, f"S{i}") for i in range(3)]
    for c in range(communities):
        school = schools[c % 3]
        assert school.id is not None
        community = await f.community(session, programme, code=f"C{c}", school_ids=[school.id])
        assert community.id is not None
        coach = await f.person(session, programme, roles=[Role.coach])
        assert coach.id is not None
        await add_member(
            programme.id,
            community.id,
            coach.id,
            role=MembershipRole.facilitator,
            session=session,
            actor=f.OPERATOR,
        )
        for _ in range(members):
            teacher = await f.person(session, programme, school_id=school.id)
            assert teacher.id is not None
            await add_member(
                programme.id, community.id, teacher.id, session=session, actor=f.OPERATOR
            )
        await f.meeting(session, programme, community, starts_in=timedelta(days=1 + c % 5))
    await session.commit()
    return await issue_key(session, programme, Scope.read)


async def statements_for(api: Api, key: str) -> tuple[int, int]:
    api.statements.clear()
    data = await api.gql(DASHBOARD, key=key)
    auth = [s for s in api.statements if "api_key" in s or "FROM programme" in s]
    return len(api.statements) - len(auth), data["communities"]["totalCount"]


async def test_the_dashboard_costs_the_same_statements_for_5_or_50_communities(
    api: Api, session: AsyncSession, sessions: object
) -> None:
    key = await build(session, communities=5, members=4)
    small, count = await statements_for(api, key)
    assert count == 5
    from tests.databases import empty_all_tables

    await empty_all_tables(api.app.state.services.engine)
    key = await build(session, communities=50, members=4)
    large, count = await statements_for(api, key)
    assert count == 50
    assert small == large
    # The page, its count, then one IN query per relationship on the page.
    assert large <= 12, api.statements
