"""Partner apps send SMS (scope sms:send) and read what it reached and cost."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.models import Message
from service.models.enums import Direction, MessageStatus, Scope
from tests import factories as f
from tests.service.api.conftest import Api, Two, issue_key

SEND_REMINDER = """
mutation($id: ID!) {
  sendReminder(meetingId: $id) {
    __typename
    ... on QueuedPayload { queued dropped sendAfter }
    ... on Error { code message }
    ... on RemindedRecently { remindedAt }
  }
}"""

BROADCAST = """
mutation($input: BroadcastInput!) {
  broadcast(input: $input) {
    __typename
    ... on QueuedPayload { queued dropped }
    ... on Error { code message }
  }
}"""

SUMMARY = """
query($meeting: ID, $community: ID) {
  deliverySummary(filter: {meetingId: $meeting, communityId: $community}) {
    messages queued sent delivered failed dropped segments cost { amount currency }
  }
}"""


def gid(type_name: str, pk: int | None) -> str:
    return ids.encode(type_name, pk)


def no_quiet_hours(w: f.World) -> None:
    w.programme.quiet_hours_start = w.programme.quiet_hours_end = time(0)


async def test_send_reminder_queues_one_sms_per_member_and_refuses_a_second_within_the_hour(
    api: Api, two: Two, session: AsyncSession
) -> None:
    no_quiet_hours(two.a)
    await session.commit()
    variables = {"id": gid("Meeting", two.a.meeting.id)}
    first = (await api.gql(SEND_REMINDER, variables, key=two.admin_a))["sendReminder"]
    assert first["__typename"] == "QueuedPayload" and first["queued"] == 3
    second = (await api.gql(SEND_REMINDER, variables, key=two.admin_a))["sendReminder"]
    assert second["__typename"] == "RemindedRecently" and second["remindedAt"]
    rows = (await session.exec(select(Message).where(col(Message.kind) == "remind_now"))).all()
    assert len(rows) == 3


async def test_sending_needs_the_sms_send_scope(api: Api, two: Two, session: AsyncSession) -> None:
    writer = await issue_key(session, two.a.programme, Scope.read, Scope.write)
    result = (await api.gql(SEND_REMINDER, {"id": gid("Meeting", two.a.meeting.id)}, key=writer))[
        "sendReminder"
    ]
    assert result["__typename"] == "NotAllowed"
    assert (await session.exec(select(Message))).all() == []


async def test_another_programmes_meeting_is_not_found(api: Api, two: Two) -> None:
    result = (
        await api.gql(SEND_REMINDER, {"id": gid("Meeting", two.b.meeting.id)}, key=two.admin_a)
    )["sendReminder"]
    assert result["__typename"] == "NotFound"


async def test_broadcast_a_text_or_a_template_to_a_community(
    api: Api, two: Two, session: AsyncSession
) -> None:
    no_quiet_hours(two.a)
    await session.commit()
    community = gid("Community", two.a.community.id)
    text = {"communityId": community, "text": "Bring your lesson plans tomorrow."}
    sent = (await api.gql(BROADCAST, {"input": text}, key=two.admin_a))["broadcast"]
    assert sent == {"__typename": "QueuedPayload", "queued": 3, "dropped": 0}
    template = {"communityId": community, "template": "next_meeting"}
    assert (await api.gql(BROADCAST, {"input": template}, key=two.admin_a))["broadcast"][
        "queued"
    ] == 3
    rows = (await session.exec(select(Message).order_by(col(Message.id)))).all()
    assert [r.body for r in rows[:3]] == ["Bring your lesson plans tomorrow."] * 3
    assert {r.template for r in rows[3:]} == {"reminder"}
    assert {r.meeting_id for r in rows[3:]} == {two.a.meeting.id}


async def test_a_broadcast_needs_exactly_one_of_text_or_template(
    api: Api, two: Two, session: AsyncSession
) -> None:
    community = gid("Community", two.a.community.id)
    for bad in (
        {"communityId": community},
        {"communityId": community, "text": "hi", "template": "how_to_reply"},
        {"communityId": community, "text": "x" * 460},
        {"communityId": community, "text": "   "},
    ):
        result = (await api.gql(BROADCAST, {"input": bad}, key=two.admin_a))["broadcast"]
        assert result["__typename"] == "ValidationError", bad
    assert (await session.exec(select(Message))).all() == []


async def test_delivery_summary_counts_statuses_segments_and_cost(
    api: Api, two: Two, session: AsyncSession
) -> None:
    w = two.a
    statuses = [
        (MessageStatus.delivered, Decimal("0.8000")),
        (MessageStatus.delivered, Decimal("0.8000")),
        (MessageStatus.failed, None),
        (MessageStatus.dropped, Decimal("0.8000")),  # estimated, never sent: not spent
        (MessageStatus.queued, None),
    ]
    for n, (status, cost) in enumerate(statuses):
        session.add(
            Message(
                programme_id=w.pid, meeting_id=w.meeting.id, community_id=w.community.id,
                person_id=w.members[0].id, direction=Direction.outbound, kind="reminder",
                phone=f"+25471200000{n}", body="x", status=status, segments=2 if n == 0 else 1,
                cost=cost, currency="KES" if cost else None,
            )
        )  # fmt: skip
    await session.commit()
    summary = (await api.gql(SUMMARY, {"meeting": gid("Meeting", w.meeting.id)}, key=two.reader_a))[
        "deliverySummary"
    ]
    assert summary == {
        "messages": 5,
        "queued": 1,
        "sent": 0,
        "delivered": 2,
        "failed": 1,
        "dropped": 1,
        "segments": 6,
        "cost": [{"amount": "1.6000", "currency": "KES"}],
    }
    by_community = (
        await api.gql(SUMMARY, {"community": gid("Community", w.community.id)}, key=two.reader_a)
    )["deliverySummary"]
    assert by_community == summary
    other = (
        await api.gql(SUMMARY, {"community": gid("Community", two.b.community.id)}, key=two.admin_b)
    )["deliverySummary"]
    assert other["messages"] == 0

    nodes = await api.gql(
        """query($id: ID!) { meeting(id: $id) { delivery { delivered failed } }
                            communities(first: 5) { nodes { delivery { messages } } } }""",
        {"id": gid("Meeting", w.meeting.id)},
        key=two.reader_a,
    )
    assert nodes["meeting"]["delivery"] == {"delivered": 2, "failed": 1}
    assert [n["delivery"]["messages"] for n in nodes["communities"]["nodes"]] == [5]
