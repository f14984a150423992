"""Africa's Talking's USSD callbacks: the form in, `CON`/`END` text out."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import TypeVar
from urllib.parse import parse_qsl

import structlog
from sqlmodel import select
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from service.metrics import hop_refused
from service.models import UssdSession
from service.models.enums import UssdOutcome
from service.models.types import utcnow
from service.services import Services
from ussd_menus import forms
from ussd_menus.engine import UssdEngine
from ussd_menus.forms import BadForm

log = structlog.get_logger(__name__)

MAX_FORM = 16_384  # bytes of a urlencoded callback body; AT's are a few hundred
URLENCODED = "application/x-www-form-urlencoded"
T = TypeVar("T")


def _token_ok(request: Request, services: Services) -> bool:
    return hmac.compare_digest(
        request.path_params["token"].encode(),
        services.settings.callback_token.get_secret_value().encode(),
    )


async def _form(request: Request) -> Mapping[str, object] | None:
    """The callback's fields; None when the body is too large to be Africa's Talking's.

    AT posts a small urlencoded form: parse_qsl on the body reads it exactly as
    Starlette's form parser does (latin-1, then %-escapes as UTF-8, blanks kept) at a
    fraction of the cost. Anything else still goes through Starlette.
    """
    content_type = request.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != URLENCODED:
        return await request.form()
    body = await request.body()
    if len(body) > MAX_FORM:
        return None
    return dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True))


def _refused(request: Request, error: BadForm) -> Response:
    log.warning("ussd.bad_callback", path=request.url.path.rsplit("/", 1)[-1], fields=error.fields)
    return PlainTextResponse(str(error), status_code=400)


async def _checked(
    request: Request, services: Services, parse: Callable[[Mapping[str, object]], T]
) -> T | Response:
    """The callback's fields parsed, or the answer for a caller that is not AT's."""
    if not _token_ok(request, services):
        return PlainTextResponse("Not Found", status_code=404)
    form = await _form(request)
    if form is None:
        return PlainTextResponse("form too large", status_code=400)
    try:
        return parse(form)
    except BadForm as error:
        return _refused(request, error)


def routes(services: Services, engine: UssdEngine) -> list[Route]:
    async def ussd(request: Request) -> Response:
        hop = await _checked(request, services, forms.hop)
        if isinstance(hop, Response):
            if hop.status_code == 400:
                hop_refused()
            return hop
        return PlainTextResponse(await engine.answer(hop))

    async def events(request: Request) -> Response:
        """End-of-session notice: how long, how it ended; unknown sessions are ignored."""
        end = await _checked(request, services, forms.session_end)
        if isinstance(end, Response):
            return end
        try:
            await record_end(services, engine, end)
        except engine.database_errors as exc:
            log.warning("ussd.event_unavailable", error=type(exc).__name__)
            return PlainTextResponse("unavailable, try again", status_code=503)
        return PlainTextResponse("OK")

    return [
        Route("/at/{token}/ussd", ussd, methods=["POST"]),
        Route("/at/{token}/ussd/events", events, methods=["POST"]),
    ]


async def record_end(services: Services, engine: UssdEngine, end: forms.SessionEnd) -> None:
    await engine.tracker.flush()  # the session's last hops may still be in the batch
    async with services.sessions() as session:
        row = (
            await session.exec(select(UssdSession).where(UssdSession.session_id == end.session_id))
        ).first()
        if row is None:
            return
        row.provider_status = end.status
        row.error_message = end.error_message
        row.duration_ms = end.duration_ms if end.duration_ms is not None else row.duration_ms
        row.ended_at = row.ended_at or utcnow()
        if row.outcome is UssdOutcome.open:
            failed = (end.status or "").lower() == "failed"
            row.outcome = UssdOutcome.failed if failed else UssdOutcome.abandoned
        await session.commit()
