"""Posting a `dataValueSets` payload to a DHIS2 instance and reading its import summary.

DHIS2 2.38 and later wrap the ImportSummary in a WebMessage (`{"status", "httpStatusCode",
"response": {"responseType": "ImportSummary", …}}`) and answer 409 when values were
refused; older versions answer the ImportSummary itself with 200. Both are read.
Credentials go only in the Authorization header: a personal access token as
`ApiToken <token>`, else basic auth; neither is ever logged or kept in the audit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

PATH = "/api/dataValueSets"


@dataclass(frozen=True)
class Credentials:
    base_url: str
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    timeout_s: float = 30.0

    def headers(self) -> dict[str, str]:
        if self.token is not None:
            return {"Authorization": f"ApiToken {self.token.get_secret_value()}"}
        return {}

    def auth(self) -> httpx.Auth:
        if self.token is None and self.username and self.password is not None:
            return httpx.BasicAuth(self.username, self.password.get_secret_value())
        return httpx.Auth()  # no credentials of this kind: the request goes as it is


@dataclass
class ImportSummary:
    """What DHIS2 said: the HTTP status, its import status and counts, its conflicts."""

    http_status: int
    status: str  # SUCCESS, WARNING, ERROR (or OK/ERROR from a bare WebMessage)
    imported: int = 0
    updated: int = 0
    ignored: int = 0
    deleted: int = 0
    conflicts: list[dict[str, str]] = field(default_factory=list)
    message: str = ""

    @property
    def accepted(self) -> bool:
        return 200 <= self.http_status < 300 and self.status in ("SUCCESS", "OK")

    def as_record(self) -> dict[str, Any]:
        return {
            "http_status": self.http_status,
            "status": self.status,
            "import_count": {
                "imported": self.imported,
                "updated": self.updated,
                "ignored": self.ignored,
                "deleted": self.deleted,
            },
            "conflicts": self.conflicts,
            "message": self.message,
        }


class Dhis2Unreachable(Exception):
    """No answer: the instance could not be reached or did not answer in time."""


def read_summary(status: int, body: Any) -> ImportSummary:
    if not isinstance(body, dict):
        return ImportSummary(status, "ERROR", message=f"HTTP {status} without an import summary")
    wrapped = body.get("response")
    inner: dict[str, Any] = wrapped if isinstance(wrapped, dict) else body
    counts = inner.get("importCount") or {}
    conflicts = [
        {"object": str(c.get("object", "")), "value": str(c.get("value", ""))}
        for c in inner.get("conflicts") or []
        if isinstance(c, dict)
    ]
    return ImportSummary(
        http_status=status,
        status=str(inner.get("status") or body.get("status") or "ERROR"),
        imported=int(counts.get("imported", 0)),
        updated=int(counts.get("updated", 0)),
        ignored=int(counts.get("ignored", 0)),
        deleted=int(counts.get("deleted", 0)),
        conflicts=conflicts,
        message=str(body.get("message") or inner.get("description") or ""),
    )


async def post_data_values(credentials: Credentials, payload: dict[str, Any]) -> ImportSummary:
    url = credentials.base_url.rstrip("/") + PATH
    try:
        async with httpx.AsyncClient(timeout=credentials.timeout_s) as client:
            response = await client.post(
                url, json=payload, headers=credentials.headers(), auth=credentials.auth()
            )
    except httpx.HTTPError as exc:
        raise Dhis2Unreachable(f"cannot reach DHIS2 at {url}: {type(exc).__name__}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    summary = read_summary(response.status_code, body)
    if response.status_code in (401, 403):
        summary.status = "ERROR"
        summary.message = "DHIS2 refused the credentials (check COPLINE_DHIS2_*)"
    elif response.status_code >= 500:
        summary.status = "ERROR"
        summary.message = f"DHIS2 failed with HTTP {response.status_code}"
    return summary
