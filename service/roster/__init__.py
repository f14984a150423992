"""Roster import: schools, communities and people from CSV, all-or-nothing by default."""

from service.roster.importer import (
    FileError,
    ImportKind,
    ImportReport,
    RowError,
    import_csv,
    iter_errors,
    read_csv,
)

__all__ = [
    "FileError",
    "ImportKind",
    "ImportReport",
    "RowError",
    "import_csv",
    "iter_errors",
    "read_csv",
]
