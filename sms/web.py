"""Africa's Talking's SMS callbacks (delivery reports, inbound messages, opt-outs) and
WhatsApp's (status, inbound: `sms.whatsapp_callbacks`).

Each answers 200 once the change is committed, 400 for a form that is not AT's
(AT then shows the error in its dashboard), 404 for a wrong token. A database
error surfaces as 500 so AT tries the callback again: nothing it sent is lost.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from urllib.parse import parse_qsl

import structlog
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from service.domain import outbox
from service.domain.actor import Actor
from service.domain.consent import record_consent
from service.domain.people import opt_out
from service.domain.phones import mask_phone
from service.models.enums import Channel, ConsentState
from service.models.types import utcnow
from service.services import Services
from sms.delivery import BadReport, ReportSink, parse_report
from sms.inbound import BadInbound, parse_inbound, receive
from sms.routing import people_sending_as
from sms.texts import SmsTexts
from sms.whatsapp_callbacks import BadCallback, parse_status, receive_whatsapp
from sms.whatsapp_callbacks import parse_inbound as parse_whatsapp
from sms.whatsapp_inbound import act_on_whatsapp

log = structlog.get_logger(__name__)

MAX_BODY = 8_000  # an AT callback is a few hundred bytes


def _token_ok(request: Request, services: Services) -> bool:
    return hmac.compare_digest(
        request.path_params["token"].encode(),
        services.settings.callback_token.get_secret_value().encode(),
    )


async def _form(request: Request) -> Mapping[str, str] | None:
    """AT posts small url-encoded forms; parsing them directly is cheaper than Starlette's
    multipart-capable parser, which matters at thousands of delivery reports a second."""
    body = await request.body()
    if len(body) > MAX_BODY:
        return None
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded") or not content_type:
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError):
            return None
    if content_type.startswith("application/json"):
        return None
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def _fields(request: Request) -> Mapping[str, str] | None:
    """A form, or a JSON object of flat values (WhatsApp's callbacks may come as either)."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        return await _form(request)
    body = await request.body()
    if len(body) > MAX_BODY:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    fields: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            if value is None:
                continue
            return None  # nested objects are not a callback of ours
        fields[str(key)] = str(value)
    return fields


def routes(services: Services, reports: ReportSink) -> list[Route]:
    texts = SmsTexts.load()

    async def delivery(request: Request) -> Response:
        if not _token_ok(request, services):
            return PlainTextResponse("Not Found", status_code=404)
        form = await _form(request)
        if form is None:
            return PlainTextResponse("not a form", status_code=400)
        try:
            report = parse_report(form)
        except BadReport as exc:
            return PlainTextResponse(str(exc), status_code=400)
        await reports.submit(report)
        return PlainTextResponse("OK")

    async def inbound(request: Request) -> Response:
        if not _token_ok(request, services):
            return PlainTextResponse("Not Found", status_code=404)
        form = await _form(request)
        if form is None:
            return PlainTextResponse("not a form", status_code=400)
        now = utcnow()
        try:
            sms = parse_inbound(form, now)
        except BadInbound as exc:
            return PlainTextResponse(str(exc), status_code=400)
        async with services.sessions() as session:
            await receive(session, sms, now, texts)
            await session.commit()
        return PlainTextResponse("OK")

    async def optout(request: Request) -> Response:
        """AT's own opt-out list: the person blocked one of our senders at the network."""
        if not _token_ok(request, services):
            return PlainTextResponse("Not Found", status_code=404)
        form = await _form(request)
        phone = (form or {}).get("phoneNumber", "").strip()
        if not phone:
            return PlainTextResponse("phoneNumber is missing", status_code=400)
        sender_id = (form or {}).get("senderId", "").strip()
        now = utcnow()
        async with services.sessions() as session:
            # Only the programmes that send as that sender: see sms.routing.
            people = await people_sending_as(session, phone, sender_id)
            for person in people:
                actor = Actor.person(person.id or 0, Channel.sms)
                if await opt_out(person, channel=Channel.sms, session=session, actor=actor):
                    await outbox.drop_pending(
                        session, person_id=person.id, reason="opted out at the network", now=now
                    )
                    # Blocking our sender at the network withdraws their consent.
                    await record_consent(
                        person, ConsentState.withdrawn, channel=Channel.sms, session=session,
                        actor=actor, now=now,
                    )  # fmt: skip
            await session.commit()
        log.info("sms.optout", phone=mask_phone(phone), people=len(people))
        return PlainTextResponse("OK")

    async def whatsapp_status(request: Request) -> Response:
        if not _token_ok(request, services):
            return PlainTextResponse("Not Found", status_code=404)
        fields = await _fields(request)
        if fields is None:
            return PlainTextResponse("not a form or a JSON object", status_code=400)
        try:
            report = parse_status(fields)
        except BadCallback as exc:
            return PlainTextResponse(str(exc), status_code=400)
        await reports.submit(report)
        return PlainTextResponse("OK")

    async def whatsapp_inbound(request: Request) -> Response:
        if not _token_ok(request, services):
            return PlainTextResponse("Not Found", status_code=404)
        fields = await _fields(request)
        if fields is None:
            return PlainTextResponse("not a form or a JSON object", status_code=400)
        now = utcnow()
        try:
            inbound = parse_whatsapp(fields, now)
        except BadCallback as exc:
            return PlainTextResponse(str(exc), status_code=400)
        async with services.sessions() as session:
            received = await receive_whatsapp(session, inbound, now)
            if received.person is not None and received.programme is not None:
                await act_on_whatsapp(
                    session, received.programme, received.person, inbound, now, texts
                )
            await session.commit()
        return PlainTextResponse("OK")

    return [
        Route("/at/{token}/whatsapp/status", whatsapp_status, methods=["POST"]),
        Route("/at/{token}/whatsapp/inbound", whatsapp_inbound, methods=["POST"]),
        Route("/at/{token}/sms/delivery", delivery, methods=["POST"]),
        Route("/at/{token}/sms/inbound", inbound, methods=["POST"]),
        Route("/at/{token}/sms/optout", optout, methods=["POST"]),
    ]
