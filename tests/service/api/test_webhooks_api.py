"""Webhooks through GraphQL: an admin key registers, changes and removes endpoints, sees
what was sent and resends it; other keys and other programmes are refused."""

from __future__ import annotations

import httpx
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from standardwebhooks import Webhook

from service.db import SessionFactory
from service.domain.people import opt_out
from service.models import AuditEntry, WebhookDelivery
from service.models.enums import Channel
from service.webhook_sender import WebhookSender
from tests import factories as f
from tests.service.api.conftest import Api, Two

CREATE = """mutation($i: WebhookEndpointInput!) { createWebhookEndpoint(input: $i) {
    __typename ... on WebhookEndpointCreated { secret endpoint { id url events pii enabled } }
    ... on Error { code message } } }"""
UPDATE = """mutation($id: ID!, $i: WebhookEndpointUpdate!) {
    updateWebhookEndpoint(id: $id, input: $i) {
    __typename ... on WebhookEndpointPayload { endpoint { enabled events } }
    ... on Error { code message } } }"""
DELIVERIES = """query { webhookDeliveries { id webhookId event status attempts payload
    recentAttempts { statusCode error } } }"""
RESEND = """mutation($id: ID!) { resendWebhookDelivery(id: $id) {
    __typename ... on WebhookDeliveryPayload { delivery { status webhookId } }
    ... on Error { code message } } }"""
ENDPOINT = {"url": "https://partner.example.org/hooks", "events": ["person_opted_out"]}


async def test_an_admin_registers_an_endpoint_sees_its_deliveries_and_resends_one(
    api: Api, two: Two, session: AsyncSession, sessions: SessionFactory
) -> None:
    created = (await api.gql(CREATE, {"i": ENDPOINT}, key=two.admin_a))["createWebhookEndpoint"]
    assert created["__typename"] == "WebhookEndpointCreated"
    assert created["endpoint"]["events"] == ["person_opted_out"]
    assert created["endpoint"]["pii"] is False and created["endpoint"]["enabled"] is True
    secret = created["secret"]
    assert secret.startswith("whsec_")
    listed = await api.gql("{ webhookEndpoints { id url } }", key=two.admin_a)
    assert listed["webhookEndpoints"] == [{"id": created["endpoint"]["id"], "url": ENDPOINT["url"]}]
    assert secret not in str(listed)  # shown once

    await opt_out(two.a.members[0], channel=Channel.sms, session=session, actor=f.OPERATOR)
    await session.commit()
    taken: list[httpx.Request] = []

    def partner(request: httpx.Request) -> httpx.Response:
        taken.append(request)
        return httpx.Response(200)

    await WebhookSender(sessions, transport=httpx.MockTransport(partner)).send_until_idle()
    [request] = taken
    Webhook(secret).verify(request.content, dict(request.headers))

    [delivery] = (await api.gql(DELIVERIES, key=two.admin_a))["webhookDeliveries"]
    assert delivery["event"] == "person_opted_out" and delivery["status"] == "delivered"
    assert delivery["webhookId"] == request.headers["webhook-id"]
    assert delivery["payload"]["type"] == "person.opted_out"
    assert delivery["recentAttempts"] == [{"statusCode": 200, "error": None}]

    resent = (await api.gql(RESEND, {"id": delivery["id"]}, key=two.admin_a))[
        "resendWebhookDelivery"
    ]
    assert resent["delivery"] == {"status": "pending", "webhookId": delivery["webhookId"]}
    actions = (
        await session.exec(select(AuditEntry.action).where(AuditEntry.action.startswith("webhook")))
    ).all()
    assert sorted(actions) == ["webhook.create", "webhook.resend"]


async def test_webhooks_need_an_admin_key_of_the_programme(
    api: Api, two: Two, session: AsyncSession
) -> None:
    refused = (await api.gql(CREATE, {"i": ENDPOINT}, key=two.reader_a))["createWebhookEndpoint"]
    assert refused["__typename"] == "NotAllowed" and "'admin' scope" in refused["message"]
    for query in ("{ webhookEndpoints { id } }", DELIVERIES):
        assert await api.errors(query, key=two.reader_a) == ["this API key lacks the 'admin' scope"]
    mine = (await api.gql(CREATE, {"i": ENDPOINT}, key=two.admin_a))["createWebhookEndpoint"]
    theirs = await api.gql(
        UPDATE, {"id": mine["endpoint"]["id"], "i": {"enabled": False}}, key=two.admin_b
    )
    assert theirs["updateWebhookEndpoint"]["__typename"] == "NotFound"
    assert (await api.gql("{ webhookEndpoints { id } }", key=two.admin_b))["webhookEndpoints"] == []
    mine_now = await api.gql(
        UPDATE, {"id": mine["endpoint"]["id"], "i": {"enabled": False}}, key=two.admin_a
    )
    assert mine_now["updateWebhookEndpoint"]["endpoint"]["enabled"] is False


async def test_an_endpoint_that_is_not_http_is_refused_with_a_clear_error(
    api: Api, two: Two, session: AsyncSession
) -> None:
    answer = await api.gql(
        CREATE, {"i": {**ENDPOINT, "url": "ftp://partner.example.org/x"}}, key=two.admin_a
    )
    refused = answer["createWebhookEndpoint"]
    assert refused["__typename"] == "ValidationError"
    assert refused["message"] == "the endpoint must be an http:// or https:// URL"
    assert (await session.exec(select(WebhookDelivery))).all() == []
