"""What an import did, row by row: the report the CLI prints and the demo seed reads."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from service.domain.outcome import Outcome


class ImportKind(StrEnum):
    schools = "schools"
    communities = "communities"
    people = "people"


class Phase(StrEnum):
    """An import first checks every row, writing nothing; then writes, chunk by chunk."""

    checking = "checking"
    writing = "writing"


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
    applied: bool = False  # every good row is written
    written: int = 0  # rows written (committed), also when writing stopped part-way
    # Rows whose person had chosen their language themselves: the file's language was not used.
    kept_own_language: int = 0
    # Rows whose person had chosen WhatsApp themselves: the file's channel was not used.
    kept_own_reach: int = 0
    # Why writing stopped part-way, with the lines of the chunk that was not written.
    failure: str | None = None

    @property
    def valid(self) -> int:
        return self.rows - len(self.errors)

    @property
    def changed(self) -> int:
        return self.outcomes[Outcome.created] + self.outcomes[Outcome.updated]


def iter_errors(report: ImportReport) -> Iterator[str]:
    for error in report.errors:
        yield f"line {error.line}: {error.reason}"


def report_to_json(report: ImportReport) -> dict[str, Any]:
    """A report as plain JSON values, to keep it (the console's import runs in the background)."""
    return {
        "kind": report.kind.value,
        "rows": report.rows,
        "outcomes": {o.value: n for o, n in report.outcomes.items()},
        "errors": [[e.line, e.reason] for e in report.errors],
        "applied": report.applied,
        "written": report.written,
        "kept_own_language": report.kept_own_language,
        "kept_own_reach": report.kept_own_reach,
        "failure": report.failure,
    }


def report_from_json(data: dict[str, Any]) -> ImportReport:
    outcomes = dict.fromkeys(Outcome, 0)
    outcomes.update({Outcome(k): int(n) for k, n in data.get("outcomes", {}).items()})
    return ImportReport(
        kind=ImportKind(data["kind"]),
        rows=int(data.get("rows", 0)),
        outcomes=outcomes,
        errors=[RowError(int(line), str(reason)) for line, reason in data.get("errors", [])],
        applied=bool(data.get("applied")),
        written=int(data.get("written", 0)),
        kept_own_language=int(data.get("kept_own_language", 0)),
        kept_own_reach=int(data.get("kept_own_reach", 0)),
        failure=data.get("failure"),
    )
