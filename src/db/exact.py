"""Exact round trip of SQLite values through D1 and JSON (backups). D1 hands values to
the Worker as JavaScript values: a BLOB as bytes/list, an INTEGER past 2**53 rounded
through a double, an integral REAL as a Python int. So an export page selects each
column through a typeof()-aware expression, plus one marker character per column that
says how to read it back:

  '.'  the value as D1 returns it (NULL, TEXT, safe INTEGER, non-integral REAL)
  'b'  BLOB, as hex text
  'i'  INTEGER outside +-(2**53 - 1), as decimal text
  'r'  REAL that D1 would hand back as an int (integral, within 2**53) or infinite:
       the integer, or the text 'Inf' / '-Inf'

In the export files a marked value is written as {"$b": hex} / {"$i": "digits"} /
{"$r": n}. An export page is built by SQLite itself (`json_sql`: each row as its JSON
line, so one text per row crosses from D1 to Python instead of one value per column),
except for the REALs SQLite cannot print exactly (SQLite 3.40 prints 15 significant
digits): those lines hold SENTINEL where the REAL goes, the same statement returns the
REAL as a plain value, and `fill_reals` writes Python's shortest exact repr there. On
restore it is bound so that SQLite stores the very same value (bytes as a
BLOB, CAST(text AS INTEGER), CAST(int AS REAL)). Pure functions: no I/O."""

from __future__ import annotations

import math

SAFE = 9007199254740991  # 2**53 - 1
PLAIN = "."


def _is_big_int(c: str) -> str:
    return f"(typeof({c}) = 'integer' AND {c} NOT BETWEEN -{SAFE} AND {SAFE})"


def _is_int_real(c: str) -> str:
    # Comparisons only (no abs()): abs() of the smallest int64 raises an overflow error.
    return f"(typeof({c}) = 'real' AND {c} BETWEEN -{SAFE} AND {SAFE} AND {c} = CAST({c} AS INTEGER))"


def _is_inf(c: str) -> str:
    return f"(typeof({c}) = 'real' AND {c} IN (9e999, -9e999))"


def marker_sql(columns: list[str]) -> str:
    """One character per column (see the module doc)."""
    parts = [f"CASE WHEN typeof({c}) = 'blob' THEN 'b' WHEN {_is_big_int(c)} THEN 'i'"
             f" WHEN {_is_int_real(c)} OR {_is_inf(c)} THEN 'r' ELSE '.' END" for c in columns]
    return " || ".join(parts) if parts else "''"


def value_sql(c: str) -> str:
    return (f"CASE WHEN typeof({c}) = 'blob' THEN hex({c}) WHEN {_is_big_int(c)} THEN CAST({c} AS TEXT)"
            f" WHEN {_is_int_real(c)} THEN CAST({c} AS INTEGER) WHEN {_is_inf(c)} THEN CAST({c} AS TEXT)"
            f" ELSE {c} END")


# Where SQL leaves a REAL for Python to print: a control character, which a JSON text
# never holds raw (JSON strings escape every character below U+0020).
SENTINEL = "\x1f"
# The longest repr of a double ("-2.2250738585072014e-308"): what a SENTINEL may grow to.
REAL_TEXT_MAX = 24


def needs_python_sql(c: str) -> str:
    """A REAL that SQL does not print itself (neither integral within 2**53 nor infinite)."""
    return f"(typeof({c}) = 'real' AND NOT {_is_int_real(c)} AND NOT {_is_inf(c)})"


def json_sql(c: str) -> str:
    """Column `c` as the JSON text of its exported value (the encoding of encode_row):
    text through json_quote (exact, NUL included), safe integers as digits, whole REALs
    and infinities as {"$r"}, big integers {"$i"}, BLOBs {"$b"}, other REALs SENTINEL."""
    return (f"CASE typeof({c}) WHEN 'null' THEN 'null' WHEN 'text' THEN json_quote({c})"
            f" WHEN 'integer' THEN CASE WHEN {c} BETWEEN -{SAFE} AND {SAFE} THEN CAST({c} AS TEXT)"
            f" ELSE '{{\"$i\":\"' || {c} || '\"}}' END"
            f" WHEN 'real' THEN CASE WHEN {_is_int_real(c)} THEN '{{\"$r\":' || CAST({c} AS INTEGER) || '}}'"
            f" WHEN {c} = 9e999 THEN '{{\"$r\":\"Inf\"}}' WHEN {c} = -9e999 THEN '{{\"$r\":\"-Inf\"}}'"
            f" ELSE char(31) END"
            f" ELSE '{{\"$b\":\"' || hex({c}) || '\"}}' END")


def line_sql(columns: list[str]) -> str:
    """The row's NDJSON line (without the newline): a JSON array of json_sql values."""
    return "'[' || " + " || ',' || ".join(json_sql(c) for c in columns) + " || ']'" if columns else "'[]'"


def fill_reals(text: str, reals: list) -> str:
    """Lines from json_sql with each SENTINEL replaced, in order, by the next REAL (as D1
    returned it: a float, or an int for an integral one past 2**53) printed exactly. A
    count that does not match is refused: a page is never written with a value missing."""
    if not reals:
        if SENTINEL in text:
            raise ValueError("an export page lacks a REAL value")
        return text
    pieces = text.split(SENTINEL)
    if len(pieces) != len(reals) + 1:
        raise ValueError(f"an export page has {len(pieces) - 1} REAL slots for {len(reals)} values")
    out = [pieces[0]]
    for value, piece in zip(reals, pieces[1:]):
        if type(value) not in (float, int) or not math.isfinite(value):
            raise ValueError(f"unexpected REAL {value!r} in an export page")
        out.append(repr(float(value)))
        out.append(piece)
    return "".join(out)


def encode_row(marker: str, values: list) -> list:
    """A page row (marker, values as D1 returned them) -> the JSON-safe list written to
    the export file."""
    if marker.count(PLAIN) == len(marker):
        return values
    out = list(values)
    for i, m in enumerate(marker):
        if m == "b":
            out[i] = {"$b": out[i]}
        elif m == "i":
            out[i] = {"$i": out[i]}
        elif m == "r":
            out[i] = {"$r": out[i]}
    return out


def bind_value(value) -> tuple[str, object]:
    """(SQL placeholder template, parameter) that stores `value` (one element of an
    exported row) exactly: the template has `{}` where the numbered parameter goes."""
    if isinstance(value, dict):
        if "$b" in value:
            return "{}", bytes.fromhex(value["$b"])
        if "$i" in value:
            digits = value["$i"]
            if not isinstance(digits, str) or not digits.lstrip("-").isdigit():
                raise ValueError(f"bad exact integer {digits!r}")
            return "CAST({} AS INTEGER)", digits
        if "$r" in value:
            r = value["$r"]
            if isinstance(r, str):
                return "{}", float(r)  # 'Inf' / '-Inf': a JS Infinity binds as REAL
            return "CAST({} AS REAL)", int(r)
        raise ValueError(f"unknown exact value {value!r}")
    check_plain(value)
    return "{}", value


_PLAIN = (str, int, float, type(None))
PLAIN_TYPES = frozenset(_PLAIN)


def check_plain(value) -> None:
    """A value bound as it is: NULL, text, a safe integer or a non-integral real."""
    if type(value) not in _PLAIN:
        raise ValueError(f"unexpected value {value!r} in an export row")
