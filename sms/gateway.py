"""The one adapter around the `africastalking` SDK: send one body to many numbers.

Everything odd about the SDK stays in this module:

- it hard-codes Africa's Talking's hosts; its SMS service's `_baseUrl` is the one
  attribute that points it elsewhere (the local simulator, or AT itself);
- it sends with module-level `requests.post` and hides a failed request's status;
  `_SdkSms` makes its requests through `sms.sdk_http.RawRequests` instead (our
  sessions, our timeout, the whole response back), as the WhatsApp adapter does;
- it refuses a whole batch with ValueError when one number fails its regex, so
  such numbers are answered here, as AT would (403 InvalidPhoneNumber), and only
  the others are sent;
- AT writes `"messageId": "None"` and `"cost": "0"` for recipients it refused,
  and answers 2xx with no recipients at all when the whole request was refused
  (`{"Message": "InvalidSenderId", "Recipients": []}`).

Whether a failed request may be sent again is decided by one fact: did any of its
bytes leave for the gateway? (`sms.sdk_http.bytes_left`). A failure before that
(no route, DNS, refused, a TLS handshake that failed, a connect timeout) provably
sent nothing and is retried. A failure after it (a reset, a closed connection, no
answer in time) may have reached AT, which would then send the SMS while we send it
again: such a request is `maybe_taken`, and its rows wait for delivery reports
instead of being resent.

`send` blocks; callers run it with `asyncio.to_thread`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import requests
from africastalking.Service import validate_phone
from africastalking.SMS import SMSService

from sms.sdk_http import RawRequests, bytes_left, cause, snippet
from sms.simulator.config import DEFAULT_API_KEY

if TYPE_CHECKING:
    from service.config import Settings

MAX_RECIPIENTS = 1000  # AT's limit for one bulk request

# Where AT itself answers, for a deployment that has a key but no base URL of its own.
AT_PRODUCTION_URL = "https://api.africastalking.com"
AT_SANDBOX_URL = "https://api.sandbox.africastalking.com"
SIMULATOR_URL = "http://127.0.0.1:8790"
# The key the simulator expects when copline has none of AT's (the SDK needs one).
SIMULATOR_API_KEY = DEFAULT_API_KEY


class RecipientOutcome(StrEnum):
    accepted = "accepted"
    transient = "transient"  # worth sending again later
    permanent = "permanent"  # sending again gives the same answer


# AT's per-recipient status codes (SMS API reference, "statusCode").
STATUS_NAMES: Mapping[int, str] = {
    100: "Processed",
    101: "Success",  # documented as "Sent"; the API writes "Success"
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
ACCEPTED_CODES = frozenset({100, 101, 102})
# A top-up fixes 405; the 5xx are AT's or the operator's trouble of the moment.
TRANSIENT_CODES = frozenset({405, 500, 501, 502})
_CODES_BY_NAME = {name.lower(): code for code, name in STATUS_NAMES.items()} | {
    "sent": 101,
    "success": 101,
}


def outcome_for(status_code: int) -> RecipientOutcome:
    if status_code in ACCEPTED_CODES:
        return RecipientOutcome.accepted
    # A code AT adds later is retried only if it reads like a server-side failure.
    if status_code in TRANSIENT_CODES or status_code >= 500:
        return RecipientOutcome.transient
    return RecipientOutcome.permanent


@dataclass(frozen=True)
class RecipientResult:
    number: str
    status: str
    status_code: int
    message_id: str | None
    cost: Decimal | None
    currency: str | None
    outcome: RecipientOutcome


class ErrorKind(StrEnum):
    """Why a whole request failed, in a word fit for a metric's label (the reason
    itself may quote the gateway's answer)."""

    unreachable = "unreachable"  # nothing left: no route, DNS, refused, connect timeout
    maybe_taken = "maybe_taken"  # the request left and no answer came back
    http_error = "http_error"  # answered with an HTTP error status
    request_refused = "request_refused"  # 2xx, but the whole request refused (its Message)
    unreadable = "unreadable"  # an answer that is not AT's
    bad_url = "bad_url"  # the configured gateway URL is not one


def recipient_error_kind(status_code: int) -> str:
    """A recipient's failure as a label: AT's name for its status code, `other` for a
    code AT has not documented."""
    return STATUS_NAMES.get(status_code, "other")


