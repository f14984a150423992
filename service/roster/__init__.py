"""Roster import: schools, communities and people from CSV, all-or-nothing by default."""

from service.roster.importer import Progress, import_csv
from service.roster.reading import FileError, Row, read_csv
from service.roster.report import ImportKind, ImportReport, Phase, RowError, iter_errors

__all__ = [
    "FileError",
    "ImportKind",
    "ImportReport",
    "Phase",
    "Progress",
    "Row",
    "RowError",
    "import_csv",
    "iter_errors",
    "read_csv",
]
