"""A local stand-in for a DHIS2 instance's `POST /api/dataValueSets`, for training and
tests (as sms/simulator stands in for Africa's Talking).

It expects basic auth (or `ApiToken <token>` when given one) and checks each data value
as DHIS2 does before storing it: the data element and org unit are uids it was told
about (11 characters, a letter first), the period is a DHIS2 period (202609, 2026Q3,
2026S2, 2026) and the value is a number. It answers as DHIS2 2.38+ does: a WebMessage
wrapping an ImportSummary with `importCount` (imported, updated, ignored) and
`conflicts`; HTTP 409 when any value was refused. `GET /sim/values` lists what it holds;
`POST /sim/faults {"status": 503, "count": 1}` makes the next requests fail.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from service.domain.dhis2 import UID, is_period


@dataclass
class Dhis2Stand:
    username: str
    password: str
    data_elements: set[str]
    org_units: set[str]
    token: str | None = None
    values: dict[tuple[str, str, str], str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: list[int] = field(default_factory=list)

    def allows(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, credentials = header.partition(" ")
        if scheme == "ApiToken" and self.token is not None:
            return hmac.compare_digest(credentials.strip(), self.token)
        if scheme != "Basic":
            return False
        try:
            decoded = base64.b64decode(credentials.strip()).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, _, password = decoded.partition(":")
        return hmac.compare_digest(user, self.username) and hmac.compare_digest(
            password, self.password
        )

    def conflicts_of(self, value: Any, index: int) -> list[dict[str, Any]]:
        if not isinstance(value, dict):
            return [_conflict("dataValue", "a data value must be an object", index)]
        found = []
        element, unit = value.get("dataElement"), value.get("orgUnit")
        period, number = value.get("period"), value.get("value")
        if not isinstance(element, str) or not UID.match(element):
            found.append(_conflict(str(element), "Data element is not a valid uid", index))
        elif element not in self.data_elements:
            found.append(_conflict(element, "Data element not found or not accessible", index))
        if not isinstance(unit, str) or not UID.match(unit):
            found.append(_conflict(str(unit), "Organisation unit is not a valid uid", index))
        elif unit not in self.org_units:
            found.append(_conflict(unit, "Organisation unit not found or not accessible", index))
        if not isinstance(period, str) or not is_period(period):
            found.append(_conflict(str(period), "Period not valid", index))
        try:
            float(str(number))
        except ValueError:
            found.append(_conflict(str(number), "Value must be a number", index))
        return found


def _conflict(obj: str, value: str, index: int) -> dict[str, Any]:
    return {"object": obj, "value": value, "indexes": [index]}


def _message(status: int, text: str) -> JSONResponse:
    names = {400: "Bad Request", 401: "Unauthorized", 503: "Service Unavailable"}
    body = {
        "httpStatus": names.get(status, "Error"),
        "httpStatusCode": status,
        "status": "ERROR",
        "message": text,
    }
    return JSONResponse(body, status_code=status)


def create_dhis2_app(stand: Dhis2Stand) -> Starlette:
    async def data_value_sets(request: Request) -> JSONResponse:
        if stand.faults:
            return _message(stand.faults.pop(0), "Simulated failure")
        if not stand.allows(request.headers.get("authorization")):
            return _message(401, "Unauthorized")
        try:
            body = await request.json()
        except ValueError:
            return _message(400, "Request body is not valid JSON")
        if not isinstance(body, dict) or not isinstance(body.get("dataValues"), list):
            return _message(400, "Expected an object with a dataValues list")
        stand.requests.append(body)
        imported = updated = ignored = 0
        conflicts: list[dict[str, Any]] = []
        for index, value in enumerate(body["dataValues"]):
            refused = stand.conflicts_of(value, index)
            if refused:
                conflicts += refused
                ignored += 1
                continue
            key = (value["dataElement"], value["period"], value["orgUnit"])
            if key in stand.values:
                updated += 1
            else:
                imported += 1
            stand.values[key] = str(value["value"])
        status = "SUCCESS" if not conflicts else ("WARNING" if imported + updated else "ERROR")
        summary = {
            "responseType": "ImportSummary",
            "status": status,
            "description": "Import process completed successfully"
            if not conflicts
            else "One or more conflicts encountered",
            "importCount": {
                "imported": imported,
                "updated": updated,
                "ignored": ignored,
                "deleted": 0,
            },
            "conflicts": conflicts,
            "dataSetComplete": str(bool(body.get("completeDate"))).lower(),
        }
        code = 409 if conflicts else 200
        return JSONResponse(
            {
                "httpStatus": "OK" if code == 200 else "Conflict",
                "httpStatusCode": code,
                "status": "OK" if code == 200 else status,
                "message": "Import was successful."
                if code == 200
                else "One more conflicts encountered, please check import summary.",
                "response": summary,
            },
            status_code=code,
        )

    async def values(request: Request) -> JSONResponse:
        listed = [
            {"dataElement": de, "period": pe, "orgUnit": ou, "value": v}
            for (de, pe, ou), v in sorted(stand.values.items())
        ]
        return JSONResponse({"dataValues": listed})

    async def faults(request: Request) -> JSONResponse:
        asked = await request.json()
        stand.faults += [int(asked.get("status", 503))] * int(asked.get("count", 1))
        return JSONResponse({"pending": len(stand.faults)})

    return Starlette(
        routes=[
            Route("/api/dataValueSets", data_value_sets, methods=["POST"]),
            Route("/sim/values", values, methods=["GET"]),
            Route("/sim/faults", faults, methods=["POST"]),
        ]
    )
