"""Africa's Talking's USSD callback forms, checked field by field before anything uses them.

A hop posts `sessionId, serviceCode, phoneNumber, networkCode, text`; the end-of-session
notice `sessionId, serviceCode, phoneNumber, networkCode, status, durationInMillis,
hopsCount, input, lastAppResponse, errorMessage, cost, date`. Each field has a shape AT
keeps to and a bound that fits its column; anything else is not AT's and is refused
with a 400 that names the fields (never their values, which may be callers' phones).
A NUL byte, which PostgreSQL refuses in any text, never gets as far as a query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from ussd_menus.engine import Hop

MAX_TEXT = 1000  # a real session's inputs never come near
# Free text (a teacher's words, AT's messages, our own reply) may hold any character
# but the control characters no handset types: GSM-7 has line breaks, nothing else.
_FREE = r"[^\x00-\x09\x0b\x0c\x0e-\x1f\x7f]"


@dataclass(frozen=True)
class Field:
    pattern: re.Pattern[str]
    shape: str  # for the 400: what AT sends
    required: bool = False


def _field(pattern: str, shape: str, *, required: bool = False) -> Field:
    return Field(re.compile(pattern), shape, required)


SESSION_ID = _field(r"[\x21-\x7e]{1,100}", "1 to 100 visible ASCII characters", required=True)
SERVICE_CODE = _field(r"[0-9*#]{1,32}", "up to 32 digits, * and #")
PHONE = _field(r"\+?[0-9]{6,15}", "+ and 6 to 15 digits")
NETWORK_CODE = _field(r"[0-9]{0,16}", "up to 16 digits")
SHORT = _field(f"{_FREE}{{0,40}}", "up to 40 characters, no control characters")
TEXT = _field(f"{_FREE}{{0,{MAX_TEXT}}}", f"up to {MAX_TEXT} characters, no control characters")

HOP: Mapping[str, Field] = {
    "sessionId": SESSION_ID,
    "serviceCode": replace(SERVICE_CODE, required=True),
    "phoneNumber": replace(PHONE, required=True),
    "networkCode": NETWORK_CODE,
    "text": TEXT,
}
EVENT: Mapping[str, Field] = {
    "sessionId": SESSION_ID,
    "serviceCode": SERVICE_CODE,
    "phoneNumber": PHONE,
    "networkCode": NETWORK_CODE,
    "status": SHORT,
    "durationInMillis": _field(r"[0-9]{0,9}", "up to 9 digits"),  # fits a 32-bit column
    "hopsCount": _field(r"[0-9]{0,6}", "up to 6 digits"),
    "input": TEXT,
    "lastAppResponse": TEXT,
    "errorMessage": TEXT,
    "cost": SHORT,
    "date": SHORT,
}


class BadForm(ValueError):
    """Fields that are not Africa's Talking's; the message names them, not their values."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid form fields: " + "; ".join(problems))
        self.fields = [p.split(" ")[0] for p in problems]


def check(form: Mapping[str, object], fields: Mapping[str, Field]) -> dict[str, str]:
    """The fields, each checked against its shape; blank optional ones as ''."""
    values: dict[str, str] = {}
    problems = []
    for name, spec in fields.items():
        value = form.get(name)
        if value is None or value == "":
            if spec.required:
                problems.append(f"{name} (missing)")
            values[name] = ""
        elif not isinstance(value, str) or not spec.pattern.fullmatch(value):
            problems.append(f"{name} ({spec.shape})")
        else:
            values[name] = value
    if problems:
        raise BadForm(problems)
    return values


def hop(form: Mapping[str, object]) -> Hop:
    values = check(form, HOP)
    return Hop(
        session_id=values["sessionId"],
        service_code=values["serviceCode"],
        phone=values["phoneNumber"],
        text=values["text"],
        network_code=values["networkCode"] or None,
    )


@dataclass(frozen=True)
class SessionEnd:
    """AT's notice that a session ended: how, and how long it took."""

    session_id: str
    status: str | None
    error_message: str | None
    duration_ms: int | None


def session_end(form: Mapping[str, object]) -> SessionEnd:
    values = check(form, EVENT)
    return SessionEnd(
        session_id=values["sessionId"],
        status=values["status"] or None,
        error_message=values["errorMessage"][:300] or None,  # the column's bound
        duration_ms=int(values["durationInMillis"]) if values["durationInMillis"] else None,
    )
