"""The CSV exports as browser downloads, narrowed to what the viewer's role covers.

A download is the same file the CLI writes (a UTF-8 byte-order mark first, so a
spreadsheet opens it as UTF-8) and the API streams: the domain's rows a page at a
time, with whole phones and people's own words only for roles holding `read:pii`. A
role that covers some communities gets their rows only, whatever community id the
address carries. The rows are read from the replica with `COPLINE_DATABASE_READ_URL`
set (a moment behind the primary).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import col
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from console.auth import Page, page
from console.i18n import _
from service.domain.errors import NotFound
from service.domain.exports import EXPORTS, ExportKind, csv_chunks, file_name, prepare
from service.domain.lookup import get_owned
from service.models import Community, Term
from service.models.enums import Scope
from service.roster import ImportKind

BOM = "\ufeff"  # as the CLI writes (utf-8-sig): spreadsheets then read UTF-8
ABOUT = {
    ExportKind.attendance: (
        _("Attendance"),
        _("One row per meeting and member of its community, marked or not."),
    ),
    ExportKind.responses: (_("Survey answers"), _("One row per survey answer.")),
    ExportKind.messages: (_("Messages"), _("One row per SMS, in or out.")),
}


class BadFilter(Exception):
    """A filter the reader typed that cannot be used; said on the form."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise BadFilter(_("A date is written as year-month-day, e.g. 2026-03-31.")) from None


async def _form(
    current: Page, *, error: str | None = None, failed: str | None = None, status: int = 200
) -> Response:
    programme_id = current.viewer.programme.id
    coverage = current.viewer.coverage
    terms = (
        await current.session.execute(
            sa.select(col(Term.name))
            .where(col(Term.programme_id) == programme_id)
            .order_by(col(Term.starts_on).desc())
        )
    ).scalars()
    stmt = (
        sa.select(col(Community.id), col(Community.code), col(Community.name))
        .where(col(Community.programme_id) == programme_id)
        .order_by(col(Community.code))
    )
    if coverage.community_ids is not None:
        stmt = stmt.where(col(Community.id).in_(sorted(coverage.community_ids)))
    communities = (await current.session.execute(stmt)).all()
    kinds = [
        (kind.value, current._(title), current._(about)) for kind, (title, about) in ABOUT.items()
    ]
    return current.render(
        "exports.html",
        {
            "kinds": kinds,
            # Schools and communities files cover the whole programme: for roles that do.
            "roster_kinds": [k.value for k in ImportKind]
            if coverage.whole_programme
            else [ImportKind.people.value],
            "terms": list(terms),
            "communities": communities,
            "whole": coverage.whole_programme,
            "pii": current.viewer.has(Scope.read_pii),
            "error": error,
            "failed": failed,
            "chosen": dict(current.request.query_params),
        },
        status_code=status,
    )


@page()
async def exports_page(current: Page) -> Response:
    return await _form(current)


@page(replica=True)
async def download(current: Page) -> Response:
    try:
        kind = ExportKind(current.request.path_params["kind"])
    except ValueError:
        raise NotFound("no such export") from None
    query = current.request.query_params
    programme = current.viewer.programme
    assert programme.id is not None
    coverage = current.viewer.coverage
    communities: Any = coverage.community_ids
    extra: list[str] = []
    community_id = query.get("community") or None
    if community_id is not None:
        if not community_id.isdigit():
            raise NotFound("no such community")
        community = await get_owned(current.session, Community, int(community_id), programme.id)
        if not coverage.covers(int(community_id)):
            raise NotFound(f"community {community_id} not found")
        communities = {int(community_id)}
        extra.append(community.code)
    try:
        since, until = _day(query.get("from")), _day(query.get("to"))
        if since is not None and until is not None and since > until:
            raise BadFilter(_("The first day comes after the last day."))
    except BadFilter as exc:
        return await _form(current, error=current._(exc.message), failed=kind.value, status=400)
    if since is not None or until is not None:
        extra.append(f"{since or ''}_{until or ''}")
    spec = await prepare(
        current.reads,
        programme,
        term=query.get("term") or None,
        pii=current.viewer.has(Scope.read_pii),
        communities=communities,
        since=since,
        until=until,
    )
    rows_session_of = current.reads_beside

    async def body() -> AsyncIterator[str]:
        yield BOM
        # The response outlives the handler: the rows get a session of their own.
        async with rows_session_of() as rows_session:
            async for chunk in csv_chunks(EXPORTS[kind](rows_session, spec)):
                yield chunk

    name = file_name(spec, kind, *extra)
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def routes() -> list[BaseRoute]:
    # `/exports/<kind>.csv` is the API's (a key, no cookie): the console's has no suffix.
    return [
        Route("/exports", exports_page, methods=["GET"]),
        Route("/exports/{kind}", download, methods=["GET"]),
    ]
