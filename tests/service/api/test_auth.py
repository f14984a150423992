"""Who may call: keys are required, scoped, revocable, and PII needs its own scope."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.api import ids
from service.config import Settings
from service.domain.apikeys import revoke_api_key
from service.models import ApiKey, School
from service.models.enums import Scope
from tests import factories as f
from tests.service.api.conftest import Api, Two, issue_key, make_api

PROGRAMME = "{ programme { slug } }"


async def test_a_call_without_a_key_is_refused_with_401_and_a_json_reason(
    api: Api, two: Two
) -> None:
    response = await api.post(PROGRAMME, key=None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["errors"][0]["message"]


async def test_a_wrong_key_is_refused(api: Api, two: Two) -> None:
    for key in ("cpl_nothere_secret", two.admin_a[:-2] + "xx", "not-a-key"):
        response = await api.post(PROGRAMME, key=key)
        assert response.status_code == 401
        assert response.json()["errors"][0]["message"] == "invalid or revoked API key"


async def test_a_revoked_key_stops_working_at_once(
    api: Api, two: Two, session: AsyncSession
) -> None:
    assert (await api.gql(PROGRAMME, key=two.reader_a))["programme"]["slug"] == "ke-clusters"
    prefix = two.reader_a.split("_")[1]
    key = (await session.exec(select(ApiKey).where(ApiKey.prefix == prefix))).one()
    assert key.id is not None
    await revoke_api_key(two.a.pid, key.id, session=session, actor=f.OPERATOR)
    await session.commit()
    assert (await api.post(PROGRAMME, key=two.reader_a)).status_code == 401


async def test_using_a_key_records_when_it_was_last_used(
    api: Api, two: Two, session: AsyncSession
) -> None:
    await api.gql(PROGRAMME, key=two.reader_a)
    prefix = two.reader_a.split("_")[1]
    key = (await session.exec(select(ApiKey).where(ApiKey.prefix == prefix))).one()
    assert key.last_used_at is not None


async def test_a_read_only_key_cannot_write_and_nothing_is_written(
    api: Api, two: Two, session: AsyncSession
) -> None:
    data = await api.gql(
        'mutation { createSchool(input: {code: "NEW-1", name: "New School"}) '
        "{ __typename ... on Error { code message } } }",
        key=two.reader_a,
    )
    assert data["createSchool"] == {
        "__typename": "NotAllowed",
        "code": "not_allowed",
        "message": "this API key lacks the 'write' scope",
    }
    assert (await session.exec(select(School).where(School.code == "NEW-1"))).first() is None


async def test_a_key_without_read_cannot_query(api: Api, two: Two, session: AsyncSession) -> None:
    writer = await issue_key(session, two.a.programme, Scope.write)
    assert await api.errors(PROGRAMME, key=writer) == ["this API key lacks the 'read' scope"]


async def test_phones_are_masked_without_read_pii_and_whole_with_it(
    api: Api, two: Two, session: AsyncSession
) -> None:
    query = "query($id: ID!) { person(id: $id) { phone } }"
    variables = {"id": ids.encode("Person", two.a.members[0].id)}
    phone = two.a.members[0].phone
    assert phone is not None
    masked = (await api.gql(query, variables, key=two.reader_a))["person"]["phone"]
    assert masked == phone[:6] + "•" * (len(phone) - 8) + phone[-2:]
    pii = await issue_key(session, two.a.programme, Scope.read, Scope.read_pii)
    assert (await api.gql(query, variables, key=pii))["person"]["phone"] == phone


async def test_admin_only_queries_need_the_admin_scope(api: Api, two: Two) -> None:
    assert await api.errors("{ apiKeys { prefix } }", key=two.reader_a) == [
        "this API key lacks the 'admin' scope"
    ]
    keys = (await api.gql("{ apiKeys { prefix scopes } }", key=two.admin_a))["apiKeys"]
    assert len(keys) == 2 and all("secret" not in k for k in keys)


async def test_graphiql_is_served_in_the_embedded_default_and_off_when_configured(
    api: Api, settings: Settings
) -> None:
    page = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    app, client = make_api(settings.model_copy(update={"graphiql": False}))
    async with client:
        assert (await client.get("/graphql", headers={"Accept": "text/html"})).status_code == 404
    await app.state.services.engine.dispose()


async def test_introspection_can_be_turned_off(api: Api, two: Two, settings: Settings) -> None:
    query = "{ __schema { queryType { name } } }"
    assert (await api.gql(query, key=two.reader_a))["__schema"]["queryType"]["name"] == "Query"
    app, client = make_api(settings.model_copy(update={"graphql_introspection": False}))
    async with client:
        headers = {"Authorization": f"Bearer {two.reader_a}"}
        response = await client.post("/graphql", json={"query": query}, headers=headers)
        assert "introspection has been disabled" in response.json()["errors"][0]["message"]
    await app.state.services.engine.dispose()
