"""Roster import and export in the console.

Upload any of the three CSV files → a preview of what would be created, updated and
refused (each refused row with its line and reason, as `copline import` gives them),
nothing written → confirm → the import runs in the background, writing its progress to
the upload's row, which the page shows (refreshing itself, no script needed) → the
report. The files wait between preview and confirm in that row, under a random token
only the console session that uploaded them may use, and are cleared once imported.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlmodel import col, select
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.auth import Page, language_of, page, refusal
from console.i18n import _
from service.domain.actor import Actor
from service.domain.errors import NotFound
from service.models import Programme, RosterUpload, UploadState
from service.models.enums import Scope
from service.models.types import utcnow
from service.roster import (
    FileError,
    ImportKind,
    ImportReport,
    Phase,
    Row,
    decode,
    import_csv,
    parse_csv,
    preview_roster,
    report_from_json,
    report_to_json,
)
from service.roster.columns import COLUMNS
from service.roster.export import people_csv, roster_csv
from service.services import Services

log = structlog.get_logger(__name__)

MAX_FILE = 5 * 1024 * 1024  # bytes per file: a 5,000-teacher roster is about 400 KB
# The whole form: three files and the multipart wrapping around them.
MAX_BODY = 3 * MAX_FILE + 64 * 1024
SHOWN_ERRORS = 200  # refused rows listed per file; the count says how many more
KEPT_FOR = timedelta(days=2)  # an upload never confirmed is forgotten after this
STALE = timedelta(minutes=5)  # a running import that wrote no progress for this long died
PROGRESS_EVERY_S = 0.5

FILE_ERRORS = {
    "not_utf8": _(
        "%(name)s is not UTF-8 text. In your spreadsheet, save it as “CSV UTF-8” and "
        "upload it again."
    ),
    "not_csv": _(
        "%(name)s is not a CSV file. In your spreadsheet, save it as “CSV UTF-8” and "
        "upload it again."
    ),
    "empty": _("%(name)s is empty."),
    "unreadable": _("%(name)s could not be read."),
    "broken": _("%(name)s cannot be read as CSV from line %(line)s (%(detail)s)."),
}


def file_error(current: Page, exc: FileError, name: str, kind: ImportKind) -> str:
    """A file the importer cannot read, said in the reader's language."""
    if exc.code == "columns":
        parts = []
        if exc.params.get("missing"):
            parts.append(
                current._(
                    "%(name)s is missing the column(s): %(columns)s.",
                    name=name,
                    columns=exc.params["missing"],
                )
            )
        if exc.params.get("unknown"):
            parts.append(
                current._(
                    "%(name)s has column(s) the import does not know: %(columns)s.",
                    name=name,
                    columns=exc.params["unknown"],
                )
            )
        file = f"{kind.value}.csv"
        parts.append(
            current._(
                "The columns of %(file)s are: %(columns)s.",
                file=file,
                columns=exc.params.get("expected", ""),
            )
        )
        return " ".join(parts)
    message = FILE_ERRORS.get(exc.code, FILE_ERRORS["unreadable"])
    params = {"line": "", "detail": ""} | exc.params
    return current._(message, name=name, **params)


@page(scope=Scope.write, whole_programme=True)
async def import_form(current: Page) -> Response:
    return _form(current)


def _form(current: Page, problems: list[str] | None = None) -> Response:
    return current.render(
        "roster_import.html",
        {
            "problems": problems or [],
            "kinds": [k.value for k in ImportKind],
            "columns": {k.value: list(COLUMNS[k]) for k in ImportKind},
            "may_grant": current.viewer.has(Scope.admin),
            "max_mb": MAX_FILE // (1024 * 1024),
        },
        status_code=422 if problems else 200,
    )


async def upload(request: Request) -> Response:
    """Refuse a body too large before anything reads it (the form parser spools files of
    any size to disk), then go on as any page."""
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > MAX_BODY:
        return refusal(
            request,
            language_of(request),
            413,
            _("The files are too large: each may be at most 5 MB. Split a larger roster."),
        )
    return await _upload(request)


