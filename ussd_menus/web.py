"""Africa's Talking's USSD callbacks: the form in, `CON`/`END` text out."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from urllib.parse import parse_qsl

from sqlmodel import select
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from service.models import UssdSession
from service.models.enums import UssdOutcome
from service.models.types import utcnow
from service.services import Services
from ussd_menus.engine import Hop, UssdEngine

MAX_TEXT = 1000  # a real session never comes near; anything longer is not AT
MAX_FORM = 16_384  # bytes of a urlencoded callback body; AT's are a few hundred
URLENCODED = "application/x-www-form-urlencoded"


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


def routes(services: Services, engine: UssdEngine) -> list[Route]:
    async def ussd(request: Request) -> Response:
        if not _token_ok(request, services):
            return PlainTextResponse("Not Found", status_code=404)
        form = await _form(request)
        if form is None:
            return PlainTextResponse("form too large", status_code=400)
        fields = {
            k: form.get(k)
            for k in ("sessionId", "serviceCode", "phoneNumber", "text", "networkCode")
        }
        missing = [k for k in ("sessionId", "serviceCode", "phoneNumber") if not fields[k]]
        if missing or not all(isinstance(v, str | None) for v in fields.values()):
            return PlainTextResponse(
                f"missing or invalid form fields: {', '.join(missing)}", status_code=400
            )
        text = str(fields["text"] or "")
        if len(text) > MAX_TEXT:
            return PlainTextResponse("text too long", status_code=400)
        hop = Hop(
            session_id=str(fields["sessionId"])[:100],
            service_code=str(fields["serviceCode"]),
            phone=str(fields["phoneNumber"]),
            text=text,
            network_code=str(fields["networkCode"]) if fields["networkCode"] else None,
        )
        return PlainTextResponse(await engine.answer(hop))

    async def events(request: Request) -> Response:
        """End-of-session notice: how long, how it ended; unknown sessions are ignored."""
        if not _token_ok(request, services):
            return PlainTextResponse("Not Found", status_code=404)
        form = await request.form()
        session_id = form.get("sessionId")
        if not isinstance(session_id, str) or not session_id:
            return PlainTextResponse("missing sessionId", status_code=400)
        status = str(form.get("status") or "")
        await engine.tracker.flush()  # the session's last hops may still be in the batch
        async with services.sessions() as session:
            row = (
                await session.exec(select(UssdSession).where(UssdSession.session_id == session_id))
            ).first()
            if row is not None:
                row.provider_status = status[:40] or None
                row.error_message = str(form.get("errorMessage") or "")[:300] or None
                duration = str(form.get("durationInMillis") or "")
                row.duration_ms = (
                    int(duration) if duration.isascii() and duration.isdigit() else row.duration_ms
                )
                row.ended_at = row.ended_at or utcnow()
                if row.outcome is UssdOutcome.open:
                    row.outcome = (
                        UssdOutcome.failed if status.lower() == "failed" else UssdOutcome.abandoned
                    )
                await session.commit()
        return PlainTextResponse("OK")

    return [
        Route("/at/{token}/ussd", ussd, methods=["POST"]),
        Route("/at/{token}/ussd/events", events, methods=["POST"]),
    ]
