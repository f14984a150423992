"""The simulator speaks WhatsApp: AT's WhatsApp requests, status callbacks, smartphones.

AT's side (JSON, `apiKey` header, as the SDK's `WhatsappService` sends it):

- `POST /whatsapp/message/send` `{username, waNumber, phoneNumber, body}`: free
  text (`body.message`; a closing block of `1. label` lines is shown as quick-reply
  buttons, more than three as a list), or a document (`body.mediaType`, `url`,
  `caption`, whose closing block is buttons too).
- `POST /whatsapp/template/message/send` `{username, waNumber, phoneNumber,
  template: {name, language, params, buttons?, preview?, document?}}`: copline's own
  request for an approved template (AT's SDK has none: see `sms.whatsapp_gateway`),
  `document` the link of a document in its header.

Accepted: 200 `{"messageId", "phoneNumber", "status": "SENT"}` (the shape AT's SDK
tests show). Refused: 400 `{"status": "Failed", "errorCode", "errorMessage"}` with
`NotOnWhatsApp` (a number marked absent, or ending in a configured suffix),
`OutsideSessionWindow` (free text or a document more than `whatsapp_window_s`
after the phone last wrote to that business number), `TemplateNotApproved` (a
malformed name or language, or a template marked refused), `TemplateParamsInvalid`
(a value with a new line, a tab or five spaces, as Meta refuses), `InvalidRequest`
or `InvalidPhoneNumber`.

Each accepted message then gets status callbacks at `{service}/at/{token}/
whatsapp/status`, one delivery delay apart: `sent`, then `delivered` (and `read`)
or `failed`, as forms `{id, phoneNumber, status, date, failureReason?}`.

The smartphones: `POST /sim/phones/{phone}/whatsapp` `{text}` or `{button, message?}`
(a label or its number, of the button under the chat message whose id is `message`,
as WhatsApp tells which message a quick reply answers; without it, the latest
message with buttons) is posted to the service's `/whatsapp/inbound` as `{id, from,
to, date, text, button?, replyTo?}` and opens the phone's 24-hour window.
`GET /sim/whatsapp/{phone}` is the chat.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from random import Random
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sms.simulator.config import SimulatorConfig
from sms.simulator.messaging import E164, Answer
from sms.simulator.reports import DeliveryReporter
from sms.simulator.state import Fault, FaultMode, Faults

SEND_PATH = "/whatsapp/message/send"
TEMPLATE_PATH = "/whatsapp/template/message/send"
STATUS_CALLBACK = "/whatsapp/status"
INBOUND_CALLBACK = "/whatsapp/inbound"
TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:_[A-Z]{2})?$")
OPTION = re.compile(r"^(\d{1,2})\. (.+)$")
MEDIA_TYPES = frozenset({"Image", "Audio", "Video", "Sticker", "Voice", "Documents"})
MAX_TEXT = 4096
CHAT_PER_PHONE = 200
MAX_QUICK_REPLIES = 3

Forward = Callable[[str, dict[str, str]], Awaitable["httpx.Response | Response"]]


def split_buttons(message: str) -> tuple[str, list[str]]:
    """`text\\n\\n1. Yes\\n2. No` -> (`text`, [`Yes`, `No`]): numbered options closing a
    message are its quick-reply buttons (AT's API has no interactive buttons)."""
    head, sep, tail = message.rpartition("\n\n")
    if not sep:
        return message, []
    labels: list[str] = []
    for number, line in enumerate(tail.split("\n"), start=1):
        match = OPTION.match(line.strip())
        if match is None or int(match.group(1)) != number:
            return message, []
        labels.append(match.group(2).strip())
    return head, labels


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ChatMessage:
    __slots__ = (
        "at",
        "business_number",
        "buttons",
        "direction",
        "final_status",
        "id",
        "kind",
        "reply_to",
        "status",
        "template",
        "text",
        "url",
    )

    def __init__(
        self,
        id: str,
        direction: str,
        business_number: str,
        kind: str,
        text: str,
        *,
        buttons: list[str] | None = None,
        template: str | None = None,
        url: str | None = None,
        reply_to: str | None = None,
        status: str = "accepted",
        final_status: str = "delivered",
    ) -> None:
        self.id = id
        self.direction = direction  # "out": from the business; "in": from the phone
        self.business_number = business_number
        self.kind = kind  # text, template, document, button
        self.text = text
        self.buttons = buttons or []
        self.template = template
        self.url = url
        self.reply_to = reply_to
        self.status = status
        self.final_status = final_status
        self.at = time.time()

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "direction": self.direction,
            "business_number": self.business_number,
            "kind": self.kind,
            "text": self.text,
            # WhatsApp shows at most 3 quick-reply buttons; more options are a list.
            "buttons": list(self.buttons) if len(self.buttons) <= MAX_QUICK_REPLIES else [],
            "list": list(self.buttons) if len(self.buttons) > MAX_QUICK_REPLIES else [],
            "template": self.template,
            "url": self.url,
            "reply_to": self.reply_to,
            "status": self.status,
            "at": datetime.fromtimestamp(self.at, UTC).isoformat(),
        }


