"""AT's `POST /version1/messaging`, as the bulk SMS API answers it.

Written from AT's documentation and observed answers, not from `sms.gateway`, so
the adapter's tests check it against an independent reading of the API.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from random import Random
from typing import Any

from service.gsm7 import is_gsm7, septets
from sms.simulator.config import SimulatorConfig
from sms.simulator.state import Counters, Fault, FaultMode, Inbox, InboxMessage

E164 = re.compile(r"^\+\d{10,15}$")
SENDER_ID = re.compile(r"^(?:[A-Za-z0-9 ]{1,11}|\d{1,15})$")

STATUS_NAMES = {
    101: "Success",
    102: "Queued",
    401: "RiskHold",
    402: "InvalidSenderId",
    403: "InvalidPhoneNumber",
    404: "UnsupportedNumberType",
    405: "InsufficientBalance",
    406: "UserInBlacklist",
    407: "CouldNotRoute",
    409: "DoNotDisturbRejection",
    500: "InternalServerError",
    501: "GatewayError",
    502: "RejectedByGateway",
}

# Country code -> the network code AT reports for its biggest operator there.
_NETWORKS = {
    "+254": "63902",  # Safaricom
    "+250": "63510",  # MTN Rwanda
    "+255": "64002",  # Tigo Tanzania
    "+256": "64110",  # MTN Uganda
    "+265": "65010",  # Airtel Malawi
    "+232": "61901",  # Airtel Sierra Leone
    "+234": "62130",  # MTN Nigeria
}
SANDBOX_NETWORK = "99999"


def network_code(phone: str) -> str:
    return _NETWORKS.get(phone[:4], SANDBOX_NETWORK)


def segments(text: str) -> int:
    """Billed parts: GSM-7 160 alone or 153 per part, UCS-2 70 alone or 67 per part."""
    if is_gsm7(text):
        units, single, part = septets(text), 160, 153
    else:
        units, single, part = len(text.encode("utf-16-le")) // 2, 70, 67
    if units <= single:
        return 1
    return math.ceil(units / part)


@dataclass
class Answer:
    status_code: int
    body: dict[str, Any] | str


class MessagingDesk:
    """Takes a messaging request's form and answers as AT would, filling inboxes."""

    def __init__(
        self,
        config: SimulatorConfig,
        inbox: Inbox,
        counters: Counters,
        rng: Random,
        on_accepted: Callable[[str, InboxMessage], None],
    ) -> None:
        self.config = config
        self.inbox = inbox
        self.counters = counters
        self.rng = rng
        self.on_accepted = on_accepted

    def answer(self, form: Mapping[str, str], api_key: str | None, fault: Fault | None) -> Answer:
        if not api_key or not secrets.compare_digest(api_key, self.config.api_key):
            return Answer(401, "The supplied authentication is invalid")
        missing = [name for name in ("username", "to", "message") if not form.get(name)]
        if missing:
            return Answer(400, f"Request is missing required form field '{missing[0]}'")
        numbers = [number.strip() for number in form["to"].split(",") if number.strip()]
        self.counters.requests += 1
        self.counters.recipients += len(numbers)
        self.counters.last_request = {
            "username": form["username"],
            "from": form.get("from"),
            "bulkSMSMode": form.get("bulkSMSMode"),
            "enqueue": form.get("enqueue"),
            "recipients": len(numbers),
            "api_key_sent": True,
        }
        if fault is not None:
            self.counters.faulted += 1
            if fault.mode is FaultMode.http500:
                return Answer(500, "Internal Server Error")
        sender = form.get("from") or self.config.default_sender_id
        if not SENDER_ID.match(sender):
            return Answer(201, {"SMSMessageData": {"Message": "InvalidSenderId", "Recipients": []}})
        return Answer(201, self._send(form["message"], numbers, sender, form, fault))

    def _send(
        self,
        message: str,
        numbers: list[str],
        sender: str,
        form: Mapping[str, str],
        fault: Fault | None,
    ) -> dict[str, Any]:
        price = self.config.price * segments(message)
        # Queued for sending later (enqueue=1) is 102, yet AT still writes "Success".
        accepted_code = 102 if form.get("enqueue") == "1" else 101
        rejecting = fault is not None and fault.mode is FaultMode.reject
        recipients: list[dict[str, Any]] = []
        total = Decimal(0)
        for number in numbers:
            code = accepted_code if E164.match(number) else 403
            if code < 400 and rejecting and fault and self.rng.random() < fault.reject_share:
                code = fault.reject_status_code
            if code >= 400:
                self.counters.rejected += 1
                recipients.append(_refused(number, code))
                continue
            failed = self.rng.random() < self.config.failure_share
            inbox_message = InboxMessage(
                id="ATXid_" + secrets.token_hex(16),
                sender=sender,
                text=message,
                final_status="Failed" if failed else "Success",
            )
            self.inbox.add(number, inbox_message)
            self.counters.accepted += 1
            self.on_accepted(number, inbox_message)
            total += price
            recipients.append(
                {
                    "statusCode": code,
                    "number": number,
                    "status": "Success",
                    "cost": self._money(price),
                    "messageId": inbox_message.id,
                }
            )
        sent = sum(1 for item in recipients if item["statusCode"] < 400)
        total_text = self._money(total) if sent else "0"
        return {
            "SMSMessageData": {
                "Message": f"Sent to {sent}/{len(numbers)} Total Cost: {total_text}",
                "Recipients": recipients,
            }
        }

    def _money(self, amount: Decimal) -> str:
        return f"{self.config.currency} {amount:.4f}"


def _refused(number: str, code: int) -> dict[str, Any]:
    # AT's exact shape for a refused recipient: cost "0" and the string "None".
    return {
        "statusCode": code,
        "number": number,
        "status": STATUS_NAMES.get(code, "InternalServerError" if code >= 500 else "Failed"),
        "cost": "0",
        "messageId": "None",
    }
