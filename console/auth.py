"""Who is asking, what they may see, and the checks every console page makes first.

A page handler is written as `async def handler(page: Page) -> Response` and wrapped
with `@page(...)`: the wrapper finds the session behind the cookie (or sends a
stranger to sign in), checks the CSRF token of every POST, checks the role's right
and scope, and turns a domain refusal into a page in the reader's language.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import wraps
from typing import Any
from urllib.parse import quote, urlsplit

import sqlalchemy as sa
import structlog
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from console.i18n import Texts, _, pick
from console.render import render
from service.db import unreachable
from service.domain import sign_in
from service.domain.console_access import Coverage, coverage_of
from service.domain.errors import DomainError, NotFound
from service.domain.phones import mask_phone
from service.models import ConsoleSession, Person, Programme
from service.models.enums import Language, Scope
from service.models.types import utcnow
from service.services import Services

log = structlog.get_logger(__name__)

SESSION_COOKIE = "copline_session"
CSRF_COOKIE = "copline_csrf"  # before signing in (double-submit); a session has its own
LANG_COOKIE = "copline_lang"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
# A roster of 5,000 teachers is about 400 KB; room for ten times that.
MAX_UPLOAD = 5 * 1024 * 1024
MAX_FIELDS = 2000  # a register of a large community posts a few hundred fields


@dataclass
class Viewer:
    person: Person
    programme: Programme
    coverage: Coverage
    session: ConsoleSession
    language: Language
    # (person id, programme name) of this phone's other console roles, to switch to.
    elsewhere: list[tuple[int, str]] = field(default_factory=list)

    def has(self, scope: Scope) -> bool:
        return self.coverage.has(scope)

    def phone(self, phone: str | None) -> str | None:
        """Whole for roles that hold `read:pii`, masked for the rest, as in the API."""
        return phone if self.has(Scope.read_pii) else mask_phone(phone)


@dataclass
class Page:
    """One request to a signed-in page: its viewer, a database session and helpers."""

    request: Request
    viewer: Viewer
    session: AsyncSession
    services: Services
    now: datetime
    # Where a report page computes its figures: a session of the read sessions (the
    # replica, when one is set) for a `page(replica=True)` GET, else `session` itself.
    reads: AsyncSession

    def reads_beside(self) -> AsyncSession:
        """Another session on the database `reads` reads from, for work run beside it."""
        apart = self.reads is not self.session
        return (self.services.read_sessions if apart else self.services.sessions)()

    @property
    def texts(self) -> Texts:
        return Texts(self.viewer.language)

    def _(self, message: str, **values: object) -> str:
        return self.texts(message, **values)

    def error(self, exc: DomainError) -> str:
        return error_text(exc, self.texts)

    async def form(self) -> FormData:
        return await self.request.form(max_part_size=MAX_UPLOAD, max_fields=MAX_FIELDS)

    def render(
        self, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200
    ) -> Response:
        values = {"notice": self.take_notice(), "page_path": self.request.url.path}
        values.update(context or {})
        return render(
            self.request, template, values, language=self.viewer.language, status_code=status_code
        )

    def take_notice(self) -> str | None:
        notice = self.viewer.session.notice
        if notice is not None:
            self.viewer.session.notice = None  # committed by `page` after the handler
        return notice

    def redirect(self, url: str, notice: str | None = None) -> Response:
        """After a change: tell the person what it did on the page they land on."""
        if notice is not None:
            self.viewer.session.notice = notice[:500]
        return RedirectResponse(url, status_code=303)


Handler = Callable[[Page], Awaitable[Response]]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def language_of(request: Request, person: Person | None = None) -> Language:
    """The switcher's choice, else the person's own language, else the browser's."""
    from console.i18n import from_accept_language

    chosen = pick(request.cookies.get(LANG_COOKIE))
    if chosen is not None:
        return chosen
    if person is not None and pick(person.language.value) is not None:
        return person.language
    return from_accept_language(request.headers.get("accept-language"))