@dataclass
class WhatsAppCounters:
    requests: int = 0
    accepted: int = 0
    refused: int = 0
    faulted: int = 0
    last_request: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _refused(code: str, message: str) -> Answer:
    return Answer(400, {"status": "Failed", "errorCode": code, "errorMessage": message})


class WhatsAppDesk:
    """What the simulator knows of WhatsApp: chats, who is on it, open windows."""

    def __init__(self, config: SimulatorConfig, reporter: DeliveryReporter, rng: Random) -> None:
        self.config = config
        self.reporter = reporter
        self.rng = rng
        self.faults = Faults(rng=Random(config.seed))
        self.counters = WhatsAppCounters()
        self.chats: dict[str, list[ChatMessage]] = {}
        self.absent: set[str] = set()
        self.refused_templates: set[str] = set()
        self.last_inbound: dict[tuple[str, str], float] = {}

    def clear(self) -> None:
        self.chats.clear()
        self.absent.clear()
        self.refused_templates.clear()
        self.last_inbound.clear()
        self.counters = WhatsAppCounters()

    def on_whatsapp(self, phone: str) -> bool:
        if phone in self.absent:
            return False
        return not any(phone.endswith(s) for s in self.config.whatsapp_absent_suffixes if s)

    def window_open(self, phone: str, business_number: str) -> bool:
        last = self.last_inbound.get((phone, business_number))
        return last is not None and time.time() - last < self.config.whatsapp_window_s

    def chat(self, phone: str) -> list[ChatMessage]:
        return list(self.chats.get(phone, ()))

    def _add(self, phone: str, message: ChatMessage) -> None:
        chat = self.chats.setdefault(phone, [])
        chat.append(message)
        if len(chat) > CHAT_PER_PHONE:
            del chat[: len(chat) - CHAT_PER_PHONE]

    # --- AT's side ---------------------------------------------------------------

    def _common(
        self, body: Any, api_key: str | None, kind: str, fault: Fault | None
    ) -> Answer | tuple[str, str]:
        if not api_key or not secrets.compare_digest(api_key, self.config.api_key):
            return Answer(401, "The supplied authentication is invalid")
        if not isinstance(body, dict):
            return _refused("InvalidRequest", "expected a JSON object")
        fields = [body.get(name) for name in ("username", "waNumber", "phoneNumber")]
        if not all(isinstance(value, str) and value for value in fields):
            return _refused("InvalidRequest", "username, waNumber and phoneNumber are required")
        username, business, phone = (str(value) for value in fields)
        self.counters.requests += 1
        self.counters.last_request = {
            "username": username,
            "waNumber": business,
            "kind": kind,
            "api_key_sent": True,
        }
        if fault is not None:
            self.counters.faulted += 1
            if fault.mode is FaultMode.http500:
                return Answer(500, "Internal Server Error")
        if not (E164.match(business) and E164.match(phone)):
            return self._refuse("InvalidPhoneNumber", "not an international number")
        if not self.on_whatsapp(phone):
            return self._refuse("NotOnWhatsApp", f"{phone} is not on WhatsApp")
        return business, phone

    def _refuse(self, code: str, message: str) -> Answer:
        self.counters.refused += 1
        return _refused(code, message)

    def answer_send(self, body: Any, api_key: str | None, fault: Fault | None) -> Answer:
        checked = self._common(body, api_key, "message", fault)
        if isinstance(checked, Answer):
            return checked
        business, phone = checked
        content = body.get("body")
        if not isinstance(content, dict):
            return self._refuse("InvalidRequest", "body must be an object")
        if not self.window_open(phone, business):
            return self._refuse(
                "OutsideSessionWindow",
                "free-form messages only within 24 hours of the customer's last message",
            )
        media = content.get("mediaType")
        if media is not None:
            url = content.get("url")
            if media not in MEDIA_TYPES or not isinstance(url, str) or not url:
                return self._refuse("InvalidRequest", "mediaType and url are required together")
            caption = content.get("caption")
            text, buttons = split_buttons(caption if isinstance(caption, str) else "")
            message = self._new(business, "document", text, url=url, buttons=buttons)
        else:
            raw = content.get("message")
            if raw is None and isinstance(content.get("body"), dict):
                raw = content["body"].get("text")
            if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_TEXT:
                return self._refuse("InvalidRequest", f"message must be 1-{MAX_TEXT} characters")
            text, buttons = split_buttons(raw)
            message = self._new(business, "text", text, buttons=buttons)
        return self._accept(phone, message)

    def answer_template(self, body: Any, api_key: str | None, fault: Fault | None) -> Answer:
        checked = self._common(body, api_key, "template", fault)
        if isinstance(checked, Answer):
            return checked
        business, phone = checked
        template = body.get("template")
        if not isinstance(template, dict):
            return self._refuse("InvalidRequest", "template must be an object")
        name, language = template.get("name"), template.get("language")
        params, buttons = template.get("params", []), template.get("buttons") or []
        if (
            not isinstance(name, str)
            or not TEMPLATE_NAME.match(name)
            or name in (self.refused_templates)
        ):
            return self._refuse("TemplateNotApproved", "no approved template by that name")
        if not isinstance(language, str) or not LANGUAGE.match(language):
            return self._refuse("TemplateNotApproved", "no approved template in that language")
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            return self._refuse("TemplateParamsInvalid", "params must be a list of strings")
        if any("\n" in p or "\t" in p or "     " in p or not p.strip() for p in params):
            return self._refuse(
                "TemplateParamsInvalid", "a value has a new line, a tab, 5 spaces or nothing"
            )
        if not isinstance(buttons, list) or not all(isinstance(b, str) for b in buttons):
            return self._refuse("InvalidRequest", "buttons must be a list of strings")
        document = template.get("document")
        if document is not None and not (isinstance(document, str) and document.strip()):
            return self._refuse("InvalidRequest", "document must be the link of a document")
        preview = template.get("preview")
        text = preview if isinstance(preview, str) and preview else " · ".join([name, *params])
        message = self._new(
            business, "template", text, buttons=buttons, template=name, url=document
        )
        return self._accept(phone, message)

    def _new(self, business: str, kind: str, text: str, **extra: Any) -> ChatMessage:
        failed = self.rng.random() < self.config.whatsapp_failure_share
        return ChatMessage(
            "ATWAid_" + secrets.token_hex(12),
            "out",
            business,
            kind,
            text,
            final_status="failed" if failed else "delivered",
            **extra,
        )

    def _accept(self, phone: str, message: ChatMessage) -> Answer:
        self._add(phone, message)
        self.counters.accepted += 1
        self._report(phone, message, "sent")
        return Answer(200, {"messageId": message.id, "phoneNumber": phone, "status": "SENT"})

    def _report(self, phone: str, message: ChatMessage, status: str) -> None:
        def build() -> dict[str, str]:
            message.status = status
            form = {"id": message.id, "phoneNumber": phone, "status": status, "date": _now_iso()}
            if status == "failed":
                form["failureReason"] = "DeliveryFailure"
            return form

        def after() -> None:
            following = {"sent": message.final_status, "delivered": "read"}.get(status)
            if following == "read" and not self.config.whatsapp_read:
                return
            if following is not None:
                self._report(phone, message, following)

        self.reporter.schedule_post(STATUS_CALLBACK, build, after)

    # --- the phones ----------------------------------------------------------------

    def phone_writes(self, phone: str, body: Mapping[str, Any]) -> dict[str, str] | Response:
        """The inbound callback's form for a phone's text or button; an error answer."""
        to = body.get("to") or self.config.whatsapp_number
        text, button = body.get("text"), body.get("button")
        if not isinstance(to, str) or (text is None) == (button is None):
            return JSONResponse({"error": "expected {text} or {button}"}, status_code=400)
        if not self.on_whatsapp(phone):
            return JSONResponse({"error": f"{phone} is not on WhatsApp"}, status_code=409)
        reply_to: str | None = None
        if button is not None:
            found = self._button(phone, button, body.get("message"))
            if found is None:
                return JSONResponse({"error": "no such button"}, status_code=400)
            text, reply_to = found
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            return JSONResponse({"error": "text must be 1-4096 characters"}, status_code=400)
        message = ChatMessage(
            "ATWAin_" + secrets.token_hex(12),
            "in",
            to,
            "button" if button is not None else "text",
            text,
            reply_to=reply_to,
            status="received",
        )
        self._add(phone, message)
        self.last_inbound[(phone, to)] = time.time()
        form = {"id": message.id, "from": phone, "to": to, "date": _now_iso(), "text": text}
        if button is not None:
            form["button"] = text
        if reply_to is not None:
            form["replyTo"] = reply_to
        return form

    def _button(self, phone: str, button: Any, under: Any = None) -> tuple[str, str] | None:
        """The label tapped and the message it belongs to: the message `under` names (a
        chat holds many reminders, each with its buttons), else the latest with buttons."""
        for message in reversed(self.chats.get(phone, [])):
            if under is not None and message.id != under:
                continue
            if message.direction == "out" and message.buttons:
                labels = message.buttons
                if isinstance(button, int) and 1 <= button <= len(labels):
                    return labels[button - 1], message.id
                if isinstance(button, str):
                    for label in labels:
                        if label.casefold() == button.strip().casefold():
                            return label, message.id
                return None
        return None


