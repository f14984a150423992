"""Partners' browser dashboards may call /graphql from the origins listed in settings,
and from nowhere else; nothing but /graphql answers other sites at all."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from service.config import Settings
from service.db import SessionFactory
from tests.service.api.conftest import Api, Two, make_api

DASHBOARD = "https://dashboard.partner.example"
STRANGER = "https://evil.example"
PROGRAMME = {"query": "{ programme { slug } }"}


def preflight(
    origin: str, method: str = "POST", headers: str = "authorization,content-type"
) -> dict[str, str]:
    """What a browser asks before a cross-origin POST with a key and a JSON body."""
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


@pytest_asyncio.fixture
async def partner_api(settings: Settings, sessions: SessionFactory) -> AsyncIterator[Api]:
    """The app with one partner dashboard's origin listed."""
    app, client = make_api(settings.model_copy(update={"cors_origins": [DASHBOARD]}))
    async with client:
        yield Api(client=client, app=app)
    await app.state.services.engine.dispose()


async def test_a_listed_origin_may_post_with_a_bearer_key_after_its_preflight(
    partner_api: Api,
) -> None:
    response = await partner_api.client.options("/graphql", headers=preflight(DASHBOARD))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == DASHBOARD
    assert set(response.headers["access-control-allow-methods"].split(", ")) == {"GET", "POST"}
    allowed = {h.lower() for h in response.headers["access-control-allow-headers"].split(", ")}
    assert {"authorization", "content-type"} <= allowed
    assert int(response.headers["access-control-max-age"]) > 0
    # Keys, not cookies: a browser never sends copline's cookies along.
    assert "access-control-allow-credentials" not in response.headers


async def test_a_preflight_from_an_unlisted_origin_is_refused(partner_api: Api) -> None:
    response = await partner_api.client.options("/graphql", headers=preflight(STRANGER))
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_a_preflight_for_another_method_or_header_is_refused(partner_api: Api) -> None:
    for asked in (preflight(DASHBOARD, method="PUT"), preflight(DASHBOARD, headers="x-secret")):
        response = await partner_api.client.options("/graphql", headers=asked)
        assert response.status_code == 400, asked


async def test_a_listed_origins_query_with_a_key_is_answered_and_readable(
    partner_api: Api, two: Two
) -> None:
    response = await partner_api.client.post(
        "/graphql",
        json=PROGRAMME,
        headers={"Origin": DASHBOARD, "Authorization": f"Bearer {two.reader_a}"},
    )
    assert response.status_code == 200
    assert response.json()["data"]["programme"]["slug"] == "ke-clusters"
    assert response.headers["access-control-allow-origin"] == DASHBOARD
    # Caches must not hand this answer to another origin.
    assert "Origin" in response.headers["vary"]
    assert "access-control-allow-credentials" not in response.headers


async def test_a_refusal_is_readable_by_a_listed_origin_too(partner_api: Api, two: Two) -> None:
    # Without the header the dashboard would see an opaque network error, not "missing key".
    response = await partner_api.client.post(
        "/graphql", json=PROGRAMME, headers={"Origin": DASHBOARD}
    )
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == DASHBOARD


async def test_an_unlisted_origin_gets_no_cors_headers(partner_api: Api, two: Two) -> None:
    response = await partner_api.client.post(
        "/graphql",
        json=PROGRAMME,
        headers={"Origin": STRANGER, "Authorization": f"Bearer {two.reader_a}"},
    )
    # The browser keeps the answer from the page: no header names its origin.
    assert cors_headers(response) == {}


async def test_only_graphql_answers_other_origins(partner_api: Api, settings: Settings) -> None:
    token = settings.callback_token.get_secret_value()
    for path in ("/healthz", f"/at/{token}/ussd", f"/at/{token}/sms/inbound"):
        response = await partner_api.client.options(path, headers=preflight(DASHBOARD))
        assert response.status_code == 405 and cors_headers(response) == {}, path
    response = await partner_api.client.get("/healthz", headers={"Origin": DASHBOARD})
    assert response.status_code == 200 and cors_headers(response) == {}


async def test_by_default_no_origin_is_answered(api: Api, two: Two) -> None:
    assert Settings(_env_file=None).cors_origins == []
    response = await api.client.options("/graphql", headers=preflight(DASHBOARD))
    assert response.status_code == 405 and cors_headers(response) == {}
    response = await api.client.post(
        "/graphql",
        json=PROGRAMME,
        headers={"Origin": DASHBOARD, "Authorization": f"Bearer {two.reader_a}"},
    )
    assert response.status_code == 200 and cors_headers(response) == {}
