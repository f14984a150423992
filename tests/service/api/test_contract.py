"""The contract: schema/schema.graphql is what the service serves, and the examples run."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path
from typing import Any

from graphql import parse
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.api.schema import build_schema
from service.config import Settings
from service.domain.meetings import SeriesInput, schedule_term_meetings
from service.domain.terms import TermInput, create_term
from tests import factories as f
from tests.service.api.conftest import Api, Two

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "schema" / "examples"


def test_the_committed_schema_is_the_served_schema(settings: Settings) -> None:
    served = build_schema(settings).as_str() + "\n"
    committed = (ROOT / "schema" / "schema.graphql").read_text(encoding="utf-8")
    assert committed == served, "run `copline schema export --out schema/schema.graphql`"


def test_every_example_is_one_named_operation() -> None:
    files = sorted(EXAMPLES.glob("*.graphql"))
    assert [p.stem for p in files] == [
        "communities_with_next_meeting",
        "register_webhook",
        "schedule_term",
        "term_attendance",
        "webhook_deliveries",
    ]
    for path in files:
        document = parse(path.read_text(encoding="utf-8"))
        assert len(document.definitions) == 1


async def run_example(api: Api, name: str, variables: dict[str, Any], key: str) -> dict[str, Any]:
    return await api.gql(
        (EXAMPLES / f"{name}.graphql").read_text(encoding="utf-8"), variables, key=key
    )


async def test_the_examples_run_against_a_live_programme(
    api: Api, two: Two, session: AsyncSession
) -> None:
    dashboard = await run_example(api, "communities_with_next_meeting", {}, two.admin_a)
    node = dashboard["communities"]["nodes"][0]
    assert node["nextMeeting"]["code"] == two.a.meeting.code and node["memberCount"] == 3

    today = f.now().date()
    data = TermInput(name="Next term", starts_on=today, ends_on=today + timedelta(weeks=12))
    term = await create_term(two.a.programme, data, session=session, actor=f.OPERATOR)
    await session.commit()
    term_id = ids.encode("Term", term.id)
    planned = await run_example(
        api,
        "schedule_term",
        {
            "input": {
                "communityId": ids.encode("Community", two.a.community.id),
                "termId": term_id,
                "weekday": 1,
                "localTime": "14:00",
                "count": 3,
                "closedDays": [(today + timedelta(weeks=1)).isoformat()],
            }
        },
        two.admin_a,
    )
    assert planned["scheduleTermMeetings"]["__typename"] == "MeetingsPayload"
    assert len(planned["scheduleTermMeetings"]["meetings"]) == 3

    attendance = await run_example(api, "term_attendance", {"termId": term_id}, two.admin_a)
    assert attendance["meetings"]["totalCount"] == 3
    assert all(m["attendanceSummary"]["members"] == 3 for m in attendance["meetings"]["nodes"])

    endpoint = {"url": "https://partner.example.org/copline", "events": ["meeting_scheduled"]}
    registered = await run_example(api, "register_webhook", {"input": endpoint}, two.admin_a)
    assert registered["createWebhookEndpoint"]["secret"].startswith("whsec_")
    await schedule_term_meetings(
        two.a.programme,
        SeriesInput(community_id=two.a.community.id, term_id=term.id, weekday=2,
                    local_time=time(9), count=1),
        session=session, actor=f.OPERATOR,
    )  # fmt: skip
    await session.commit()
    sent = await run_example(api, "webhook_deliveries", {"status": "pending"}, two.admin_a)
    [queued] = sent["webhookDeliveries"]
    assert queued["event"] == "meeting_scheduled" and queued["attempts"] == 0