class GatewayError(Exception):
    """The whole request failed: no recipient got an answer of its own.

    `maybe_taken`: the request reached AT but no answer came back in time, so AT may
    have taken it. Resending could send twice; the caller must not retry blindly.
    """

    def __init__(
        self,
        reason: str,
        *,
        transient: bool,
        maybe_taken: bool = False,
        kind: ErrorKind = ErrorKind.http_error,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.maybe_taken = maybe_taken
        self.kind = ErrorKind.maybe_taken if maybe_taken else kind


class Gateway(Protocol):
    def send(
        self, message: str, recipients: Sequence[str], sender_id: str | None = None
    ) -> list[RecipientResult]: ...


class _SdkSms(RawRequests, SMSService):  # type: ignore[misc]  # the SDK ships no type hints
    """The SDK's SMS service, aimed at `base_url`, answering with the raw response."""

    def __init__(self, username: str, api_key: str, base_url: str, timeout_s: float) -> None:
        SMSService.__init__(self, username, api_key)
        # The SDK builds `<host>/version1` in _init_service; this is the one place to change it.
        self._baseUrl = base_url.rstrip("/") + "/version1"
        self._init_raw(timeout_s)


class AfricasTalkingGateway:
    """Sends through the `africastalking` SDK to AT, or to anything that speaks its API."""

    def __init__(
        self, *, username: str, api_key: str, base_url: str, timeout_s: float = 10.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._sms = _SdkSms(username, api_key, self.base_url, timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> AfricasTalkingGateway:
        return cls(
            username=settings.at_username,
            api_key=cls.key_for(settings),
            base_url=cls.base_url_for(settings),
            timeout_s=settings.at_timeout_s,
        )

    @staticmethod
    def base_url_for(settings: Settings) -> str:
        """With no API key: the simulator at `at_base_url`. With one: `at_base_url` if it
        was set, else AT itself (its sandbox for the `sandbox` username)."""
        if settings.at_api_key is None:
            return settings.at_base_url
        if settings.at_base_url.rstrip("/") == SIMULATOR_URL:
            # A real key with the simulator's address is a deployment that forgot
            # COPLINE_AT_BASE_URL, not one that wants its reminders to go nowhere.
            return AT_SANDBOX_URL if settings.at_username == "sandbox" else AT_PRODUCTION_URL
        return settings.at_base_url

    @staticmethod
    def key_for(settings: Settings) -> str:
        """The API key copline sends: AT's, or the simulator's when it has none."""
        if settings.at_api_key is None:
            return SIMULATOR_API_KEY
        return settings.at_api_key.get_secret_value()

    def send(
        self, message: str, recipients: Sequence[str], sender_id: str | None = None
    ) -> list[RecipientResult]:
        """One result per recipient AT reported on, then one per number refused here.

        Raises GatewayError when the request as a whole failed; a number AT left out
        of its answer has no result (its fate is unknown, not failed).
        """
        if len(recipients) > MAX_RECIPIENTS:
            raise ValueError(f"at most {MAX_RECIPIENTS} recipients per request")
        sendable = [number for number in recipients if validate_phone(number)]
        refused = [_refused_here(number) for number in recipients if not validate_phone(number)]
        if not sendable:
            return refused
        try:
            response: requests.Response = self._sms.send(message, sendable, sender_id=sender_id)
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as exc:
            raise GatewayError(
                f"bad gateway URL {self.base_url}: {exc}", transient=False, kind=ErrorKind.bad_url
            ) from exc
        except requests.RequestException as exc:
            raise _request_failed(exc, self.base_url, self.timeout_s) from exc
        return _parse_response(response) + refused

    def close(self) -> None:
        """Close the kept-alive connections (they are also closed when collected)."""
        self._sms.close()


def _request_failed(
    exc: requests.RequestException, base_url: str, timeout_s: float
) -> GatewayError:
    """Retry only what provably never left; anything after the first byte may be AT's."""
    if not bytes_left():
        return GatewayError(
            f"could not reach {base_url}: {cause(exc)}", transient=True, kind=ErrorKind.unreachable
        )
    if isinstance(exc, requests.Timeout):
        reason = f"no answer within {timeout_s:g}s"
    else:
        reason = f"the connection broke after the request left: {cause(exc)}"
    return GatewayError(reason, transient=False, maybe_taken=True)


def _refused_here(number: str) -> RecipientResult:
    return RecipientResult(
        number=number,
        status="InvalidPhoneNumber",
        status_code=403,
        message_id=None,
        cost=None,
        currency=None,
        outcome=RecipientOutcome.permanent,
    )


def _parse_response(response: requests.Response) -> list[RecipientResult]:
    status = response.status_code
    if status in (401, 429) or status >= 500:
        # 401 is our key, not the message: once an operator fixes it, the retry goes out.
        raise GatewayError(f"HTTP {status}: {snippet(response.text)}", transient=True)
    if not 200 <= status < 300:
        raise GatewayError(f"HTTP {status}: {snippet(response.text)}", transient=False)
    try:
        body = json.loads(response.text)
        data = body["SMSMessageData"]
        recipients = data["Recipients"]
        if not isinstance(recipients, list):
            raise TypeError("Recipients is not a list")
        if not recipients:
            # The whole request was refused; AT names why in "Message".
            reason = str(data.get("Message") or "no recipients in the answer")
            code = _CODES_BY_NAME.get(reason.lower())
            transient = code is not None and outcome_for(code) is RecipientOutcome.transient
            raise GatewayError(reason, transient=transient, kind=ErrorKind.request_refused)
        return [_recipient(item) for item in recipients]
    except GatewayError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise GatewayError(
            f"unreadable answer ({type(exc).__name__}): {snippet(response.text)}",
            transient=False,
            kind=ErrorKind.unreadable,
        ) from exc


def _recipient(item: Mapping[str, Any]) -> RecipientResult:
    status = str(item.get("status") or "")
    raw_code = item.get("statusCode")
    code = int(raw_code) if raw_code is not None else _CODES_BY_NAME.get(status.lower(), 0)
    message_id = item.get("messageId")
    cost, currency = parse_cost(item.get("cost"))
    return RecipientResult(
        number=str(item["number"]),
        status=status or STATUS_NAMES.get(code, str(code)),
        status_code=code,
        message_id=None if message_id in (None, "", "None") else str(message_id),
        cost=cost,
        currency=currency,
        outcome=outcome_for(code),
    )


def parse_cost(raw: object) -> tuple[Decimal | None, str | None]:
    """`"KES 0.8000"` -> (Decimal("0.8000"), "KES"); AT's `"0"` or nothing -> (None, None)."""
    if not isinstance(raw, str):
        return None, None
    parts = raw.split()
    if len(parts) != 2:
        return None, None
    currency, amount = parts
    try:
        return Decimal(amount), currency.upper()
    except InvalidOperation:
        return None, None
