"""Reading a roster file and applying it row by row, each row in its own savepoint."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import pydantic
from sqlmodel.ext.asyncio.session import AsyncSession

from service.domain.actor import Actor
from service.domain.communities import CommunityInput, add_member, find_community, upsert_community
from service.domain.errors import DomainError, field_messages
from service.domain.outcome import Outcome
from service.domain.people import PersonInput, upsert_person
from service.domain.phones import normalise_phone
from service.domain.schools import SchoolInput, find_school, upsert_school
from service.models import Community, Programme, School
from service.models.enums import MembershipRole
from service.roster import columns as c


class ImportKind(StrEnum):
    schools = "schools"
    communities = "communities"
    people = "people"


COLUMNS = {
    ImportKind.schools: c.SCHOOL_COLUMNS,
    ImportKind.communities: c.COMMUNITY_COLUMNS,
    ImportKind.people: c.PEOPLE_COLUMNS,
}


class FileError(Exception):
    """The file as a whole cannot be read (missing columns, not UTF-8…)."""


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str


@dataclass
class ImportReport:
    kind: ImportKind
    rows: int = 0
    outcomes: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    errors: list[RowError] = field(default_factory=list)
    applied: bool = False

    @property
    def changed(self) -> int:
        return self.outcomes[Outcome.created] + self.outcomes[Outcome.updated]


Row = tuple[int, dict[str, str]]


def read_csv(path: Path, kind: ImportKind) -> list[Row]:
    """Rows with their line numbers as a spreadsheet shows them (header is line 1)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise FileError(f"{path.name} is not UTF-8 text; save it as 'CSV UTF-8'") from None
    except OSError as exc:
        raise FileError(f"cannot read {path}: {exc.strerror}") from None
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise FileError(f"{path.name} is empty") from None
    wanted = COLUMNS[kind]
    unknown = [h for h in header if h not in wanted]
    missing = [name for name, required in wanted.items() if required and name not in header]
    if unknown or missing:
        parts = []
        if missing:
            parts.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s): {', '.join(unknown)}")
        raise FileError(f"{path.name}: {'; '.join(parts)}. Expected: {', '.join(wanted)}")
    rows: list[Row] = []
    end = reader.line_num
    for cells in reader:
        # A quoted cell may span lines: report the line where the record starts.
        start, end = end + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            rows.append((start, {"__error__": "more cells than columns"}))
            continue
        values = {
            name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header)
        }
        rows.append((start, values))
    return rows


def _reason(exc: Exception) -> str:
    if isinstance(exc, pydantic.ValidationError):
        return "; ".join(f"{where}: {msg}" if where else msg for where, msg in field_messages(exc))
    return str(exc)


