"""Importing a roster: check every row first, writing nothing; then write in short chunks.

Checking first keeps "all or nothing": a file with a bad row is refused before anything is
written, however far down the row is. Writing in chunks, each its own transaction, keeps the
database available to everyone else (on SQLite one writer at a time holds the whole file).
If the database fails part-way, the chunks already written stay, the report says where
writing stopped, and running the same import again finishes the job: every row is an
upsert, so the rows already written come back unchanged.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
from typing import Any

import pydantic
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.errors import DomainError, field_messages
from service.domain.phones import mask_phone
from service.models import Community, Person, Programme, School
from service.models.enums import ConsoleRole
from service.roster.files import (
    CommunitiesFile,
    PeopleFile,
    RosterFile,
    SchoolsFile,
)
from service.roster.reading import Row, cell_problem
from service.roster.report import ImportKind, ImportReport, Phase, RowError

# (phase, rows just done, rows in the phase); an async one is awaited (the console's
# writes the progress where the page that shows it reads it).
Progress = Callable[[Phase, int, int], Awaitable[None] | None]

CHECK_STEP = 1000  # rows checked between two progress calls
# Rows checked between two turns given to the event loop: checking is pure computation,
# and in a web process other requests must not wait for a whole file.
YIELD_STEP = 250
# SQLite's busy handler sleeps up to 100 ms between tries for the lock: a pause that long
# between two chunks lets every connection that waited for the database have its turn.
SQLITE_PAUSE_S = 0.1
_PHONE = re.compile(r"\+?\d{9,15}")


async def _codes(
    session: AsyncSession, model: type[School] | type[Community], pid: int
) -> dict[str, int]:
    table: Any = model
    stmt = select(table.code, table.id).where(col(table.programme_id) == pid)
    return {code: id_ for code, id_ in (await session.exec(stmt)).all()}


async def _console_roles(session: AsyncSession, pid: int) -> dict[str, ConsoleRole]:
    stmt = sa.select(col(Person.phone), col(Person.console_role)).where(
        col(Person.programme_id) == pid,
        col(Person.console_role).is_not(None),
        col(Person.phone).is_not(None),
    )
    rows = (await session.execute(stmt)).all()
    return {str(phone): ConsoleRole(role) for phone, role in rows}


async def _open(
    kind: ImportKind,
    programme: Programme,
    session: AsyncSession,
    *,
    may_grant_console: bool = True,
    also: Mapping[ImportKind, Mapping[str, int]] | None = None,
) -> RosterFile[Any]:
    """The file's checker, with the codes its rows may name looked up in bulk (and
    `also` the codes an earlier file of the same preview would add)."""
    assert programme.id is not None
    extra = also or {}
    if kind is ImportKind.schools:
        return SchoolsFile(programme)
    # A code stored already keeps its id: only new ones stand in.
    schools = dict(extra.get(ImportKind.schools, {})) | await _codes(session, School, programme.id)
    if kind is ImportKind.communities:
        return CommunitiesFile(programme, schools)
    communities = dict(extra.get(ImportKind.communities, {}))
    communities |= await _codes(session, Community, programme.id)
    roles = None if may_grant_console else await _console_roles(session, programme.id)
    return PeopleFile(programme, schools, communities, roles)


def _reason(exc: Exception) -> str:
    if isinstance(exc, pydantic.ValidationError):
        return "; ".join(f"{where}: {msg}" if where else msg for where, msg in field_messages(exc))
    return str(exc)


def _failure(exc: BaseException) -> str:
    """Why the database stopped the import, in one line without SQL, values or phones."""
    if isinstance(exc, DomainError):
        return exc.message
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    text = lines[0] if lines else type(cause).__name__
    return _PHONE.sub(lambda m: mask_phone(m.group()) or "", text)[:200]


def _lines(items: Sequence[tuple[int, object]]) -> str:
    first, last = items[0][0], items[-1][0]
    return f"line {first}" if first == last else f"lines {first}-{last}"


async def _tell(progress: Progress, phase: Phase, done: int, total: int) -> None:
    told = progress(phase, done, total)
    if inspect.isawaitable(told):
        await told


async def _check(
    roster: RosterFile[Any],
    rows: list[Row],
    report: ImportReport,
    progress: Progress,
    session: AsyncSession,
) -> list[tuple[int, Any]]:
    """Every row through the file's checks, then against what is stored (only reading):
    the good ones, checked."""
    checked: list[tuple[int, Any]] = []
    for done, (line, row) in enumerate(rows, 1):
        try:
            problem = row.get("__error__") or cell_problem(row)
            if problem:
                raise ValueError(problem)
            checked.append((line, roster.check(line, row)))
        except (DomainError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
            report.errors.append(RowError(line, _reason(exc)))
        if done % CHECK_STEP == 0 or done == len(rows):
            await _tell(progress, Phase.checking, done % CHECK_STEP or CHECK_STEP, len(rows))
        elif done % YIELD_STEP == 0:
            await asyncio.sleep(0)
    refused: list[RowError] = []
    size = roster.chunk_rows
    for start in range(0, len(checked), size):
        chunk = checked[start : start + size]
        reasons = await roster.refusals(session, [item for _, item in chunk])
        refused += [RowError(line, r) for (line, _), r in zip(chunk, reasons, strict=True) if r]
    if refused:
        bad = {e.line for e in refused}
        checked = [(line, item) for line, item in checked if line not in bad]
        report.errors = sorted(report.errors + refused, key=lambda e: e.line)
    return checked


async def import_csv(
    kind: ImportKind,
    rows: list[Row],
    programme: Programme,
    *,
    session: AsyncSession,
    actor: Actor,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    chunk_rows: int | None = None,
    may_grant_console: bool = True,
) -> ImportReport:
    """Check every row, then write the good ones if all are good (or if asked to skip the
    bad ones), `chunk_rows` rows per transaction. Commits: call it between units of work.
    `may_grant_console`: False refuses a row that gives or changes console access (the
    importer is not a programme admin)."""
    tell = progress or (lambda _phase, _done, _total: None)
    report = ImportReport(kind=kind, rows=len(rows))
    roster = await _open(kind, programme, session, may_grant_console=may_grant_console)
    # Hold no transaction (on SQLite: no lock) while checking.
    await session.commit()
    checked = await _check(roster, rows, report, tell, session)
    await session.commit()  # the checks against what is stored only read: end that too
    if report.errors and not skip_invalid:
        return report
    await _write(roster, checked, report, session, actor, chunk_rows or roster.chunk_rows, tell)
    return report


async def preview_roster(
    files: Mapping[ImportKind, list[Row]],
    programme: Programme,
    *,
    session: AsyncSession,
    may_grant_console: bool = True,
    progress: Progress | None = None,
) -> list[ImportReport]:
    """What importing these files (schools, then communities, then people; any of them)
    with `skip_invalid` would do, writing nothing: each file's refused rows with their
    lines and reasons, exactly as `import_csv` gives them, and how many rows would be
    created, updated or left unchanged. A code an earlier file adds counts as known to
    the files after it, as it will be when they are imported in that order. It only
    reads: give it a session whose transaction takes no write lock (on SQLite, begun
    DEFERRED), so a big file's preview holds nobody up."""
    tell = progress or (lambda _phase, _done, _total: None)
    added: dict[ImportKind, dict[str, int]] = {}
    placeholder = 0
    reports = []
    for kind in ImportKind:
        if kind not in files:
            continue
        rows = files[kind]
        report = ImportReport(kind=kind, rows=len(rows))
        roster = await _open(
            kind, programme, session, may_grant_console=may_grant_console, also=added
        )
        checked = await _check(roster, rows, report, tell, session)
        items = [item for _, item in checked]
        size = roster.chunk_rows
        for start in range(0, len(items), size):
            for row in await roster.plan(session, items[start : start + size]):
                report.outcomes[row.outcome] += 1
                report.kept_own_language += row.kept_language
                report.kept_own_reach += row.kept_reach
        # Stand-in ids (negative: never stored) for the codes this file would add.
        known = added.setdefault(kind, {})
        for code in roster.codes_of(items):
            placeholder -= 1
            known.setdefault(code, placeholder)
        reports.append(report)
    return reports


async def _write(
    roster: RosterFile[Any],
    checked: list[tuple[int, Any]],
    report: ImportReport,
    session: AsyncSession,
    actor: Actor,
    size: int,
    tell: Progress,
) -> None:
    pause = session.bind is not None and session.bind.dialect.name == "sqlite"
    for start in range(0, len(checked), size):
        chunk = checked[start : start + size]
        if start and pause:
            await asyncio.sleep(SQLITE_PAUSE_S)
        try:
            written = await roster.write(session, [item for _, item in chunk], actor)
            await session.commit()
        except (SQLAlchemyError, OSError, TimeoutError, DomainError) as exc:
            with suppress(SQLAlchemyError, OSError, TimeoutError):
                await session.rollback()
            report.failure = f"{_lines(chunk)}: {_failure(exc)}"
            return
        for row in written:
            report.outcomes[row.outcome] += 1
            report.kept_own_language += row.kept_language
            report.kept_own_reach += row.kept_reach
        report.written += len(chunk)
        await _tell(tell, Phase.writing, len(chunk), len(checked))
    report.applied = True
