"""Reading a roster file: its rows, with the line numbers a spreadsheet shows."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from service.domain.exports import FORMULA_START
from service.roster.columns import COLUMNS
from service.roster.report import ImportKind

MAX_CELL = 2_000  # characters; the longest real cell is a list of codes

# C0 controls (but tab and line breaks, which spreadsheets put in cells) and DEL: PostgreSQL
# refuses NUL outright, and the others would end up on a teacher's screen.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

Row = tuple[int, dict[str, str]]


class FileError(Exception):
    """The file as a whole cannot be read (missing columns, not UTF-8, broken CSV…).

    `code` and `params` say the same as the English message, for a face that words it
    in the reader's language (the console): `not_utf8`, `not_csv` (a spreadsheet or other
    binary file), `unreadable`, `empty`, `columns` (`missing`, `unknown`, `expected`),
    `broken` (`line`, `detail`).
    """

    def __init__(self, message: str, *, code: str = "unreadable", **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


def _csv_problem(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return (
            f"a cell is longer than {csv.field_size_limit():,} characters, and a roster cell "
            f'holds at most {MAX_CELL:,}; is a quote (") opened and never closed?'
        )
    return f"this is not CSV a spreadsheet would write ({exc})"


# What a spreadsheet's own formats start with: saved as .xlsx/.ods (zip), .xls (OLE2), PDF.
_BINARY_STARTS = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"%PDF")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def decode(data: bytes, name: str) -> str:
    """A file's bytes as text, or why they are not a CSV file a roster can be."""
    if data.startswith(_BINARY_STARTS) or data.startswith(_UTF16_BOMS):
        raise FileError(
            f"{name} is not a CSV file (a spreadsheet's own format?); save it as 'CSV UTF-8'",
            code="not_csv",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileError(
            f"{name} is not UTF-8 text; save it as 'CSV UTF-8'", code="not_utf8"
        ) from None


def read_csv(path: Path, kind: ImportKind) -> list[Row]:
    """Rows with their line numbers as a spreadsheet shows them (header is line 1)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise FileError(
            f"{path.name} is not UTF-8 text; save it as 'CSV UTF-8'", code="not_utf8"
        ) from None
    except OSError as exc:
        raise FileError(f"cannot read {path}: {exc.strerror}") from None
    return parse_csv(text, path.name, kind)


def parse_csv(text: str, name: str, kind: ImportKind) -> list[Row]:
    """`read_csv` for text already in hand (an upload); `name` is the file's, for messages."""
    reader = csv.reader(text.splitlines(keepends=True))
    end = 0  # the last line of the record read so far
    try:
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise FileError(f"{name} is empty", code="empty") from None
        wanted = COLUMNS[kind]
        unknown = [h for h in header if h not in wanted]
        missing = [col for col, required in wanted.items() if required and col not in header]
        if unknown or missing:
            parts = []
            if missing:
                parts.append(f"missing column(s): {', '.join(missing)}")
            if unknown:
                parts.append(f"unknown column(s): {', '.join(unknown)}")
            raise FileError(
                f"{name}: {'; '.join(parts)}. Expected: {', '.join(wanted)}",
                code="columns",
                missing=", ".join(missing),
                unknown=", ".join(unknown),
                expected=", ".join(wanted),
            )
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
                column: (_unguarded(cells[i].strip()) if i < len(cells) else "")
                for i, column in enumerate(header)
            }
            rows.append((start, values))
    except csv.Error as exc:
        # The reader cannot go on past a broken record: name where that record starts.
        problem = _csv_problem(exc)
        raise FileError(
            f"{name} line {end + 1}: {problem}", code="broken", line=end + 1, detail=problem
        ) from None
    return rows


def _unguarded(value: str) -> str:
    """A cell as it was before an export guarded it: the `'` written before text that starts
    like a spreadsheet formula (`'-Group A`) is not part of it, so an export imports back."""
    if value.startswith("'") and value[1:2] and value[1] in FORMULA_START:
        return value[1:]
    return value


def cell_problem(row: dict[str, str]) -> str | None:
    """Why a row's cells cannot be taken as they are, before any column is read."""
    for column, value in row.items():
        if len(value) > MAX_CELL:
            long = f"{len(value):,} characters long"
            return f"the {column} cell is {long}; a cell holds at most {MAX_CELL:,}"
        found = _CONTROL.search(value)
        if found:
            return f"the {column} cell contains a control character (U+{ord(found.group()):04X})"
    return None
