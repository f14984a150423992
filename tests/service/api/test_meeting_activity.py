"""A meeting's toolkit activity over GraphQL: set when scheduled, changed, refused when wrong."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.models import Meeting
from tests.service.api.conftest import Api, Two

FIELDS = "activity activityLink activityPage"
SCHEDULE = f"""mutation($i: ScheduleMeetingInput!) {{ scheduleMeeting(input: $i) {{ __typename
    ... on Error {{ code message }} ... on ValidationError {{ fields {{ field message }} }}
    ... on MeetingPayload {{ meeting {{ id {FIELDS} }} }} }} }}"""
UPDATE = f"""mutation($id: ID!, $i: UpdateMeetingInput!) {{ updateMeeting(id: $id, input: $i) {{
    __typename ... on Error {{ code message }} ... on ValidationError {{ fields {{ field message }} }}
    ... on MeetingPayload {{ meeting {{ {FIELDS} }} }} }} }}"""


async def stored(session: AsyncSession, pk: int | None) -> Meeting:
    await session.rollback()  # end any earlier read: SQLite would keep showing its snapshot
    session.expunge_all()
    meeting = await session.get(Meeting, pk)
    assert meeting is not None
    return meeting


async def test_a_meeting_is_scheduled_with_its_activity_and_reads_it_back(
    api: Api, two: Two, session: AsyncSession
) -> None:
    given = {
        "communityId": ids.encode("Community", two.a.community.id),
        "startsAt": "2031-05-06T17:00:00+03:00",
        "activity": "  Fractions with paper strips ",
        "activityLink": "https://cop.rw/a12",
        "activityPage": 12,
    }
    data = (await api.gql(SCHEDULE, {"i": given}, key=two.admin_a))["scheduleMeeting"]
    assert data["meeting"] | {"id": None} == {
        "id": None,
        "activity": "Fractions with paper strips",
        "activityLink": "https://cop.rw/a12",
        "activityPage": 12,
    }
    meeting = await stored(session, ids.decode(data["meeting"]["id"], "Meeting"))
    assert (meeting.activity, meeting.activity_link, meeting.activity_page) == (
        "Fractions with paper strips",
        "https://cop.rw/a12",
        12,
    )


async def test_the_activity_is_changed_and_removed_and_other_fields_stay(
    api: Api, two: Two, session: AsyncSession
) -> None:
    meeting_id = ids.encode("Meeting", two.a.meeting.id)
    set_ = {"activity": "Questioning", "activityPage": 7}
    data = await api.gql(UPDATE, {"id": meeting_id, "i": set_}, key=two.admin_a)
    assert data["updateMeeting"]["meeting"] == {
        "activity": "Questioning",
        "activityLink": None,
        "activityPage": 7,
    }
    page_only = await api.gql(UPDATE, {"id": meeting_id, "i": {"activityPage": 9}}, key=two.admin_a)
    assert page_only["updateMeeting"]["meeting"]["activity"] == "Questioning"
    cleared = {"activity": "", "activityPage": None}
    data = await api.gql(UPDATE, {"id": meeting_id, "i": cleared}, key=two.admin_a)
    assert data["updateMeeting"]["meeting"] == {
        "activity": None,
        "activityLink": None,
        "activityPage": None,
    }
    meeting = await stored(session, two.a.meeting.id)
    assert (meeting.activity, meeting.activity_page, meeting.venue) == (None, None, "Staff room")


@pytest.mark.parametrize(
    ("given", "field", "says"),
    [
        ({"activity": "x" * 121}, "activity", "at most 120 characters"),
        ({"activity": "Fractions", "activityLink": "cop.rw/a12"}, "activityLink", "http"),
        ({"activity": "Fractions", "activityLink": "ftp://cop.rw/a"}, "activityLink", "http"),
        ({"activity": "Fractions", "activityLink": "https://x" + "y" * 100}, "activityLink",
         "at most 100 characters"),
        ({"activity": "Fractions", "activityPage": 0}, "activityPage", "greater than or equal to 1"),
        ({"activity": "Fractions", "activityPage": -3}, "activityPage", "greater than or equal to 1"),
    ],
)  # fmt: skip
async def test_a_wrong_activity_is_refused_field_by_field_and_nothing_changes(
    api: Api, two: Two, session: AsyncSession, given: dict[str, Any], field: str, says: str
) -> None:
    meeting_id = ids.encode("Meeting", two.a.meeting.id)
    data = (await api.gql(UPDATE, {"id": meeting_id, "i": given}, key=two.admin_a))["updateMeeting"]
    assert data["__typename"] == "ValidationError"
    assert [f["field"] for f in data["fields"]] == [field]
    assert says in data["fields"][0]["message"]
    meeting = await stored(session, two.a.meeting.id)
    assert (meeting.activity, meeting.activity_link, meeting.activity_page) == (None, None, None)


async def test_a_link_or_page_without_a_title_is_refused(
    api: Api, two: Two, session: AsyncSession
) -> None:
    meeting_id = ids.encode("Meeting", two.a.meeting.id)
    data = await api.gql(UPDATE, {"id": meeting_id, "i": {"activityPage": 4}}, key=two.admin_a)
    refused = data["updateMeeting"]
    assert refused["__typename"] == "ValidationError"
    assert refused["message"] == "give the activity's title with its link or page"
    assert (await stored(session, two.a.meeting.id)).activity_page is None