def same_origin(request: Request) -> bool:
    """A browser names where a POST comes from; one from another site is refused even
    with a token (defence in depth beside SameSite cookies)."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def csrf_ok(request: Request, expected: str) -> bool:
    if not expected or not same_origin(request):
        return False
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form(max_part_size=MAX_UPLOAD, max_fields=MAX_FIELDS)
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    return given is not None and hmac.compare_digest(given, expected)


async def find_viewer(request: Request, session: AsyncSession, now: datetime) -> Viewer | None:
    settings = services_of(request).settings
    signed = await sign_in.find_session(
        session,
        request.cookies.get(SESSION_COOKIE, ""),
        now=now,
        idle=timedelta(minutes=settings.console_idle_minutes),
        lifetime=timedelta(hours=settings.console_session_hours),
    )
    if signed is None:
        return None
    coverage = await coverage_of(session, signed.person)
    programme = await session.get(Programme, signed.person.programme_id)
    if coverage is None or programme is None:
        return None
    elsewhere: list[tuple[int, str]] = []
    if signed.person.phone is not None:
        stmt = (
            sa.select(col(Person.id), col(Programme.name))
            .join(Programme, col(Programme.id) == col(Person.programme_id))
            .where(
                col(Person.phone) == signed.person.phone,
                col(Person.console_role).is_not(None),
                col(Person.id) != signed.person.id,
            )
        )
        elsewhere = [(int(pid), str(name)) for pid, name in (await session.execute(stmt)).all()]
    return Viewer(
        person=signed.person,
        programme=programme,
        coverage=coverage,
        session=signed.session,
        language=language_of(request, signed.person),
        elsewhere=elsewhere,
    )


def refusal(
    request: Request, language: Language, status: int, message: str, *, said: bool = False
) -> Response:
    """A page that says no; `said`: the message is in the reader's words already."""
    text = message if said else Texts(language)(message)
    return render(
        request,
        "refused.html",
        {"status": status, "message": text, "notice": None, "page_path": ""},
        language=language,
        status_code=status,
    )


def page(
    *, scope: Scope = Scope.read, whole_programme: bool = False, replica: bool = False
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler with sign-in, CSRF, right and scope checks (see the module doc).

    `replica`: the page computes reports, read through `Page.reads` from the read
    sessions (a streaming replica, a moment behind). The viewer's own session (sign-in,
    the notice) stays on the primary; and a page that follows the viewer's own change
    (it carries that change's notice) reads everything from the primary, so it never
    shows the world from before the change."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @wraps(handler)
        async def endpoint(request: Request) -> Response:
            services = services_of(request)
            now = utcnow()
            async with services.sessions() as session, AsyncExitStack() as apart:
                viewer = await find_viewer(request, session, now)
                if viewer is None:
                    return to_sign_in(request)
                request.state.viewer = viewer
                request.state.csrf = viewer.session.csrf_token
                language = viewer.language
                if request.method == "POST" and not await csrf_ok(
                    request, viewer.session.csrf_token
                ):
                    log.info("console.csrf_refused", path=request.url.path)
                    return refusal(
                        request,
                        language,
                        403,
                        _(
                            "This form has expired or came from another site. Go back, reload "
                            "the page and try again."
                        ),
                    )
                if not viewer.has(scope) or (
                    whole_programme and not viewer.coverage.whole_programme
                ):
                    return refusal(
                        request, language, 403, _("Your role does not include this page.")
                    )
                reads = session
                if _reads_apart(request, services, viewer, replica):
                    reads = await apart.enter_async_context(services.read_sessions())
                current = Page(request, viewer, session, services, now, reads)
                try:
                    response = await handler(current)
                # The refusal is rendered before the rollback: a rollback expires the
                # viewer's rows, which the page's header and footer still read.
                except NotFound:
                    refused = refusal(request, language, 404, _("There is nothing here for you."))
                    await session.rollback()
                    return refused
                except DomainError as exc:
                    log.info("console.refused", path=request.url.path, code=exc.code)
                    text = error_text(exc, current.texts)
                    refused = refusal(request, language, 400, text, said=True)
                    await session.rollback()
                    return refused
                except Exception as exc:
                    if reads is session or not unreachable(exc):
                        raise
                    # The replica is away: the figures wait, the rest of the console works.
                    log.warning("console.replica_unavailable", error=type(exc).__name__)
                    return refusal(
                        request,
                        language,
                        503,
                        _("The figures cannot be read just now. Try again in a minute."),
                    )
                await session.commit()
                return response

        return endpoint

    return wrap


def _reads_apart(request: Request, services: Services, viewer: Viewer, replica: bool) -> bool:
    return (
        replica
        and services.reads_apart
        and request.method == "GET"
        and viewer.session.notice is None  # not right after the viewer's own change
    )


def error_text(exc: DomainError, texts: Texts) -> str:
    """A domain refusal in the reader's words: the sentence for its stable code, and the
    domain's own specific English detail beside it where the reader's language is not
    English (names, dates and codes in it still help)."""
    from console.errors import MESSAGES

    detail = exc.message[:1].upper() + exc.message[1:]
    if texts.language is Language.en:
        return detail
    return f"{texts(MESSAGES.get(exc.code, MESSAGES['domain_error']))} ({detail})"


def to_sign_in(request: Request) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if request.method != "GET" or target == "/":
        return RedirectResponse("/sign-in", status_code=303)
    return RedirectResponse(f"/sign-in?next={quote(target, safe='')}", status_code=303)