@page(scope=Scope.write, whole_programme=True)
async def _upload(current: Page) -> Response:
    viewer = current.viewer
    form = await current.form()
    files: dict[ImportKind, list[Row]] = {}
    texts: dict[ImportKind, tuple[str, str]] = {}
    problems: list[str] = []
    for kind in ImportKind:
        part = form.get(kind.value)
        if not isinstance(part, UploadFile) or (not part.filename and not part.size):
            continue  # this file was not chosen
        # Only shown, escaped; never a path: the files are kept in the database.
        name = (part.filename or f"{kind.value}.csv").replace("\\", "/").split("/")[-1][:100]
        data = await part.read(MAX_FILE + 1)
        if len(data) > MAX_FILE:
            problems.append(
                current._(
                    "%(name)s is larger than %(mb)s MB. Split it into smaller files.",
                    name=name,
                    mb=MAX_FILE // (1024 * 1024),
                )
            )
            continue
        try:
            text = decode(data, name)
            files[kind] = parse_csv(text, name, kind)
        except FileError as exc:
            problems.append(file_error(current, exc, name, kind))
            continue
        texts[kind] = (name, text)
    if not files and not problems:
        problems.append(current._("Choose at least one file to upload."))
    if problems:
        return _form(current, problems)
    may_grant = viewer.has(Scope.admin)
    # Checking reads only: on a session of its own whose transaction never takes SQLite's
    # write lock, and with this page's own transaction (which holds it) ended first.
    await current.session.commit()
    async with current.services.sessions() as reading:
        await reading.connection(execution_options={"sqlite_begin": "DEFERRED"})
        reports = await preview_roster(
            files, viewer.programme, session=reading, may_grant_console=may_grant
        )
    await _forget_old(current, viewer.programme)
    token = secrets.token_urlsafe(24)
    assert viewer.session.id is not None and viewer.person.id is not None
    current.session.add(
        RosterUpload(
            token=token,
            programme_id=viewer.coverage.programme_id,
            person_id=viewer.person.id,
            console_session_id=viewer.session.id,
            names={kind.value: name for kind, (name, _text) in texts.items()},
            schools_csv=_text(texts, ImportKind.schools),
            communities_csv=_text(texts, ImportKind.communities),
            people_csv=_text(texts, ImportKind.people),
            may_grant_console=may_grant,
            preview=[report_to_json(r) for r in reports],
            created_at=current.now,
            updated_at=current.now,
        )
    )
    log.info("console.roster_uploaded", files=[k.value for k in files])
    return current.redirect(f"/people/import/{token}")


def _text(texts: dict[ImportKind, tuple[str, str]], kind: ImportKind) -> str | None:
    found = texts.get(kind)
    return None if found is None else found[1]


async def _forget_old(current: Page, programme: Programme) -> None:
    """Uploads never confirmed, and reports read long ago, are forgotten: they hold people's
    numbers."""
    await current.session.execute(
        sa.delete(RosterUpload).where(
            col(RosterUpload.programme_id) == programme.id,
            col(RosterUpload.created_at) < current.now - KEPT_FOR,
            col(RosterUpload.state) != UploadState.running,
        )
    )


async def _upload_of(current: Page) -> RosterUpload:
    """The upload behind the address, if this very session made it; else not found."""
    token = str(current.request.path_params["token"])[:64]
    stmt = select(RosterUpload).where(
        col(RosterUpload.token) == token,
        col(RosterUpload.programme_id) == current.viewer.coverage.programme_id,
        col(RosterUpload.console_session_id) == current.viewer.session.id,
    )
    found = (await current.session.exec(stmt)).first()
    if found is None:
        raise NotFound("no such upload")
    return found


