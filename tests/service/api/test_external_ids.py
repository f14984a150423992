"""External ids over GraphQL: set by mutations (a taken one is a Conflict), read on Person
and School, and found by `person`/`school(externalId:)` and the list filters."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from tests.service.api.conftest import Api, Two

RESULT = "__typename ... on Error { code message } ... on Conflict { field }"
CREATE_PERSON = f"""mutation($x: String) {{
  createPerson(input: {{name: "Zawadi Achieng", phone: "0799000111", externalId: $x}}) {{
    {RESULT} ... on PersonPayload {{ person {{ id externalId }} }} }} }}"""
UPDATE_PERSON = f"""mutation($id: ID!, $x: String) {{
  updatePerson(id: $id, input: {{externalId: $x}}) {{
    {RESULT} ... on PersonPayload {{ person {{ name externalId }} }} }} }}"""


async def _set(api: Api, two: Two, person_pk: int | None, value: str | None) -> dict[str, Any]:
    variables = {"id": ids.encode("Person", person_pk), "x": value}
    result: dict[str, Any] = (await api.gql(UPDATE_PERSON, variables, key=two.admin_a))[
        "updatePerson"
    ]
    return result


async def test_a_person_created_with_an_external_id_is_found_by_it(api: Api, two: Two) -> None:
    made = (await api.gql(CREATE_PERSON, {"x": " TSC-512300 "}, key=two.admin_a))["createPerson"]
    assert made["person"]["externalId"] == "TSC-512300"  # trimmed, case kept
    query = """query($x: String) { person(externalId: $x) { id name externalId phone }
      people(filter: {externalId: $x}) { totalCount nodes { name } } }"""
    data = await api.gql(query, {"x": "TSC-512300"}, key=two.reader_a)
    assert data["person"]["id"] == made["person"]["id"]
    assert data["person"]["phone"] == "+25479•••••11"  # still masked without read:pii
    assert data["people"] == {"totalCount": 1, "nodes": [{"name": "Zawadi Achieng"}]}
    other_case = await api.gql(query, {"x": "tsc-512300"}, key=two.reader_a)
    assert other_case["person"] is None and other_case["people"]["totalCount"] == 0


async def test_a_taken_external_id_is_a_conflict_and_changes_nothing(api: Api, two: Two) -> None:
    first, second = two.a.members
    assert (await _set(api, two, first.id, "TSC-1"))["person"]["externalId"] == "TSC-1"
    taken = await _set(api, two, second.id, "TSC-1")
    assert (taken["__typename"], taken["code"], taken["field"]) == (
        "Conflict",
        "conflict",
        "external_id",
    )
    assert taken["message"] == "external id 'TSC-1' already belongs to someone in this programme"
    dup = (await api.gql(CREATE_PERSON, {"x": "TSC-1"}, key=two.admin_a))["createPerson"]
    assert dup["__typename"] == "Conflict"
    # Setting one's own again is no clash; null removes it; another programme may use it.
    assert (await _set(api, two, first.id, "TSC-1"))["person"]["externalId"] == "TSC-1"
    assert (await _set(api, two, first.id, None))["person"]["externalId"] is None
    elsewhere = await api.gql(
        'mutation { createPerson(input: {name: "Uwase Aline", externalId: "TSC-1"}) '
        "{ __typename } }",
        key=two.admin_b,
    )
    assert elsewhere["createPerson"]["__typename"] == "PersonPayload"


async def test_an_external_id_too_long_is_a_validation_error(api: Api, two: Two) -> None:
    made = (await api.gql(CREATE_PERSON, {"x": "9" * 65}, key=two.admin_a))["createPerson"]
    assert made["__typename"] == "ValidationError"
    assert "at most 64 characters" in made["message"]


async def test_another_programmes_external_id_finds_nothing(
    api: Api, two: Two, session: AsyncSession
) -> None:
    two.b.members[0].external_id = "TSC-9"
    await session.commit()
    data = await api.gql(
        '{ person(externalId: "TSC-9") { id } people(filter: {externalId: "TSC-9"}) '
        "{ totalCount } }",
        key=two.reader_a,
    )
    assert data == {"person": None, "people": {"totalCount": 0}}


async def test_person_and_school_take_an_id_or_an_external_id_not_both(api: Api, two: Two) -> None:
    both = await api.errors(
        'query($id: ID) { person(id: $id, externalId: "X") { id } }',
        {"id": ids.encode("Person", two.a.members[0].id)},
        key=two.reader_a,
    )
    assert both == ["give either id or externalId"]
    assert await api.errors("{ school { id } }", key=two.reader_a) == [
        "give either id or externalId"
    ]
    by_id = await api.gql(
        "query($id: ID) { school(id: $id) { code } }",
        {"id": ids.encode("School", two.a.school.id)},
        key=two.reader_a,
    )
    assert by_id == {"school": {"code": "SCH-1"}}


async def test_schools_carry_an_external_id_set_by_mutations_and_found_by_it(
    api: Api, two: Two
) -> None:
    create = """mutation($c: String!, $x: String) { createSchool(input: {code: $c,
      name: "Kondele Primary School", externalId: $x}) { __typename
      ... on Conflict { message field } ... on SchoolPayload { school { id externalId } } } }"""
    made = await api.gql(create, {"c": "KSM-02", "x": "41704112"}, key=two.admin_a)
    school = made["createSchool"]["school"]
    assert school["externalId"] == "41704112"
    dup = await api.gql(create, {"c": "KSM-03", "x": "41704112"}, key=two.admin_a)
    assert dup["createSchool"] == {
        "__typename": "Conflict",
        "message": "external id '41704112' already belongs to another school in this programme",
        "field": "external_id",
    }
    query = """query($x: String) { school(externalId: $x) { id code }
      schools(filter: {externalId: $x}) { nodes { code externalId } } }"""
    data = await api.gql(query, {"x": "41704112"}, key=two.reader_a)
    assert data["school"] == {"id": school["id"], "code": "KSM-02"}
    assert data["schools"]["nodes"] == [{"code": "KSM-02", "externalId": "41704112"}]
    update = """mutation($id: ID!) { updateSchool(id: $id, input: {externalId: null}) {
      ... on SchoolPayload { school { code externalId } } } }"""
    cleared = await api.gql(update, {"id": school["id"]}, key=two.admin_a)
    assert cleared["updateSchool"]["school"] == {"code": "KSM-02", "externalId": None}
