"""Templates to HTML in the reader's language, with numbers and dates as they write them."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from console import charts
from console.i18n import LANGUAGES, NAMES, translations
from service.models.enums import Language

STATIC = Path(__file__).parent / "static"
NOTHING = "\N{EN DASH}"  # an empty figure, as tables print it
# Babel knows Kinyarwanda's, Swahili's and Chichewa's (CLDR's Nyanja) number and date
# forms; the locale ids it uses.
_LOCALES = {"en": "en", "sw": "sw", "rw": "rw", "fr": "fr", "ny": "ny"}


@cache
def static_url(name: str) -> str:
    """`/static/<name>?v=<hash>`: the hash changes with the file, so it can be cached for
    a year and a new release is still fetched at once."""
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


def _filters(language: str) -> dict[str, Any]:
    locale = _LOCALES[language]

    def number(value: float | int | Decimal | None, digits: int = 0) -> str:
        if value is None:
            return NOTHING
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=locale)

    def percent(value: float | None) -> str:
        return NOTHING if value is None else format_percent(value, locale=locale)

    def day(value: date | None, form: str = "medium") -> str:
        return NOTHING if value is None else format_date(value, format=form, locale=locale)

    def moment(value: datetime | None, timezone: str = "UTC", form: str = "medium") -> str:
        if value is None:
            return NOTHING
        return format_datetime(value, format=form, tzinfo=ZoneInfo(timezone), locale=locale)

    return {"number": number, "percent": percent, "day": day, "moment": moment}


@cache
def environment(language: str) -> Environment:
    """One environment per language: its gettext is installed once, and templates are
    compiled once per language, not per request."""
    env = Environment(
        loader=PackageLoader("console", "templates"),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(_filters(language))
    env.globals.update(
        chart_svg=lambda chart: charts.svg(chart, language),
        static_url=static_url,
        languages=[(lang.value, NAMES[lang]) for lang in LANGUAGES],
        lang=language,
    )
    return env


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    language: Language,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    env = environment(language.value)
    values = {"request": request, "viewer": getattr(request.state, "viewer", None)}
    values["csrf"] = getattr(request.state, "csrf", "")
    values.update(context or {})
    html = env.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code, headers=headers)