@dataclass
class FileView:
    kind: str
    name: str
    report: ImportReport
    errors: list[tuple[int, str]] = field(default_factory=list)
    more: int = 0  # refused rows not listed

    @property
    def counts(self) -> dict[str, int]:
        o = {k.value: n for k, n in self.report.outcomes.items()}
        return o | {"refused": len(self.report.errors), "rows": self.report.rows}


def _views(upload: RosterUpload, reports: list[Any]) -> list[FileView]:
    views = []
    for data in reports:
        report = report_from_json(data)
        errors = [(e.line, e.reason) for e in report.errors]
        views.append(
            FileView(
                kind=report.kind.value,
                name=str(upload.names.get(report.kind.value, f"{report.kind.value}.csv")),
                report=report,
                errors=errors[:SHOWN_ERRORS],
                more=max(0, len(errors) - SHOWN_ERRORS),
            )
        )
    return views


@page(scope=Scope.write, whole_programme=True)
async def status(current: Page) -> Response:
    upload = await _upload_of(current)
    running = upload.state is UploadState.running
    stale = running and upload.updated_at < current.now - STALE
    shown = upload.preview if upload.state is UploadState.previewed else upload.result
    views = _views(upload, shown)
    progress = upload.progress or {}
    total = int(progress.get("total") or 0)
    return current.render(
        "roster_import_status.html",
        {
            "upload": upload,
            "state": upload.state.value,
            "files": views,
            "importable": sum(v.report.valid for v in views),
            "refresh": running and not stale,
            "stale": stale,
            "progress": {
                "file": f"{progress['kind']}.csv" if progress.get("kind") else "",
                "phase": progress.get("phase", Phase.checking.value),
                "done": min(int(progress.get("done") or 0), total),
                "total": total,
            },
        },
    )


@page(scope=Scope.write, whole_programme=True)
async def confirm(current: Page) -> Response:
    upload = await _upload_of(current)
    assert upload.id is not None
    target = f"/people/import/{upload.token}"
    # Only one confirm starts the import, however many times the button is pressed.
    started = await current.session.execute(
        sa.update(RosterUpload)
        .where(col(RosterUpload.id) == upload.id, col(RosterUpload.state) == UploadState.previewed)
        .values(state=UploadState.running, updated_at=current.now, progress={})
    )
    if getattr(started, "rowcount", 0) != 1:
        return current.redirect(target)
    await current.session.commit()  # the task reads the row from its own session
    task = asyncio.create_task(
        run_import(current.services, upload.id, current.viewer.coverage.actor())
    )
    running: set[asyncio.Task[None]] | None = getattr(
        current.request.app.state, "roster_imports", None
    )
    if running is None:
        running = set()
        current.request.app.state.roster_imports = running
    running.add(task)  # a reference until it ends, or the loop may collect it
    task.add_done_callback(running.discard)
    log.info("console.roster_import_started")
    return current.redirect(target)


class _Tracker:
    """Writes the import's progress to its row: when a phase starts, when it ends, and at
    most every half second between (on a session of its own, between the import's own
    transactions, so it never waits on them)."""

    def __init__(self, services: Services, upload_id: int) -> None:
        self.services = services
        self.upload_id = upload_id
        self.done = 0
        self.where: tuple[str, str] = ("", "")
        self.last = 0.0

    def on(self, kind: ImportKind) -> Any:
        async def tell(phase: Phase, done: int, total: int) -> None:
            if (kind.value, phase.value) != self.where:
                self.where, self.done, self.last = (kind.value, phase.value), 0, 0.0
            self.done += done
            clock = time.monotonic()
            if self.done < total and clock - self.last < PROGRESS_EVERY_S:
                return
            self.last = clock
            progress = {"kind": kind.value, "phase": phase.value, "done": self.done}
            await save(self.services, self.upload_id, progress=progress | {"total": total})

        return tell