def routes(desk: WhatsAppDesk, forward: Forward) -> list[Route]:
    async def at_request(request: Request, template: bool) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        fault = desk.faults.take()
        if fault is not None and fault.mode is FaultMode.timeout:
            # Hang past the client's timeout, then accept: the case that must not be resent.
            await asyncio.sleep(
                fault.delay_s if fault.delay_s is not None else desk.config.fault_timeout_s
            )
        elif fault is not None and fault.mode is FaultMode.slow:
            await asyncio.sleep(fault.delay_s or 0.0)
        key = request.headers.get("apikey")
        answer = (desk.answer_template if template else desk.answer_send)(body, key, fault)
        if isinstance(answer.body, str):
            return PlainTextResponse(answer.body, status_code=answer.status_code)
        return JSONResponse(answer.body, status_code=answer.status_code)

    async def send(request: Request) -> Response:
        return await at_request(request, template=False)

    async def send_template(request: Request) -> Response:
        return await at_request(request, template=True)

    async def chat(request: Request) -> Response:
        phone = request.path_params["phone"]
        business = desk.config.whatsapp_number
        return JSONResponse(
            {
                "phone": phone,
                "on_whatsapp": desk.on_whatsapp(phone),
                "window_open": desk.window_open(phone, business),
                "messages": [m.as_json() for m in desk.chat(phone)],
            }
        )

    async def clear(_: Request) -> Response:
        desk.clear()
        return JSONResponse({"cleared": True})

    async def absent(request: Request) -> Response:
        phone = request.path_params["phone"]
        if request.method == "DELETE":
            desk.absent.discard(phone)
        else:
            desk.absent.add(phone)
        return JSONResponse({"phone": phone, "on_whatsapp": desk.on_whatsapp(phone)})

    async def refuse_template(request: Request) -> Response:
        name = request.path_params["name"]
        if request.method == "DELETE":
            desk.refused_templates.discard(name)
        else:
            desk.refused_templates.add(name)
        return JSONResponse({"refused": sorted(desk.refused_templates)})

    async def window(request: Request) -> Response:
        """Set when the phone last wrote: `{hours_ago, to?}` (e.g. 25 closes the window)."""
        try:
            body = await request.json()
            hours_ago = float(body["hours_ago"])
            to = str(body.get("to") or desk.config.whatsapp_number)
        except (ValueError, TypeError, KeyError):
            return JSONResponse({"error": "expected {hours_ago, to?}"}, status_code=400)
        phone = request.path_params["phone"]
        desk.last_inbound[(phone, to)] = time.time() - hours_ago * 3600
        return JSONResponse({"phone": phone, "window_open": desk.window_open(phone, to)})

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                desk.faults.set(Fault.from_json(await request.json()))
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        elif request.method == "DELETE":
            desk.faults.reset()
        return JSONResponse(desk.faults.current.as_json())

    async def seen(_: Request) -> Response:
        return JSONResponse(desk.counters.as_json())

    async def phone_writes(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"error": "expected a JSON object"}, status_code=400)
        form = desk.phone_writes(request.path_params["phone"], body)
        if isinstance(form, Response):
            return form
        answer = await forward(INBOUND_CALLBACK, form)
        if not isinstance(answer, httpx.Response):
            return answer
        return JSONResponse({"id": form["id"], "service_status": answer.status_code})

    return [
        Route(SEND_PATH, send, methods=["POST"]),
        Route(TEMPLATE_PATH, send_template, methods=["POST"]),
        Route("/sim/whatsapp", clear, methods=["DELETE"]),
        Route("/sim/whatsapp/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/sim/whatsapp/requests", seen, methods=["GET"]),
        Route("/sim/whatsapp/absent/{phone}", absent, methods=["POST", "DELETE"]),
        Route(
            "/sim/whatsapp/refused-templates/{name}", refuse_template, methods=["POST", "DELETE"]
        ),
        Route("/sim/whatsapp/{phone}/window", window, methods=["POST"]),
        Route("/sim/whatsapp/{phone}", chat, methods=["GET"]),
        Route("/sim/phones/{phone}/whatsapp", phone_writes, methods=["POST"]),
    ]
