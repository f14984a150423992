"""Sign in with a phone number and an SMS code; sign out; switch programme or language."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from console.auth import (
    CSRF_COOKIE,
    LANG_COOKIE,
    SESSION_COOKIE,
    Page,
    client_address,
    csrf_ok,
    find_viewer,
    language_of,
    page,
    refusal,
    services_of,
)
from console.i18n import Texts, _, pick
from console.limits import SignInLimits
from console.render import render
from service.domain import sign_in
from service.domain.errors import InvalidPhone
from service.models.types import utcnow

log = structlog.get_logger(__name__)

PHONE_COOKIE = "copline_sign_in"  # the number a code was asked for, until it is used
YEAR = 365 * 24 * 3600


def safe_next(value: Any) -> str:
    """Only a path of this site: never `//elsewhere` or `https://elsewhere`."""
    text = value if isinstance(value, str) else ""
    if not text.startswith("/") or text.startswith("//") or "\\" in text:
        return "/"
    return text


def _cookie_options(request: Request) -> dict[str, Any]:
    secure = services_of(request).settings.is_production
    return {"httponly": True, "samesite": "lax", "secure": secure, "path": "/"}


def _anonymous_csrf(request: Request) -> str:
    token = request.cookies.get(CSRF_COOKIE)
    if not token or len(token) < 20:
        token = secrets.token_urlsafe(32)
    request.state.csrf = token
    return token


def _with_csrf_cookie(request: Request, response: Response, token: str) -> Response:
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, **_cookie_options(request))
    return response


def _anonymous_page(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    token = _anonymous_csrf(request)
    language = language_of(request)
    values = {"notice": None, "page_path": request.url.path, "error": None, **context}
    response = render(request, template, values, language=language, status_code=status_code)
    return _with_csrf_cookie(request, response, token)


async def _anonymous_csrf_ok(request: Request) -> bool:
    return await csrf_ok(request, request.cookies.get(CSRF_COOKIE, ""))


def _expired_form(request: Request) -> Response:
    _anonymous_csrf(request)
    return refusal(
        request,
        language_of(request),
        403,
        _(
            "This form has expired or came from another site. Go back, reload the page and "
            "try again."
        ),
    )


async def sign_in_form(request: Request) -> Response:
    async with services_of(request).sessions() as session:
        if await find_viewer(request, session, utcnow()) is not None:
            return RedirectResponse(safe_next(request.query_params.get("next")), 303)
    context = {"next": safe_next(request.query_params.get("next")), "phone": ""}
    return _anonymous_page(request, "sign_in.html", context)


async def ask_for_code(request: Request) -> Response:
    if not await _anonymous_csrf_ok(request):
        return _expired_form(request)
    form = await request.form()
    raw = str(form.get("phone", ""))[:30]
    target = safe_next(form.get("next"))
    texts = Texts(language_of(request))
    try:
        phones = sign_in.candidate_phones(raw)
    except InvalidPhone:
        error = texts(
            _(
                "That is not a mobile number. Write it as on your SIM card, for example "
                "+250 788 123 456 or 0788 123 456."
            )
        )
        context = {"next": target, "phone": raw, "error": error}
        return _anonymous_page(request, "sign_in.html", context, status_code=422)
    limits: SignInLimits = request.app.state.sign_in_limits
    if not await limits.may_ask_code(phones[0], client_address(request)):
        log.info("console.sign_in.limited", reason="codes")
        _anonymous_csrf(request)
        return refusal(
            request,
            texts.language,
            429,
            _(
                "Too many codes were asked for this number or from this place. Wait 15 minutes "
                "and try again."
            ),
        )
    services = services_of(request)
    async with services.sessions() as session:
        await sign_in.request_code(
            session, phones, secret=services.settings.secret_key.get_secret_value(), now=utcnow()
        )
    response = RedirectResponse(f"/sign-in/code?next={quote(target)}", status_code=303)
    options = _cookie_options(request) | {"max_age": int(sign_in.CODE_LIFETIME.total_seconds())}
    response.set_cookie(PHONE_COOKIE, raw.strip(), **options)
    return response


async def code_form(request: Request) -> Response:
    if not request.cookies.get(PHONE_COOKIE):
        return RedirectResponse("/sign-in", status_code=303)
    context = {"next": safe_next(request.query_params.get("next"))}
    return _anonymous_page(request, "sign_in_code.html", context)


async def check_code(request: Request) -> Response:
    if not await _anonymous_csrf_ok(request):
        return _expired_form(request)
    raw_phone = request.cookies.get(PHONE_COOKIE, "")
    if not raw_phone:
        return RedirectResponse("/sign-in", status_code=303)
    form = await request.form()
    target = safe_next(form.get("next"))
    texts = Texts(language_of(request))
    limits: SignInLimits = request.app.state.sign_in_limits
    if not await limits.may_try_code(client_address(request)):
        log.info("console.sign_in.limited", reason="tries")
        _anonymous_csrf(request)
        return refusal(
            request,
            texts.language,
            429,
            _("Too many codes were tried from this place. Wait an hour and try again."),
        )
    services = services_of(request)
    now = utcnow()
    async with services.sessions() as session:
        try:
            phones = sign_in.candidate_phones(raw_phone)
        except InvalidPhone:
            return RedirectResponse("/sign-in", status_code=303)
        people = await sign_in.check_code(
            session,
            phones,
            str(form.get("code", ""))[:12],
            secret=services.settings.secret_key.get_secret_value(),
            now=now,
        )
        if not people:
            error = texts(
                _("That code is wrong, used or expired. Check the SMS, or ask for a new code.")
            )
            context = {"next": target, "error": error}
            return _anonymous_page(request, "sign_in_code.html", context, status_code=422)
        opened = await sign_in.open_session(session, people[0], now=now)
    log.info("console.sign_in", person_id=people[0].id)
    response = RedirectResponse(target, status_code=303)
    options = _cookie_options(request)
    response.set_cookie(
        SESSION_COOKIE, opened.token, max_age=services.settings.console_session_hours * 3600,
        **options,
    )  # fmt: skip
    response.delete_cookie(PHONE_COOKIE, path="/")
    return response


@page()
async def sign_out(current: Page) -> Response:
    await sign_in.revoke(current.session, current.viewer.session, now=current.now)
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@page()
async def switch_programme(current: Page) -> Response:
    form = await current.form()
    chosen = str(form.get("person_id", ""))
    if chosen.isdigit():
        from service.domain.sign_in import Signed

        signed = Signed(current.viewer.session, current.viewer.person)
        await sign_in.switch_person(current.session, signed, int(chosen))
    return RedirectResponse("/", status_code=303)


async def choose_language(request: Request) -> Response:
    """The switcher: a cookie, so it holds before and after signing in. The person's
    SMS language is theirs to choose on their phone and is not changed here."""
    async with services_of(request).sessions() as session:
        viewer = await find_viewer(request, session, utcnow())
    expected = viewer.session.csrf_token if viewer else request.cookies.get(CSRF_COOKIE, "")
    if not await csrf_ok(request, expected):
        return _expired_form(request)
    form = await request.form()
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    language = pick(str(form.get("lang", "")))
    if language is not None:
        options = _cookie_options(request) | {"httponly": False, "max_age": YEAR}
        response.set_cookie(LANG_COOKIE, language.value, **options)
    return response


def routes() -> list[BaseRoute]:
    return [
        Route("/sign-in", sign_in_form, methods=["GET"]),
        Route("/sign-in", ask_for_code, methods=["POST"]),
        Route("/sign-in/code", code_form, methods=["GET"]),
        Route("/sign-in/code", check_code, methods=["POST"]),
        Route("/sign-out", sign_out, methods=["POST"]),
        Route("/switch", switch_programme, methods=["POST"]),
        Route("/language", choose_language, methods=["POST"]),
    ]
