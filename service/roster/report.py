"""What an import did, row by row: the report the CLI prints and the demo seed reads."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

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
