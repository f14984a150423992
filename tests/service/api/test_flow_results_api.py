"""`/flow-results/surveys/…` as a partner app reads it: a package descriptor pointing at
its responses, with the key handled as for /exports."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.config import Settings
from service.db import SessionFactory
from service.models.enums import Country, Language, Scope
from tests import factories as f
from tests.flow_results import OWN_WORDS, Answered, answered_survey, check_package
from tests.service.api.conftest import issue_key, make_api

WHOLE_PHONE = re.compile(r"\+2547[0-9]{8}")


@pytest_asyncio.fixture
async def answered(session: AsyncSession) -> Answered:
    return await answered_survey(session)


@pytest_asyncio.fixture
async def client(settings: Settings, sessions: SessionFactory) -> AsyncIterator[httpx.AsyncClient]:
    app, client = make_api(settings)
    async with client:
        yield client
    await app.state.services.engine.dispose()


async def get(client: httpx.AsyncClient, path: str, key: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return await client.get(path, headers=headers)


def path(answered: Answered) -> str:
    return f"/flow-results/surveys/{ids.encode('Survey', answered.survey.id)}"


async def test_a_reader_gets_the_descriptor_and_follows_it_to_pseudonymous_rows(
    session: AsyncSession, answered: Answered, client: httpx.AsyncClient
) -> None:
    key = await issue_key(session, answered.world.programme, Scope.read)
    listed = await get(client, "/flow-results/surveys", key)
    assert listed.status_code == 200
    # Every programme starts with the reflection survey.
    reflection, entry = listed.json()["packages"]
    assert (reflection["key"], entry["key"], entry["version"]) == ("reflection", "term-check", 1)
    assert entry["descriptor"] == "http://copline.test" + path(answered)

    found = await get(client, path(answered), key)
    assert found.status_code == 200
    assert found.headers["content-type"].startswith("application/json")
    descriptor = found.json()
    resource = descriptor["resources"][0]
    assert resource["path"] == "http://copline.test" + path(answered) + "/responses"

    rows = await get(client, resource["path"].removeprefix("http://copline.test"), key)
    assert rows.status_code == 200
    check_package(descriptor, rows.json())
    assert len(rows.json()) == 6  # the short-text answer left out
    assert WHOLE_PHONE.search(rows.text) is None and OWN_WORDS not in rows.text


async def test_read_pii_brings_phones_and_free_text(
    session: AsyncSession, answered: Answered, client: httpx.AsyncClient
) -> None:
    key = await issue_key(session, answered.world.programme, Scope.read, Scope.read_pii)
    rows = (await get(client, path(answered) + "/responses", key)).json()
    assert len(rows) == 7
    assert {r[2] for r in rows} == {m.phone for m in answered.world.members}
    assert OWN_WORDS in [r[5] for r in rows]


async def test_keys_are_refused_as_for_the_csv_exports(
    session: AsyncSession, answered: Answered, client: httpx.AsyncClient
) -> None:
    assert (await get(client, path(answered), None)).status_code == 401
    assert (await get(client, path(answered), "cpl_nope_nope")).status_code == 401
    writer = await issue_key(session, answered.world.programme, Scope.write)
    refused = await get(client, path(answered) + "/responses", writer)
    assert refused.status_code == 403 and "'read'" in refused.text


async def test_another_programmes_survey_is_not_found(
    session: AsyncSession, answered: Answered, client: httpx.AsyncClient
) -> None:
    other = await f.programme(
        session, slug="rw-sbi", country=Country.RW, timezone="Africa/Kigali", language=Language.rw
    )
    key = await issue_key(session, other, Scope.read, Scope.read_pii)
    for suffix in ("", "/responses"):
        response = await get(client, path(answered) + suffix, key)
        assert response.status_code == 404 and OWN_WORDS not in response.text
    assert (await get(client, "/flow-results/surveys/not-an-id", key)).status_code == 404
    listed = (await get(client, "/flow-results/surveys", key)).json()["packages"]
    assert [p["key"] for p in listed] == ["reflection"]  # its own only
