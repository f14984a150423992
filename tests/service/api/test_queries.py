"""Every query a partner app or programme staff would run, with its filters and paging."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.domain.meetings import cancel_meeting
from service.domain.people import PersonInput, create_person
from service.domain.terms import TermInput, create_term
from service.models import Message, Question, Survey
from service.models.enums import Direction, MessageStatus, QuestionKind, Role
from tests import factories as f
from tests.service.api.conftest import Api, Two


def gid(type_name: str, pk: int | None) -> str:
    return ids.encode(type_name, pk)


async def test_the_programme_of_the_key(api: Api, two: Two) -> None:
    data = await api.gql(
        "{ programme { slug timezone languages currency serviceCode } }", key=two.reader_a
    )
    assert data["programme"] == {
        "slug": "ke-clusters",
        "timezone": "Africa/Nairobi",
        "languages": ["sw", "en"],
        "currency": "KES",
        "serviceCode": two.a.programme.service_code,
    }


async def test_schools_filter_by_district_and_search(
    api: Api, two: Two, session: AsyncSession
) -> None:
    await f.school(session, two.a.programme, "KAK-9")
    await session.commit()
    query = "query($f: SchoolFilter) { schools(filter: $f) { totalCount nodes { code district } } }"
    everyone = (await api.gql(query, key=two.reader_a))["schools"]
    assert everyone["totalCount"] == 2
    found = (await api.gql(query, {"f": {"search": "kak"}}, key=two.reader_a))["schools"]
    assert [s["code"] for s in found["nodes"]] == ["KAK-9"]
    none = (await api.gql(query, {"f": {"district": "Nowhere"}}, key=two.reader_a))["schools"]
    assert none["totalCount"] == 0


async def test_people_filter_by_role_school_subject_community_and_name(
    api: Api, two: Two, session: AsyncSession
) -> None:
    await create_person(
        two.a.programme,
        PersonInput(
            name="Mwalimu Hisabati",
            subjects=["Mathematics"],
            roles=[Role.teacher, Role.subject_lead],
        ),
        session=session,
        actor=f.OPERATOR,
    )
    await session.commit()
    query = "query($f: PeopleFilter) { people(filter: $f) { totalCount nodes { name } } }"

    async def names(flt: dict[str, object]) -> list[str]:
        data = await api.gql(query, {"f": flt}, key=two.reader_a)
        return sorted(p["name"] for p in data["people"]["nodes"])

    assert await names({"role": "coach"}) == ["Coach Achieng"]
    assert await names({"role": "subject_lead"}) == ["Mwalimu Hisabati"]
    assert await names({"subject": "Mathematics"}) == ["Mwalimu Hisabati"]
    assert await names({"schoolId": gid("School", two.a.school.id)}) == sorted(
        m.name for m in two.a.members
    )
    assert await names({"district": "Kisumu"}) == sorted(m.name for m in two.a.members)
    in_community = await names({"communityId": gid("Community", two.a.community.id)})
    assert in_community == sorted([two.a.facilitator.name, *(m.name for m in two.a.members)])
    assert await names({"search": "hisab"}) == ["Mwalimu Hisabati"]


async def test_communities_with_members_facilitators_schools_and_next_meeting(
    api: Api, two: Two
) -> None:
    query = """{ communities(filter: {kind: cluster, subject: "Mathematics"}) { totalCount nodes {
        name joinCode memberCount schools { code } facilitators { name }
        members { role person { name } }
        nextMeeting { code startsAtLocal venue attendanceSummary { members rsvpNone } } } } }"""
    data = (await api.gql(query, key=two.reader_a))["communities"]
    assert data["totalCount"] == 1
    node = data["nodes"][0]
    assert node["memberCount"] == 3 and node["schools"] == [{"code": "SCH-1"}]
    assert node["facilitators"] == [{"name": "Coach Achieng"}]
    assert sorted(m["role"] for m in node["members"]) == ["facilitator", "member", "member"]
    nxt = node["nextMeeting"]
    assert nxt["code"] == two.a.meeting.code and nxt["startsAtLocal"].endswith("+03:00")
    assert nxt["attendanceSummary"] == {"members": 3, "rsvpNone": 3}
    by_school = await api.gql(
        'query($s: ID!) { communities(filter: {schoolId: $s, district: "Kisumu"}) { totalCount } }',
        {"s": gid("School", two.a.school.id)},
        key=two.reader_a,
    )
    assert by_school["communities"]["totalCount"] == 1


async def test_meetings_filter_by_community_term_status_and_dates(
    api: Api, two: Two, session: AsyncSession
) -> None:
    later = await f.meeting(session, two.a.programme, two.a.community, starts_in=timedelta(days=10))
    assert later.id is not None
    await cancel_meeting(two.a.programme, later.id, "Strike", session=session, actor=f.OPERATOR)
    today = f.now().date()
    term = await create_term(
        two.a.programme,
        TermInput(name="T", starts_on=today, ends_on=today + timedelta(days=5)),
        session=session,
        actor=f.OPERATOR,
    )
    await session.commit()
    query = "query($f: MeetingFilter) { meetings(filter: $f) { totalCount nodes { code status } } }"

    async def count(flt: dict[str, object]) -> int:
        return int((await api.gql(query, {"f": flt}, key=two.reader_a))["meetings"]["totalCount"])

    assert await count({"communityId": gid("Community", two.a.community.id)}) == 2
    assert await count({"status": "cancelled"}) == 1
    assert await count({"startsAfter": (f.now() + timedelta(days=5)).isoformat()}) == 1
    assert await count({"startsBefore": (f.now() + timedelta(days=5)).isoformat()}) == 1
    # The world's meeting was scheduled before the term existed, so it belongs to none.
    assert await count({"termId": gid("Term", term.id)}) == 0
    terms = (await api.gql("{ terms { name startsOn } }", key=two.reader_a))["terms"]
    assert terms == [{"name": "T", "startsOn": date.isoformat(today)}]


async def test_pages_of_people_follow_cursors_to_the_end(
    api: Api, two: Two, session: AsyncSession
) -> None:
    for n in range(7):
        await f.person(session, two.a.programme, name=f"Zawadi {n}")
    await session.commit()
    query = """query($after: String) { people(first: 4, after: $after, filter: {search: "Zawadi"}) {
        totalCount pageInfo { hasNextPage hasPreviousPage endCursor } nodes { name } } }"""
    first = (await api.gql(query, key=two.reader_a))["people"]
    assert first["totalCount"] == 7 and len(first["nodes"]) == 4
    assert first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]
    second = (await api.gql(query, {"after": first["pageInfo"]["endCursor"]}, key=two.reader_a))[
        "people"
    ]
    assert [p["name"] for p in second["nodes"]] == ["Zawadi 4", "Zawadi 5", "Zawadi 6"]
    assert not second["pageInfo"]["hasNextPage"] and second["pageInfo"]["hasPreviousPage"]


async def test_a_page_larger_than_100_or_a_forged_cursor_is_refused(api: Api, two: Two) -> None:
    assert await api.errors("{ people(first: 101) { totalCount } }", key=two.reader_a) == [
        "first must be between 0 and 100"
    ]
    errors = await api.errors('{ people(after: "bm9wZQ") { totalCount } }', key=two.reader_a)
    assert errors == ["'bm9wZQ' is not a cursor from this API"]


async def test_a_person_with_school_memberships_and_upcoming_meetings(api: Api, two: Two) -> None:
    query = """query($id: ID!) { node(id: $id) { id ... on Person { name school { code }
        memberships { role status community { code } } communities { code } upcomingMeetings { code } } } }"""
    member = two.a.members[0]
    data = (await api.gql(query, {"id": gid("Person", member.id)}, key=two.reader_a))["node"]
    assert data["name"] == member.name and data["school"] == {"code": "SCH-1"}
    assert data["memberships"] == [
        {"role": "member", "status": "active", "community": {"code": "CLUSTER-1"}}
    ]
    assert data["communities"] == [{"code": "CLUSTER-1"}]
    assert data["upcomingMeetings"] == [{"code": two.a.meeting.code}]


async def test_a_meeting_by_id_with_its_community_and_attendance(api: Api, two: Two) -> None:
    query = """query($id: ID!) { meeting(id: $id) { code modality community { name } term { name }
        attendance { rsvp } attendanceSummary { members attended } } }"""
    data = (await api.gql(query, {"id": gid("Meeting", two.a.meeting.id)}, key=two.reader_a))[
        "meeting"
    ]
    assert data == {
        "code": two.a.meeting.code,
        "modality": "in_person",
        "community": {"name": two.a.community.name},
        "term": None,
        "attendance": [],
        "attendanceSummary": {"members": 3, "attended": 0},
    }
    community = await api.gql(
        "query($id: ID!) { community(id: $id) { code } }",
        {"id": gid("Community", two.a.community.id)},
        key=two.reader_a,
    )
    assert community["community"] == {"code": "CLUSTER-1"}


async def test_surveys_with_questions_in_the_language_asked(
    api: Api, two: Two, session: AsyncSession
) -> None:
    survey = Survey(programme_id=two.a.pid, key="pulse", title={"en": "Pulse", "sw": "Mapigo"})
    session.add(survey)
    await session.flush()
    assert survey.id is not None
    session.add(
        Question(
            survey_id=survey.id,
            position=1,
            kind=QuestionKind.yes_no,
            text={"en": "Was it useful?", "sw": "Ilikuwa na manufaa?"},
        )
    )
    await session.commit()
    query = (
        "{ surveys { key version title questions { position kind text en: text(language: en) } } }"
    )
    data = (await api.gql(query, key=two.reader_a))["surveys"]
    assert [s["key"] for s in data] == ["pulse", "reflection"]  # every programme has reflection
    assert data[:1] == [
        {
            "key": "pulse",
            "version": 1,
            "title": "Mapigo",
            "questions": [
                {
                    "position": 1,
                    "kind": "yes_no",
                    "text": "Ilikuwa na manufaa?",
                    "en": "Was it useful?",
                }
            ],
        }
    ]


async def test_messages_by_status_with_body_and_phone_only_for_pii(
    api: Api, two: Two, session: AsyncSession
) -> None:
    for status in (MessageStatus.delivered, MessageStatus.failed):
        session.add(
            Message(
                programme_id=two.a.pid,
                direction=Direction.outbound,
                kind="reminder",
                phone="+254712000001",
                body="Mkutano kesho",
                status=status,
            )
        )
    await session.commit()
    query = "{ messages(filter: {status: failed}) { totalCount nodes { status phone body } } }"
    read = (await api.gql(query, key=two.reader_a))["messages"]
    assert read == {
        "totalCount": 1,
        "nodes": [{"status": "failed", "phone": "+25471•••••01", "body": None}],
    }
    full = (await api.gql(query, key=two.admin_a))["messages"]["nodes"][0]
    assert (full["phone"], full["body"]) == ("+254712000001", "Mkutano kesho")


async def test_the_audit_log_shows_who_changed_what(api: Api, two: Two) -> None:
    query = """query($id: ID) { auditLog(filter: {objectId: $id}) { totalCount nodes {
        action actor channel objectType objectId } } }"""
    data = (await api.gql(query, {"id": gid("Meeting", two.a.meeting.id)}, key=two.admin_a))[
        "auditLog"
    ]
    assert data["nodes"] == [
        {
            "action": "meeting.schedule",
            "actor": "cli:tests",
            "channel": "cli",
            "objectType": "Meeting",
            "objectId": gid("Meeting", two.a.meeting.id),
        }
    ]