class _Importer:
    def __init__(self, programme: Programme, session: AsyncSession, actor: Actor) -> None:
        assert programme.id is not None
        self.programme = programme
        self.pid = programme.id
        self.session = session
        self.actor = actor
        self.seen: dict[str, int] = {}  # row key -> first line, to catch duplicates in the file
        # Schools and communities do not change while people are imported: look each up once.
        # Holding the objects (not just ids) also keeps them in the session's identity map,
        # which is weak, so the domain's ownership checks find them without a query.
        self.schools: dict[str, School] = {}
        self.communities: dict[str, Community] = {}

    def _once(self, key: str, line: int, what: str) -> None:
        first = self.seen.setdefault(key, line)
        if first != line:
            raise ValueError(f"duplicate {what}: already on line {first}")

    async def school(self, line: int, row: dict[str, str]) -> Outcome:
        self._once(row.get("code", "").lower(), line, f"school code {row.get('code')!r}")
        data = SchoolInput(
            code=row["code"], name=row["name"],
            district=row.get("district") or None, sector=row.get("sector") or None,
        )  # fmt: skip
        _, outcome = await upsert_school(
            self.programme, data, session=self.session, actor=self.actor
        )
        return outcome

    async def _school_id(self, code: str) -> int:
        if code not in self.schools:
            school = await find_school(self.session, self.pid, code)
            if school is None:
                raise ValueError(f"unknown school {code!r}; import schools first")
            self.schools[code] = school
        school_id = self.schools[code].id
        assert school_id is not None
        return school_id

    async def _community_id(self, code: str) -> int:
        if code not in self.communities:
            community = await find_community(self.session, self.pid, code)
            if community is None:
                raise ValueError(f"unknown community {code!r}; import communities first")
            self.communities[code] = community
        community_id = self.communities[code].id
        assert community_id is not None
        return community_id

    async def community(self, line: int, row: dict[str, str]) -> Outcome:
        self._once(row.get("code", "").lower(), line, f"community code {row.get('code')!r}")
        data = CommunityInput(
            code=row["code"],
            name=row["name"],
            kind=c.parse_kind(row["kind"]),
            subjects=c.split_list(row.get("subjects", "")),
            school_ids=[
                await self._school_id(code) for code in c.split_list(row.get("schools", ""))
            ],
            meetings_per_term=int(row.get("meetings_per_term") or 3),
        )
        _, outcome = await upsert_community(
            self.programme, data, session=self.session, actor=self.actor
        )
        return outcome

    async def person(self, line: int, row: dict[str, str]) -> Outcome:
        phone = row.get("phone", "")
        if phone:
            phone = normalise_phone(phone, self.programme.phone_region)
            self._once(phone, line, f"phone {phone}")
        school_code = row.get("school", "")
        data = PersonInput(
            name=row["name"],
            phone=phone or None,
            language=c.parse_language(row.get("language", "")),
            school_id=await self._school_id(school_code) if school_code else None,
            roles=c.parse_roles(row.get("roles", "")),
            subjects=c.split_list(row.get("subjects", "")),
            gender=c.parse_gender(row.get("gender", "")),
        )
        person, outcome = await upsert_person(
            self.programme, data, session=self.session, actor=self.actor
        )
        assert person.id is not None
        groups = [
            (code, MembershipRole.member) for code in c.split_list(row.get("communities", ""))
        ] + [
            (code, MembershipRole.facilitator) for code in c.split_list(row.get("facilitates", ""))
        ]
        for code, role in groups:
            community_id = await self._community_id(code)
            _, joined = await add_member(
                self.pid, community_id, person.id, role=role, session=self.session, actor=self.actor
            )
            if joined is not Outcome.unchanged and outcome is Outcome.unchanged:
                outcome = Outcome.updated
        return outcome


async def import_csv(
    kind: ImportKind,
    rows: list[Row],
    programme: Programme,
    *,
    session: AsyncSession,
    actor: Actor,
    skip_invalid: bool = False,
    on_row: Callable[[], None] | None = None,
) -> ImportReport:
    """Apply every row; commit only if all rows are good, or if asked to skip the bad ones.

    Each row runs in a savepoint, so a row that fails half-way leaves nothing behind
    and the rows after it are still checked: the report lists every bad row at once.
    """
    importer = _Importer(programme, session, actor)
    apply = {
        ImportKind.schools: importer.school,
        ImportKind.communities: importer.community,
        ImportKind.people: importer.person,
    }[kind]
    report = ImportReport(kind=kind, rows=len(rows))
    for line, row in rows:
        try:
            if "__error__" in row:
                raise ValueError(row["__error__"])
            async with session.begin_nested():
                outcome = await apply(line, row)
            report.outcomes[outcome] += 1
        except (DomainError, ValueError, pydantic.ValidationError) as exc:
            report.errors.append(RowError(line, _reason(exc)))
        if on_row is not None:
            on_row()
    if report.errors and not skip_invalid:
        await session.rollback()
        report.outcomes = dict.fromkeys(Outcome, 0)
        return report
    await session.commit()
    report.applied = True
    return report


def iter_errors(report: ImportReport) -> Iterator[str]:
    for error in report.errors:
        yield f"line {error.line}: {error.reason}"
