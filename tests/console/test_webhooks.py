"""A programme admin manages webhooks on the console: adds an endpoint (its secret shown
once), sees what was sent, resends it, disables and removes the endpoint; other roles
are refused the page."""

from __future__ import annotations

import html

import httpx
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db import SessionFactory
from service.domain.people import opt_out
from service.models import AuditEntry, WebhookDelivery, WebhookEndpoint
from service.models.enums import Channel, ConsoleRole, DeliveryStatus
from tests import factories as f
from tests.console.support import csrf_of, grant, sign_in


async def _signed_in(
    client: httpx.AsyncClient, sessions: SessionFactory, role: ConsoleRole
) -> f.World:
    async with sessions() as session:
        w = await f.world(session)
    await grant(sessions, w.facilitator, role)
    client.cookies.set("copline_lang", "en")
    await sign_in(client, sessions, w.facilitator)
    return w


async def test_a_programme_admin_adds_an_endpoint_sees_its_deliveries_and_resends_one(
    client: httpx.AsyncClient, sessions: SessionFactory, session: AsyncSession
) -> None:
    w = await _signed_in(client, sessions, ConsoleRole.programme_admin)
    page = await client.get("/webhooks")
    assert page.status_code == 200
    assert "No endpoint yet." in page.text and 'href="/webhooks"' in page.text

    refused = await client.post(
        "/webhooks",
        data={
            "csrf": csrf_of(page.text),
            "url": "ftp://partner.example.org",
            "events": "rsvp.given",
        },
    )
    assert refused.status_code == 400
    assert "The endpoint must be an http:// or https:// URL" in refused.text

    added = await client.post(
        "/webhooks",
        data={
            "csrf": csrf_of(page.text),
            "url": "https://partner.example.org/hooks",
            "events": ["person.opted_out", "rsvp.given"],
            "description": "M&E system",
        },
    )
    assert added.status_code == 200
    endpoint = (await session.exec(select(WebhookEndpoint))).one()
    assert endpoint.events == ["rsvp.given", "person.opted_out"] and endpoint.pii is False
    assert endpoint.secret in added.text  # shown once…
    again = await client.get("/webhooks")
    assert endpoint.secret not in again.text  # …and never again
    assert "https://partner.example.org/hooks" in again.text and "M&amp;E system" in again.text

    await opt_out(w.members[0], channel=Channel.sms, session=session, actor=f.OPERATOR)
    await session.commit()
    delivery = (await session.exec(select(WebhookDelivery))).one()
    delivery.status = DeliveryStatus.failed
    await session.commit()
    listed = await client.get("/webhooks")
    assert "person.opted_out" in listed.text and "Failed" in listed.text
    resent = await client.post(
        f"/webhooks/deliveries/{delivery.id}/resend", data={"csrf": csrf_of(listed.text)}
    )
    assert resent.status_code == 303
    after = await client.get("/webhooks")
    assert "It will be sent again in a moment." in html.unescape(after.text)
    await session.rollback()  # a fresh read of what the console committed
    session.expunge_all()
    assert (await session.get(WebhookDelivery, delivery.id)).status is DeliveryStatus.pending  # type: ignore[union-attr]

    disabled = await client.post(
        f"/webhooks/{endpoint.id}/disable", data={"csrf": csrf_of(after.text)}
    )
    assert disabled.status_code == 303
    await session.rollback()  # a fresh read of what the console committed
    session.expunge_all()
    assert (await session.get(WebhookEndpoint, endpoint.id)).enabled is False  # type: ignore[union-attr]
    removed = await client.post(
        f"/webhooks/{endpoint.id}/remove", data={"csrf": csrf_of(after.text)}
    )
    assert removed.status_code == 303
    await session.rollback()  # a fresh read of what the console committed
    session.expunge_all()
    assert (await session.exec(select(WebhookEndpoint))).all() == []
    actions = (
        await session.exec(select(AuditEntry).where(AuditEntry.channel == Channel.console))
    ).all()
    webhook_actions = sorted(a.action for a in actions if a.action.startswith("webhook"))
    assert webhook_actions == [
        "webhook.create", "webhook.delete", "webhook.resend", "webhook.update"
    ]  # fmt: skip
    assert {a.actor for a in actions if a.action.startswith("webhook")} == {
        f"person:{w.facilitator.id}"
    }


async def test_programme_staff_are_refused_the_webhooks_page(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    await _signed_in(client, sessions, ConsoleRole.programme_staff)
    page = await client.get("/webhooks")
    assert page.status_code == 403
    assert "Your role does not include this page." in page.text
    assert 'href="/webhooks"' not in (await client.get("/")).text
