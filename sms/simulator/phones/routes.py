"""The phones in the browser: a basic phone (USSD and SMS) and a smartphone (WhatsApp)
for any number, for training workshops and demos.

They are pages of the simulator, so a copline that talks to Africa's Talking never
serves them. The pages' script drives the simulator's own phone endpoints, exactly as
the tests do: `POST /sim/phones/{phone}/ussd` and `/sms`, `GET /sim/inbox/{phone}`, and
(when the simulator speaks WhatsApp) `GET /sim/whatsapp/{phone}` and
`POST /sim/phones/{phone}/whatsapp`. What a trainee sees is what the service sent.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from sms.simulator.phones.known import PHONE, known
from sms.simulator.phones.seen import Seen
from sms.simulator.state import Inbox

# Everything from the simulator itself: the page works offline and loads nothing else.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store"}


def phone_routes(inbox: Inbox, seen: Seen) -> list[BaseRoute]:
    """The routes to add to the simulator app (`/sim/phones/`, `…/known`, `…/{phone}/view`
    and the static files)."""
    templates = Environment(
        loader=PackageLoader("sms.simulator.phones", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def page(name: str, status_code: int = 200, **values: object) -> HTMLResponse:
        html = templates.get_template(name).render(**values)
        return HTMLResponse(html, status_code=status_code, headers=HEADERS)

    async def index(request: Request) -> Response:
        phone = request.query_params.get("phone", "").strip().replace(" ", "")
        whatsapp = request.query_params.get("whatsapp", "").strip().replace(" ", "")
        errors: dict[str, str] = {}
        if "phone" in request.query_params:
            if not PHONE.match(phone):
                errors["phone"] = "Type a number in international form, e.g. +254712100002."
            if whatsapp and not PHONE.match(whatsapp):
                errors["whatsapp"] = "Type a number in international form, or leave it empty."
            if not errors:
                return RedirectResponse(view_url(phone, whatsapp), status_code=303)
        return page(
            "index.html",
            status_code=400 if errors else 200,
            known=known(inbox, seen),
            errors=errors,
            phone=phone,
            whatsapp=whatsapp,
            view_url=view_url,
        )

    async def known_json(_: Request) -> Response:
        return JSONResponse(known(inbox, seen).as_json(), headers={"Cache-Control": "no-store"})

    async def view(request: Request) -> Response:
        phone = request.path_params["phone"]
        whatsapp = request.query_params.get("whatsapp", "").strip() or phone
        if not PHONE.match(phone) or not PHONE.match(whatsapp):
            return page("not_a_phone.html", status_code=404, phone=phone)
        seen.phone(phone)
        seen.phone(whatsapp)
        listed = known(inbox, seen)
        return page(
            "phones.html",
            phone=phone,
            whatsapp=whatsapp,
            known=listed,
            messages=[m.as_json() for m in reversed(inbox.of(phone))],
        )

    return [
        Route("/sim/phones/", index, methods=["GET"]),
        Route("/sim/phones/known", known_json, methods=["GET"]),
        Route("/sim/phones/{phone}/view", view, methods=["GET"]),
        Mount(
            "/sim/phones/static",
            app=StaticFiles(packages=[("sms.simulator.phones", "static")]),
            name="phones-static",
        ),
    ]


def view_url(phone: str, whatsapp: str = "") -> str:
    url = f"/sim/phones/{quote(phone, safe='+')}/view"
    if whatsapp and whatsapp != phone:
        url += "?" + urlencode({"whatsapp": whatsapp})
    return url
