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
import re
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

import pydantic
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.errors import DomainError, field_messages
from service.domain.phones import mask_phone
from service.models import Community, Programme, School
from service.roster.files import (
    CommunitiesFile,
    PeopleFile,
    RosterFile,
    SchoolsFile,
)
from service.roster.reading import Row, cell_problem
from service.roster.report import ImportKind, ImportReport, Phase, RowError

Progress = Callable[[Phase, int, int], None]  # (phase, rows just done, rows in the phase)

CHECK_STEP = 1000  # rows checked between two progress calls
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


async def _open(kind: ImportKind, programme: Programme, session: AsyncSession) -> RosterFile[Any]:
    """The file's checker, with the codes its rows may name looked up in bulk."""
    assert programme.id is not None
    if kind is ImportKind.schools:
        return SchoolsFile(programme)
    schools = await _codes(session, School, programme.id)
    if kind is ImportKind.communities:
        return CommunitiesFile(programme, schools)
    return PeopleFile(programme, schools, await _codes(session, Community, programme.id))


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
) -> ImportReport:
    """Check every row, then write the good ones if all are good (or if asked to skip the
    bad ones), `chunk_rows` rows per transaction. Commits: call it between units of work."""
    tell = progress or (lambda _phase, _done, _total: None)
    report = ImportReport(kind=kind, rows=len(rows))
    roster = await _open(kind, programme, session)
    # Hold no transaction (on SQLite: no lock) while checking.
    await session.commit()
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
            tell(Phase.checking, done % CHECK_STEP or CHECK_STEP, len(rows))
    if report.errors and not skip_invalid:
        return report
    await _write(roster, checked, report, session, actor, chunk_rows or roster.chunk_rows, tell)
    return report


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
        report.written += len(chunk)
        tell(Phase.writing, len(chunk), len(checked))
    report.applied = True