async def save(services: Services, upload_id: int, **values: Any) -> None:
    async with services.sessions() as session:
        await session.execute(
            sa.update(RosterUpload)
            .where(col(RosterUpload.id) == upload_id)
            .values(updated_at=utcnow(), **values)
        )
        await session.commit()


async def run_import(services: Services, upload_id: int, actor: Actor) -> None:
    """Import an upload's files in order, the good rows of each (the bad ones are refused
    with their lines, as the preview said), then keep the reports and drop the files."""
    tracker = _Tracker(services, upload_id)
    reports: list[ImportReport] = []
    note: str | None = None
    try:
        async with services.sessions() as session:
            upload = await session.get(RosterUpload, upload_id)
            assert upload is not None
            programme = await session.get(Programme, upload.programme_id)
            assert programme is not None
            texts = {
                ImportKind.schools: upload.schools_csv,
                ImportKind.communities: upload.communities_csv,
                ImportKind.people: upload.people_csv,
            }
            names = dict(upload.names)
            may_grant = upload.may_grant_console
            await session.commit()
            for kind, text in texts.items():
                if text is None:
                    continue
                rows = parse_csv(text, str(names.get(kind.value, kind.value)), kind)
                report = await import_csv(
                    kind, rows, programme, session=session, actor=actor, skip_invalid=True,
                    progress=tracker.on(kind), may_grant_console=may_grant,
                )  # fmt: skip
                reports.append(report)
                if report.failure is not None:
                    break  # the files after it may name what it did not write
    except asyncio.CancelledError:
        raise  # the server is stopping: the page sees the progress go stale
    except Exception as exc:  # anything else: say so on the page, not only in the log
        log.error("console.roster_import_crashed", error=type(exc).__name__)
        note = "the import stopped unexpectedly"
    failed = note is not None or any(r.failure is not None for r in reports)
    try:
        await save(
            services,
            upload_id,
            state=UploadState.failed if failed else UploadState.done,
            result=[report_to_json(r) for r in reports],
            finished_at=utcnow(),
            note=note,
            schools_csv=None,
            communities_csv=None,
            people_csv=None,
        )
    except Exception as exc:  # the database went away: the page will see it go stale
        log.error("console.roster_import_unsaved", error=type(exc).__name__)
        return
    log.info("console.roster_import_finished", failed=failed, files=len(reports))


@page()
async def export(current: Page) -> Response:
    return await _people_file(current)


async def _people_file(current: Page) -> Response:
    """The people the role covers as people.csv (whole numbers only with read:pii)."""
    viewer = current.viewer
    text = await people_csv(
        current.session,
        viewer.coverage.people(),
        community_ids=viewer.coverage.community_ids,
        pii=viewer.has(Scope.read_pii),
    )
    return _csv(viewer.programme, ImportKind.people, text)


@page()
async def export_roster(current: Page) -> Response:
    """One of the roster's three files, in the import's columns: people as `export` gives
    them; schools and communities only for roles covering the whole programme."""
    try:
        kind = ImportKind(current.request.path_params["kind"])
    except ValueError:
        raise NotFound("no such roster file") from None
    if kind is ImportKind.people:
        return await _people_file(current)
    viewer = current.viewer
    if not viewer.coverage.whole_programme:
        raise NotFound(f"no {kind} file for this role")
    assert viewer.programme.id is not None
    text = await roster_csv(current.session, viewer.programme.id, kind, pii=False)
    return _csv(viewer.programme, kind, text)


def _csv(programme: Programme, kind: ImportKind, text: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{programme.slug}-{kind}.csv"'},
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/people/export.csv", export, methods=["GET"]),
        Route("/exports/roster/{kind}", export_roster, methods=["GET"]),
        Route("/people/import", import_form, methods=["GET"]),
        Route("/people/import", upload, methods=["POST"]),
        Route("/people/import/{token}", status, methods=["GET"]),
        Route("/people/import/{token}/confirm", confirm, methods=["POST"]),
    ]
