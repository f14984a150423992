"""Protection: deep, wide or long queries are refused with a clear reason; errors are masked in production."""

from __future__ import annotations

import pytest

from service.api.schema import MAX_ALIASES, MAX_DEPTH, MAX_TOKENS
from service.config import Environment, Settings
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
