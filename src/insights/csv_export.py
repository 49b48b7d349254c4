"""CSV downloads of the insight tables (pure). A spreadsheet runs a cell that starts with
=, +, - or @ as a formula, and some also a tab or carriage return (OWASP "CSV
injection"): such cells get a leading apostrophe, so a name like "=HYPERLINK(...)" stays
text. Numbers are written as numbers (a negative number is data, not a formula)."""

from __future__ import annotations

import csv
import io
import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(round(value, 6)) if isinstance(value, float) else str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 line ends
    writer.writerow([cell(h) for h in header])
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


def filename(*parts: str) -> str:
    """A safe download name from its parts (course ids may hold anything)."""
    return "-".join(_FILENAME.sub("_", p).strip("_")[:60] or "x" for p in parts) + ".csv"
