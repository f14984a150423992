"""A key for programme A never sees or touches programme B: ids, filters, edges, mutations."""

from __future__ import annotations

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.models import ApiKey, Attendance, Meeting, Person, School
from service.models.enums import MeetingStatus
from tests.service.api.conftest import Api, Two


def gid(type_name: str, pk: int | None) -> str:
    return ids.encode(type_name, pk)


def b_ids(two: Two) -> dict[str, str]:
    b = two.b
    return {
        "School": gid("School", b.school.id),
        "Person": gid("Person", b.members[0].id),
        "Community": gid("Community", b.community.id),
        "Meeting": gid("Meeting", b.meeting.id),
        "Term": gid("Term", 999),
        "Programme": gid("Programme", b.pid),
    }


async def test_b_objects_are_not_found_by_id(api: Api, two: Two) -> None:
    for type_name, gid_ in b_ids(two).items():
        data = await api.gql(
            "query($id: ID!) { node(id: $id) { id } }", {"id": gid_}, key=two.admin_a
        )
        assert data["node"] is None, type_name
    for field, type_name in (
        ("person", "Person"),
        ("community", "Community"),
        ("meeting", "Meeting"),
    ):
        data = await api.gql(
            f"query($id: ID!) {{ {field}(id: $id) {{ id }} }}",
            {"id": b_ids(two)[type_name]},
            key=two.admin_a,
        )
        assert data[field] is None


async def test_b_membership_ids_are_not_found(api: Api, two: Two, session: AsyncSession) -> None:
    from service.models import Membership

    membership = (
        await session.exec(select(Membership).where(Membership.community_id == two.b.community.id))
    ).first()
    assert membership is not None
    data = await api.gql(
        "query($id: ID!) { node(id: $id) { id } }",
        {"id": gid("Membership", membership.id)},
        key=two.admin_a,
    )
    assert data["node"] is None


async def test_filters_naming_b_objects_find_nothing(api: Api, two: Two) -> None:
    ids_ = b_ids(two)
    people = await api.gql(
        "query($s: ID, $c: ID) { a: people(filter: {schoolId: $s}) { totalCount } b: people(filter: {communityId: $c}) { totalCount } }",
        {"s": ids_["School"], "c": ids_["Community"]},
        key=two.admin_a,
    )
    assert people == {"a": {"totalCount": 0}, "b": {"totalCount": 0}}
    communities = await api.gql(
        "query($s: ID) { communities(filter: {schoolId: $s}) { totalCount } }",
        {"s": ids_["School"]},
        key=two.admin_a,
    )
    assert communities["communities"]["totalCount"] == 0
    meetings = await api.gql(
        "query($c: ID) { meetings(filter: {communityId: $c}) { totalCount } }",
        {"c": ids_["Community"]},
        key=two.admin_a,
    )
    assert meetings["meetings"]["totalCount"] == 0
    audit = await api.gql(
        "query($id: ID) { auditLog(filter: {objectId: $id}) { totalCount } }",
        {"id": ids_["Meeting"]},
        key=two.admin_a,
    )
    assert audit["auditLog"]["totalCount"] == 0


async def test_lists_and_nested_edges_hold_only_a_objects(api: Api, two: Two) -> None:
    data = await api.gql(
        """{ people(first: 100) { nodes { name memberships { community { name members { person { name } } } } } }
        communities { nodes { name facilitators { name } nextMeeting { code } } }
        meetings { nodes { code community { name } } } schools { nodes { code } }
        apiKeys { name } auditLog(first: 100) { nodes { objectId } } }""",
        key=two.admin_a,
    )
    a_names = {two.a.facilitator.name, two.a.outsider.name, *(m.name for m in two.a.members)}
    assert {p["name"] for p in data["people"]["nodes"]} == a_names
    nested = {
        m["person"]["name"]
        for p in data["people"]["nodes"]
        for ms in p["memberships"]
        for m in ms["community"]["members"]
    }
    assert nested <= a_names
    assert [c["name"] for c in data["communities"]["nodes"]] == [two.a.community.name]
    assert [m["code"] for m in data["meetings"]["nodes"]] == [two.a.meeting.code]
    assert len(data["apiKeys"]) == 2
    b_objects = set(b_ids(two).values())
    assert not b_objects & {e["objectId"] for e in data["auditLog"]["nodes"]}


