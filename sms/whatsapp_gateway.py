"""The WhatsApp adapter: one message to one phone, through the `africastalking` SDK.

`WhatsAppGateway` is the interface the outbox worker sends through; it is shaped
so that Meta's Cloud API (or another provider) could stand behind it: free text
(with quick-reply buttons), an approved template with its values, a document.
Each call answers a `WhatsAppResult`: accepted (with the provider's message id),
refused (with a `Refusal` kind the caller falls back to SMS on), transient (send
again later) or maybe taken (the request left and no answer came back: resending
could send twice; wait for status callbacks).

`AfricasTalkingWhatsApp` subclasses the SDK's `WhatsappService` with the base URL
from configuration (AT's `https://chat.africastalking.com`, or the simulator), and
makes its requests as the SMS adapter does (`sms.sdk_http`: our sessions and
timeout, the raw response, whether any bytes left). One code path for production
and the simulator; only the base URL differs.

What AT's WhatsApp API (as its SDK 2.0.3 shows it; AT documents no more) cannot do:

- **No template message to a recipient.** The SDK's `send_template` registers a
  template with Meta (name, language, category, components) and carries no phone
  number; it also posts to `whatsapp/template/send` with no leading slash, so its
  URL is `https://chat.africastalking.comwhatsapp/...` and cannot work as shipped.
  `send` validates its body strictly (`message`, or `mediaType`+`url`+`caption`,
  or `body`/`header`/`footer` text), so template fields cannot ride on it either.
  copline therefore posts its own request, through the same service class (same
  headers, key and base URL): `POST /whatsapp/template/message/send` with
  `{username, waNumber, phoneNumber, template: {name, language, params, buttons,
  preview}}`. The simulator answers it; before production AT must confirm the
  real path and field names (the one thing to change is TEMPLATE_MESSAGE_PATH and
  `_template_request`). Outside the 24-hour window only a template may be sent,
  so without this call WhatsApp reaches nobody who has not written first.
- **No interactive (quick-reply) buttons on free text.** The buttons are written
  as numbered options under the text (a blank line, then `1. I'll come`, `2. I
  can't come`): every WhatsApp client shows them, and a typed `1` or the label
  answers. The simulator reads such a closing block as buttons and lets a phone
  tap them. Quick replies on templates are part of the approved template (Meta
  defines them at registration); `buttons` names them so the simulator can show
  them.
- **No documented refusal vocabulary, status callback or inbound callback.** The
  words read here (`REFUSALS`) are the simulator's, plus Meta's error codes that
  a provider relaying Meta would pass on (131026 not on WhatsApp, 131047 outside
  the window, 132xxx template errors). Meta's Cloud API reports "not on
  WhatsApp" and "outside the window" later, as a failed status, not as a refused
  send: a caller must treat a failed status callback like a refusal.
- No sandbox: the SDK warns that AT has none for WhatsApp, so the simulator is
  the only place these requests can be tried.

Every call blocks; callers run it with `asyncio.to_thread`.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import requests
from africastalking.Service import validate_phone
from africastalking.Whatsapp import WhatsappService

from sms.gateway import AfricasTalkingGateway
from sms.sdk_http import RawRequests, bytes_left, cause, snippet

if TYPE_CHECKING:
    from service.config import Settings

AT_CHAT_URL = "https://chat.africastalking.com"
TEMPLATE_MESSAGE_PATH = "/whatsapp/template/message/send"  # copline's own: see above
# WhatsApp's limits: at most 3 quick-reply buttons on a message (10 on a template),
# each label at most 20 characters; a text at most 4,096 characters.
MAX_BUTTONS = 10
MAX_BUTTON_TEXT = 20
MAX_TEXT = 4096
MAX_CAPTION = 1024
ACCEPTED = frozenset({"sent", "success", "queued", "accepted", "submitted"})


class WhatsAppOutcome(StrEnum):
    accepted = "accepted"
    refused = "refused"  # this message to this phone will not go: fall back to SMS
    transient = "transient"  # nothing was sent; worth sending again later
    maybe_taken = "maybe_taken"  # the request left and no answer came: never resend blindly


class Refusal(StrEnum):
    not_on_whatsapp = "not_on_whatsapp"
    outside_window = "outside_window"  # free text more than 24 h after their last message
    template_refused = "template_refused"  # unknown, paused or rejected template, bad values
    no_opt_in = "no_opt_in"
    invalid = "invalid"  # a request the provider cannot take (bad number, bad fields)


# The provider's error words and Meta's error codes, lower case, by what they mean.
REFUSALS: Mapping[str, Refusal] = {
    "notonwhatsapp": Refusal.not_on_whatsapp,
    "receiverincapable": Refusal.not_on_whatsapp,
    "131026": Refusal.not_on_whatsapp,
    "outsidesessionwindow": Refusal.outside_window,
    "reengagementrequired": Refusal.outside_window,
    "131047": Refusal.outside_window,
    "templatenotapproved": Refusal.template_refused,
    "templateparamsinvalid": Refusal.template_refused,
    "132000": Refusal.template_refused,
    "132001": Refusal.template_refused,
    "132005": Refusal.template_refused,
    "132007": Refusal.template_refused,
    "132012": Refusal.template_refused,
    "132015": Refusal.template_refused,
    "132016": Refusal.template_refused,
    "nooptin": Refusal.no_opt_in,
    "invalidrequest": Refusal.invalid,
    "invalidphonenumber": Refusal.invalid,
}


@dataclass(frozen=True)
class WhatsAppResult:
    outcome: WhatsAppOutcome
    message_id: str | None = None
    refusal: Refusal | None = None
    reason: str = ""  # the provider's word or the failure, short; never the body

    @property
    def accepted(self) -> bool:
        return self.outcome is WhatsAppOutcome.accepted


class WhatsAppGateway(Protocol):
    def send_text(
        self,
        programme_wa_number: str,
        phone: str,
        text: str,
        buttons: Sequence[str] | None = None,
    ) -> WhatsAppResult:
        """Free text, allowed only within 24 hours of the phone's last message to us."""
        ...

    def send_template(
        self,
        programme_wa_number: str,
        phone: str,
        template_name: str,
        language: str,
        params: Sequence[str],
        buttons: Sequence[str] | None = None,
        *,
        preview: str | None = None,
        document: str | None = None,
    ) -> WhatsAppResult:
        """An approved template with its values, allowed at any time to an opted-in phone.
        `preview` is the text as copline renders it (the simulator shows it); `document`
        the link of a document in the template's header (a toolkit page)."""
        ...

    def send_document(
        self,
        programme_wa_number: str,
        phone: str,
        url: str,
        caption: str | None = None,
        buttons: Sequence[str] | None = None,
    ) -> WhatsAppResult:
        """A document by its link (a toolkit page), within the 24-hour window, its
        caption with quick-reply buttons."""
        ...


