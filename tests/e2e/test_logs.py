"""What `copline serve` writes to its log at INFO: no callback token, no whole phone."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.databases import sqlite_url
from tests.e2e.conftest import running_server, server_log

TOKEN = "e2e-callback-token-that-is-long-enough-for-production"
PHONE = "+254712345678"


def test_callbacks_are_logged_by_route_never_with_the_token_or_the_caller(workdir: Path) -> None:
    url = sqlite_url(workdir / "var", "logs")
    env = {"COPLINE_CALLBACK_TOKEN": TOKEN, "COPLINE_AT_SIMULATOR": "false"}
    with running_server(url, workdir, extra_env=env) as base:
        hop = {"sessionId": "s-1", "serviceCode": "*384*1#", "phoneNumber": PHONE, "text": ""}
        assert httpx.post(f"{base}/at/{TOKEN}/ussd", data=hop).status_code == 200
        assert httpx.post(f"{base}/at/wrong-token/ussd", data=hop).status_code == 404
        assert httpx.get(f"{base}/healthz").status_code == 200
    log = server_log(base).read_text()
    assert TOKEN not in log and "wrong-token" not in log
    assert PHONE not in log
    # One access line per request, naming the route rather than the path.
    assert log.count('"route": "/at/{token}/ussd"') == 2, log
    assert '"route": "/healthz"' in log
