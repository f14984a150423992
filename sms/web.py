"""Africa's Talking's SMS callbacks: delivery reports, inbound messages, opt-outs.

Each answers 200 once the change is committed, 400 for a form that is not AT's
(AT then shows the error in its dashboard), 404 for a wrong token. A database
error surfaces as 500 so AT tries the callback again: nothing it sent is lost.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from urllib.parse import parse_qsl

import structlog
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from service.domain import outbox
from service.domain.actor import Actor
from service.domain.people import opt_out
from service.domain.phones import mask_phone
from service.models.enums import Channel
from service.models.types import utcnow
from service.services import Services
from sms.delivery import BadReport, ReportSink, parse_report
from sms.inbound import BadInbound, parse_inbound, receive
from sms.routing import people_sending_as
from sms.texts import SmsTexts

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
                if opt_out(person, channel=Channel.sms, session=session, actor=actor):
                    await outbox.drop_pending(
                        session, person_id=person.id, reason="opted out at the network", now=now
                    )
            await session.commit()
        log.info("sms.optout", phone=mask_phone(phone), people=len(people))
        return PlainTextResponse("OK")

    return [
        Route("/at/{token}/sms/delivery", delivery, methods=["POST"]),
        Route("/at/{token}/sms/inbound", inbound, methods=["POST"]),
        Route("/at/{token}/sms/optout", optout, methods=["POST"]),
    ]