def with_buttons(text: str, buttons: Sequence[str] | None) -> str:
    """The text with its buttons as numbered options: a blank line, then `1. label`."""
    if not buttons:
        return text
    options = "\n".join(f"{n}. {label}" for n, label in enumerate(buttons, start=1))
    return f"{text}\n\n{options}"


def _check_buttons(buttons: Sequence[str] | None) -> str | None:
    if not buttons:
        return None
    if len(buttons) > MAX_BUTTONS:
        return f"at most {MAX_BUTTONS} buttons"
    for label in buttons:
        if not label.strip() or len(label) > MAX_BUTTON_TEXT or "\n" in label:
            return f"a button label must be 1-{MAX_BUTTON_TEXT} characters on one line"
    return None


def chat_url(base_url: str) -> str:
    """Where WhatsApp requests go for a configured AT base URL: AT's own API hosts
    become its chat host (WhatsApp has no sandbox); anything else (the simulator, a
    proxy) is used as it is."""
    host = urlsplit(base_url).hostname or ""
    if host == "africastalking.com" or host.endswith(".africastalking.com"):
        return AT_CHAT_URL
    return base_url.rstrip("/")


class _SdkWhatsapp(RawRequests, WhatsappService):  # type: ignore[misc]  # the SDK ships no type hints
    """The SDK's WhatsApp service, aimed at `base_url`, answering with the raw response."""

    def __init__(self, username: str, api_key: str, base_url: str, timeout_s: float) -> None:
        with warnings.catch_warnings():
            # "Sandbox is currently not available": we choose the host ourselves, below.
            warnings.simplefilter("ignore", UserWarning)
            WhatsappService.__init__(self, username, api_key)
        # The SDK sets `https://chat.<domain>` in _init_service; this is the one place to change it.
        self._baseUrl = base_url
        self._init_raw(timeout_s)

    def _template_request(
        self,
        wa_number: str,
        phone: str,
        name: str,
        language: str,
        params: Sequence[str],
        buttons: Sequence[str] | None,
        preview: str | None,
        document: str | None = None,
    ) -> requests.Response:
        """copline's own request: AT's SDK has no call that sends a template to a phone."""
        template: dict[str, Any] = {"name": name, "language": language, "params": list(params)}
        if buttons:
            template["buttons"] = list(buttons)
        if preview is not None:
            template["preview"] = preview
        if document is not None:
            template["document"] = document
        data = {
            "username": self._username,
            "waNumber": wa_number,
            "phoneNumber": phone,
            "template": template,
        }
        headers = dict(self._headers)
        headers["Content-Type"] = "application/json"
        response: requests.Response = self._make_request(
            self._make_url(TEMPLATE_MESSAGE_PATH),
            "POST",
            headers=headers,
            data=json.dumps(data),
            params=None,
        )
        return response