MUTATIONS = [
    (
        "updateSchool",
        'mutation($id: ID!) { r: updateSchool(id: $id, input: {name: "Taken Over"}) { __typename } }',
        "School",
    ),
    (
        "updatePerson",
        'mutation($id: ID!) { r: updatePerson(id: $id, input: {name: "Taken Over"}) { __typename } }',
        "Person",
    ),
    (
        "updateCommunity",
        'mutation($id: ID!) { r: updateCommunity(id: $id, input: {name: "Taken Over"}) { __typename } }',
        "Community",
    ),
    (
        "rescheduleMeeting",
        'mutation($id: ID!) { r: rescheduleMeeting(id: $id, startsAt: "2031-01-01T10:00:00Z") { __typename } }',
        "Meeting",
    ),
    ("cancelMeeting", "mutation($id: ID!) { r: cancelMeeting(id: $id) { __typename } }", "Meeting"),
    (
        "recordAttendance",
        "mutation($id: ID!) { r: recordAttendance(meetingId: $id, marks: []) { __typename } }",
        "Meeting",
    ),
    (
        "scheduleMeeting",
        'mutation($id: ID!) { r: scheduleMeeting(input: {communityId: $id, startsAt: "2031-01-01T10:00:00Z"}) { __typename } }',
        "Community",
    ),
    (
        "createPerson",
        'mutation($id: ID!) { r: createPerson(input: {name: "Spy", schoolId: $id}) { __typename } }',
        "School",
    ),
    (
        "createCommunity",
        'mutation($id: ID!) { r: createCommunity(input: {code: "X", name: "Spy CoP", kind: cluster, schoolIds: [$id]}) { __typename } }',
        "School",
    ),
]


@pytest.mark.parametrize(("name", "query", "type_name"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
async def test_mutations_on_b_objects_are_not_found_and_change_nothing(
    api: Api, two: Two, session: AsyncSession, name: str, query: str, type_name: str
) -> None:
    data = await api.gql(query, {"id": b_ids(two)[type_name]}, key=two.admin_a)
    assert data["r"]["__typename"] == "NotFound", name
    session.expunge_all()
    assert (await session.get(School, two.b.school.id)).name == two.b.school.name  # type: ignore[union-attr]
    assert (await session.get(Person, two.b.members[0].id)).name == two.b.members[0].name  # type: ignore[union-attr]
    meeting = await session.get(Meeting, two.b.meeting.id)
    assert meeting is not None and meeting.status is MeetingStatus.scheduled
    assert meeting.starts_at == two.b.meeting.starts_at


async def test_a_b_person_cannot_join_an_a_community_nor_be_marked(
    api: Api, two: Two, session: AsyncSession
) -> None:
    added = await api.gql(
        "mutation($c: ID!, $p: ID!) { addMember(communityId: $c, personId: $p) { __typename } }",
        {"c": gid("Community", two.a.community.id), "p": gid("Person", two.b.members[0].id)},
        key=two.admin_a,
    )
    assert added["addMember"]["__typename"] == "NotFound"
    marked = await api.gql(
        "mutation($m: ID!, $p: ID!) { recordAttendance(meetingId: $m, marks: [{personId: $p, rsvp: yes}]) { __typename } }",
        {"m": gid("Meeting", two.a.meeting.id), "p": gid("Person", two.b.members[0].id)},
        key=two.admin_a,
    )
    assert marked["recordAttendance"]["__typename"] == "NotFound"
    assert (await session.exec(select(Attendance))).all() == []


async def test_b_keys_cannot_be_revoked_with_an_a_key(
    api: Api, two: Two, session: AsyncSession
) -> None:
    b_key = (await session.exec(select(ApiKey).where(ApiKey.programme_id == two.b.pid))).one()
    data = await api.gql(
        "mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }",
        {"id": gid("ApiKey", b_key.id)},
        key=two.admin_a,
    )
    assert data["revokeApiKey"]["__typename"] == "NotFound"
    assert (await api.gql("{ programme { slug } }", key=two.admin_b))["programme"][
        "slug"
    ] == "rw-sbi"


async def test_an_id_of_the_wrong_type_is_not_found(api: Api, two: Two) -> None:
    data = await api.gql(
        "mutation($id: ID!) { cancelMeeting(id: $id) { __typename ... on Error { message } } }",
        {"id": gid("Person", two.a.members[0].id)},
        key=two.admin_a,
    )
    assert data["cancelMeeting"]["__typename"] == "NotFound"
    assert "is not a Meeting id" in data["cancelMeeting"]["message"]
