"""Roster import: schools, communities and people from CSV, all-or-nothing by default."""

from service.roster.importer import Progress, import_csv, preview_roster
from service.roster.reading import FileError, Row, decode, parse_csv, read_csv
from service.roster.report import (
    ImportKind,
    ImportReport,
    Phase,
    RowError,
    iter_errors,
    report_from_json,
    report_to_json,
)

__all__ = [
    "FileError",
    "ImportKind",
    "ImportReport",
    "Phase",
    "Progress",
    "Row",
    "RowError",
    "decode",
    "import_csv",
    "iter_errors",
    "parse_csv",
    "preview_roster",
    "read_csv",
    "report_from_json",
    "report_to_json",
]