class AfricasTalkingWhatsApp:
    """Sends WhatsApp messages through the SDK to AT, or to anything that speaks its API."""

    def __init__(
        self, *, username: str, api_key: str, base_url: str, timeout_s: float = 10.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._service = _SdkWhatsapp(username, api_key, self.base_url, timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> AfricasTalkingWhatsApp:
        """The SMS adapter's rule (`sms.gateway.AfricasTalkingGateway.from_settings`),
        with AT's API host turned into its chat host."""
        return cls(
            username=settings.at_username,
            api_key=AfricasTalkingGateway.key_for(settings),
            base_url=chat_url(AfricasTalkingGateway.base_url_for(settings)),
            timeout_s=settings.at_timeout_s,
        )

    def send_text(
        self,
        programme_wa_number: str,
        phone: str,
        text: str,
        buttons: Sequence[str] | None = None,
    ) -> WhatsAppResult:
        problem = _check_buttons(buttons)
        if problem is not None:
            return _refused_here(problem)
        body = with_buttons(text, buttons)
        if not body.strip() or len(body) > MAX_TEXT:
            return _refused_here(f"a text must be 1-{MAX_TEXT} characters")
        return self._call(lambda: self._service.send({"message": body}, programme_wa_number, phone))

    def send_template(
        self,
        programme_wa_number: str,
        phone: str,
        template_name: str,
        language: str,
        params: Sequence[str],
        buttons: Sequence[str] | None = None,
        *,
        preview: str | None = None,
        document: str | None = None,
    ) -> WhatsAppResult:
        problem = _check_buttons(buttons)
        if problem is not None:
            return _refused_here(problem)
        if not (validate_phone(programme_wa_number) and validate_phone(phone)):
            return _refused_here("not an international number")
        return self._call(
            lambda: self._service._template_request(
                programme_wa_number,
                phone,
                template_name,
                language,
                params,
                buttons,
                preview,
                document,
            )
        )

    def send_document(
        self,
        programme_wa_number: str,
        phone: str,
        url: str,
        caption: str | None = None,
        buttons: Sequence[str] | None = None,
    ) -> WhatsAppResult:
        problem = _check_buttons(buttons)
        if problem is not None:
            return _refused_here(problem)
        body = {"mediaType": "Documents", "url": url}
        text = with_buttons(caption or "", buttons).strip()
        if len(text) > MAX_CAPTION:
            return _refused_here(f"a caption must be at most {MAX_CAPTION} characters")
        if text:
            body["caption"] = text
        return self._call(lambda: self._service.send(body, programme_wa_number, phone))

    def close(self) -> None:
        """Close the kept-alive connections (they are also closed when collected)."""
        self._service.close()

    def _call(self, request: Callable[[], requests.Response]) -> WhatsAppResult:
        try:
            response = request()
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as exc:
            return _refused_here(f"bad gateway URL {self.base_url}: {snippet(str(exc), 80)}")
        except requests.RequestException as exc:
            return self._failed(exc)
        except ValueError as exc:  # the SDK's own checks (numbers, body fields): nothing left
            return _refused_here(snippet(str(exc), 120))
        return parse_answer(response.status_code, response.text)

    def _failed(self, exc: requests.RequestException) -> WhatsAppResult:
        """Retry only what provably never left; anything after the first byte may be AT's."""
        if not bytes_left():
            return WhatsAppResult(
                WhatsAppOutcome.transient, reason=f"could not reach {self.base_url}: {cause(exc)}"
            )
        if isinstance(exc, requests.Timeout):
            reason = f"no answer within {self.timeout_s:g}s"
        else:
            reason = f"the connection broke after the request left: {cause(exc)}"
        return WhatsAppResult(WhatsAppOutcome.maybe_taken, reason=reason)


def _refused_here(reason: str) -> WhatsAppResult:
    return WhatsAppResult(WhatsAppOutcome.refused, refusal=Refusal.invalid, reason=reason)


def parse_answer(status: int, text: str) -> WhatsAppResult:
    """AT's answer to a send: `{"messageId", "phoneNumber", "status": "SENT"}` when it
    took the message; an error word (`errorCode`, else `status`) when it did not."""
    if status in (401, 429) or status >= 500:
        # 401 is our key, not the message: once an operator fixes it, the retry goes out.
        return WhatsAppResult(WhatsAppOutcome.transient, reason=f"HTTP {status}: {snippet(text)}")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        if 200 <= status < 300:
            # Taken, perhaps, but we cannot tell which id: wait for the status callbacks.
            return WhatsAppResult(
                WhatsAppOutcome.maybe_taken, reason=f"unreadable answer: {snippet(text)}"
            )
        return WhatsAppResult(
            WhatsAppOutcome.refused,
            refusal=Refusal.invalid,
            reason=f"HTTP {status}: {snippet(text)}",
        )
    word = str(body.get("status") or "")
    message_id = body.get("messageId")
    if 200 <= status < 300 and word.lower() in ACCEPTED and message_id not in (None, "", "None"):
        return WhatsAppResult(WhatsAppOutcome.accepted, message_id=str(message_id), reason=word)
    code = str(body.get("errorCode") or body.get("code") or word or f"HTTP {status}")
    detail = str(body.get("errorMessage") or body.get("message") or "")
    refusal = REFUSALS.get(code.replace(" ", "").replace("_", "").lower(), Refusal.invalid)
    reason = snippet(f"{code}: {detail}" if detail else code, 120)
    return WhatsAppResult(WhatsAppOutcome.refused, refusal=refusal, reason=reason)
