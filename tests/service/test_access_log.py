"""The access log names the route that answered, never the path: ours carry the token."""

from __future__ import annotations

import httpx
from structlog.testing import capture_logs

from service.app import create_app
from service.config import Settings
from service.db import SessionFactory

PHONE = "+254712345678"


async def test_each_request_is_one_line_with_its_route_template(
    settings: Settings, sessions: SessionFactory
) -> None:
    app = create_app(settings)
    token = settings.callback_token.get_secret_value()
    hop = {"sessionId": "s-1", "serviceCode": "*384*9#", "phoneNumber": PHONE, "text": ""}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://copline.test"
    ) as client:
        with capture_logs() as logs:
            assert (await client.post(f"/at/{token}/ussd", data=hop)).status_code == 200
            assert (await client.post(f"/at/{token}/nothing", data=hop)).status_code == 404
            assert (await client.get("/graphql?query={__typename}")).status_code == 401
    await app.state.services.engine.dispose()
    access = [entry for entry in logs if entry["event"] == "http.request"]
    assert [(a["method"], a["route"], a["status"]) for a in access] == [
        ("POST", "/at/{token}/ussd", 200),
        ("POST", "<no route>", 404),  # a path no route matched is not written down
        ("GET", "/graphql", 401),
    ]
    assert all(isinstance(a["ms"], float) for a in access)
    assert not any(token in str(entry) or PHONE in str(entry) for entry in logs)
