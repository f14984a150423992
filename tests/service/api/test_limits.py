"""Protection: deep, wide, long or large requests are refused with a clear reason; errors are
masked, and the schema kept to itself, in production."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from service.api import ids
from service.api.limits import MAX_BODY_BYTES, MAX_STRING, max_length
from service.api.schema import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from service.config import Environment, Settings
from service.domain.broadcasts import MAX_TEXT as BROADCAST_MAX_TEXT
from tests.service.api.conftest import Api, Two, make_api


def nested(depth: int) -> str:
    """A query `depth` fields deep: people > nodes > memberships > community > members > person > …"""
    cycle = ["memberships", "community", "members", "person"]
    links = [cycle[i % 4] for i in range(depth - 2)]
    return (
        "{ people { nodes { " + "".join(f"{f} {{ " for f in links) + "id " + "} " * (len(links) + 3)
    )


async def test_a_query_deeper_than_ten_levels_is_refused(api: Api, two: Two) -> None:
    ok = nested(MAX_DEPTH)
    assert await api.errors(ok, key=two.reader_a) == []
    errors = await api.errors(nested(MAX_DEPTH + 1), key=two.reader_a)
    assert errors and "exceeds maximum operation depth of 10" in errors[0]


async def test_more_than_fifteen_aliases_are_refused(api: Api, two: Two) -> None:
    fields = " ".join(f"a{i}: programme {{ slug }}" for i in range(MAX_ALIASES + 1))
    errors = await api.errors("{ " + fields + " }", key=two.reader_a)
    assert len(errors) == 1 and "aliases" in errors[0] and "15" in errors[0]
    fine = " ".join(f"a{i}: programme {{ slug }}" for i in range(MAX_ALIASES))
    assert await api.errors("{ " + fine + " }", key=two.reader_a) == []


async def test_a_query_of_more_than_2000_tokens_is_refused(api: Api, two: Two) -> None:
    huge = "{ " + " ".join("__typename" for _ in range(MAX_TOKENS + 1)) + " }"
    errors = await api.errors(huge, key=two.reader_a)
    assert errors == ["Syntax Error: Document contains more than 2000 tokens. Parsing aborted."]


async def test_production_masks_unexpected_errors_but_keeps_the_expected_ones(
    settings: Settings, two: Two, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = make_api(settings.model_copy(update={"environment": Environment.production}))
    headers = {"Authorization": f"Bearer {two.reader_a}"}

    async def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("connection string postgres://secret@db")

    from service.api.types import places

    async with client:
        refused = await client.post(
            "/graphql", json={"query": "{ people(first: 500) { totalCount } }"}, headers=headers
        )
        assert refused.json()["errors"][0]["message"] == "first must be between 0 and 100"
        monkeypatch.setattr(places.ProgrammeNode, "from_row", explode)
        broken = await client.post(
            "/graphql", json={"query": "{ programme { slug } }"}, headers=headers
        )
        message = broken.json()["errors"][0]["message"]
        assert "secret" not in message and message == "Unexpected error."
    await app.state.services.engine.dispose()


# --- Request size (issue 10, point 14) ---


async def test_a_body_over_the_limit_is_refused_with_413_before_anything_runs(
    api: Api, two: Two
) -> None:
    padding = "x" * (MAX_BODY_BYTES + 1)
    response = await api.client.post(
        "/graphql",
        json={"query": "{ programme { slug } }", "variables": {"pad": padding}},
        headers={"Authorization": f"Bearer {two.reader_a}"},
    )
    assert response.status_code == 413
    assert response.json() == {
        "errors": [
            {"message": "request body too large: at most 256 KiB", "extensions": {"status": 413}}
        ]
    }
    assert api.statements == []  # not even the key was looked up


async def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit(api: Api, two: Two) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ programme { slug } }", "variables": {"pad": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 1):
            yield b"x" * 1024
        yield b'"}}'

    response = await api.client.post(
        "/graphql",
        content=chunks(),
        headers={"Authorization": f"Bearer {two.reader_a}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413 and "content-length" not in response.request.headers


async def test_a_body_under_the_limit_still_works(api: Api, two: Two) -> None:
    padding = "x" * (MAX_BODY_BYTES - 1000)
    response = await api.post("{ programme { slug } }", {"pad": padding}, key=two.reader_a)
    assert response.status_code == 200, response.text


SEARCH = "query($s: String) { people(filter: {search: $s}) { totalCount } }"


async def test_a_string_argument_over_its_limit_is_refused_naming_it_before_the_database(
    api: Api, two: Two
) -> None:
    before = len(api.statements)
    response = await api.post(SEARCH, {"s": "x" * (MAX_STRING + 1)}, key=two.reader_a)
    [error] = response.json()["errors"]
    assert error["message"] == "argument 'filter.search' is too long: 301 characters, at most 300"
    assert error["extensions"] == {
        "code": "too_long",
        "argument": "filter.search",
        "maxLength": 300,
    }
    # Only the key was looked up: the search never reached the database.
    assert not any("LIKE" in s.upper() for s in api.statements[before:])


async def test_a_literal_string_over_its_limit_is_refused_too(api: Api, two: Two) -> None:
    long = "x" * (MAX_STRING + 1)
    errors = await api.errors(
        f'{{ people(filter: {{search: "{long}"}}) {{ totalCount }} }}', key=two.reader_a
    )
    assert errors == ["argument 'filter.search' is too long: 301 characters, at most 300"]
    errors = await api.errors(f'{{ people(after: "{long}") {{ totalCount }} }}', key=two.reader_a)
    assert errors == ["argument 'after' is too long: 301 characters, at most 300"]


async def test_strings_inside_lists_of_inputs_are_bounded(api: Api, two: Two) -> None:
    query = "mutation($i: CreatePersonInput!) { createPerson(input: $i) { __typename } }"
    person = {"name": "Achieng Otieno", "subjects": ["Mathematics", "y" * (MAX_STRING + 1)]}
    errors = await api.errors(query, {"i": person}, key=two.admin_a)
    assert errors == ["argument 'input.subjects[1]' is too long: 301 characters, at most 300"]


@pytest.mark.parametrize(
    ("argument", "longest_the_domain_keeps"),
    [
        ("name", 200),  # people, schools, communities, programmes
        ("district", 100),
        ("venue", 200),
        ("agenda", 500),
        ("text", BROADCAST_MAX_TEXT),
        ("reason", 200),  # a cancel reason is kept to 200
        ("search", 200),
    ],
)
def test_the_api_never_refuses_a_string_the_domain_would_keep(
    argument: str, longest_the_domain_keeps: int
) -> None:
    assert max_length(argument) >= longest_the_domain_keeps


async def test_an_agenda_as_long_as_the_domain_allows_passes_the_api(api: Api, two: Two) -> None:
    query = "mutation($i: ScheduleMeetingInput!) { scheduleMeeting(input: $i) { __typename ... on Error { message } } }"
    meeting = {
        "communityId": ids.encode("Community", two.a.community.id),
        "startsAt": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "agenda": "a" * 500,
    }
    data = await api.gql(query, {"i": meeting}, key=two.admin_a)
    assert data["scheduleMeeting"]["__typename"] == "MeetingPayload", data


# --- Production defaults (issue 10, point 13) ---


async def test_production_serves_no_graphiql_no_introspection_and_no_suggestions_by_default(
    settings: Settings, two: Two
) -> None:
    production = settings.model_copy(update={"environment": Environment.production})
    app, client = make_api(production)
    headers = {"Authorization": f"Bearer {two.reader_a}"}

    async def messages(query: str, variables: dict[str, object] | None = None) -> list[str]:
        body = {"query": query, "variables": variables or {}}
        response = await client.post("/graphql", json=body, headers=headers)
        return [e["message"] for e in response.json()["errors"]]

    async with client:
        assert (await client.get("/graphql", headers={"Accept": "text/html"})).status_code == 404
        refused = await messages("{ __schema { queryType { name } } }")
        assert "introspection has been disabled" in refused[0]
        mistakes: list[tuple[str, dict[str, object] | None]] = [
            ("{ programe { slug } }", None),
            ("{ people(frist: 5) { totalCount } }", None),
            ("query($f: PeopleFiltr) { people(filter: $f) { totalCount } }", None),
            (
                "query($f: PeopleFilter) { people(filter: $f) { totalCount } }",
                {"f": {"role": "TEECHER", "serch": "x"}},
            ),
            ("{ people(filter: {role: TEECHER}) { totalCount } }", None),
        ]
        for query, variables in mistakes:
            found = await messages(query, variables)
            assert found and not any("Did you mean" in m for m in found), found
    await app.state.services.engine.dispose()


async def test_development_keeps_suggestions_and_production_may_turn_them_on(
    api: Api, settings: Settings, two: Two
) -> None:
    [message] = await api.errors("{ programe { slug } }", key=two.reader_a)
    assert message.endswith("Did you mean 'programme'?")
    asked = settings.model_copy(
        update={
            "environment": Environment.production,
            "graphql_suggestions": True,
            "graphql_introspection": True,
            "graphiql": True,
        }
    )
    app, client = make_api(asked)
    async with client:
        headers = {"Authorization": f"Bearer {two.reader_a}"}
        response = await client.post(
            "/graphql", json={"query": "{ programe { slug } }"}, headers=headers
        )
        assert "Did you mean 'programme'?" in response.json()["errors"][0]["message"]
        schema = await client.post(
            "/graphql", json={"query": "{ __schema { queryType { name } } }"}, headers=headers
        )
        assert schema.json()["data"]["__schema"]["queryType"]["name"] == "Query"
        assert (await client.get("/graphql", headers={"Accept": "text/html"})).status_code == 200
    await app.state.services.engine.dispose()
