"""``?format=csv``: one flat row per group (the total first), nested figures as dotted columns.

This is the only CSV writer of taskhub, and every cell it writes goes through ``safe_cell``:
names in the exports (milestones, people, projects, tasks, sources) are text the tools'
users control, and a spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return as a formula (``=HYPERLINK(...)``, DDE). Following OWASP's CSV
injection guidance (https://owasp.org/www-community/attacks/CSV_Injection), such a cell is
written with a leading single quote, which spreadsheets show as text and do not evaluate; so
is one whose formula character follows leading whitespace, a BOM or control characters (some
importers trim those), or is a full-width ``＝＋－＠``.
Numbers are never touched: an ``int``/``float``/``Decimal`` keeps its sign, and so does a
string that is exactly a plain decimal number (``-12.5``): a spreadsheet reads it as that
number, so it can carry no formula, and quoting it would turn a name like ``-1`` into text
that no longer matches what the tool shows.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["view_rows", "to_csv", "flatten", "safe_cell", "write_csv"]

# OWASP's list of characters a spreadsheet treats as the start of a formula, plus NUL and a
# newline (OWASP ASVS 5.0 lists them) and the full-width forms of the four operators, which some
# spreadsheets normalize to the ASCII ones on import.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# Importers that trim leading spaces ("Trim spaces" in LibreOffice, Google Sheets) would see the
# formula behind them: the prefix check looks past leading whitespace, a BOM and C0 controls.
_IGNORED_LEAD = re.compile(r"^[\s\ufeff\x00-\x1f\x7f]+")
# A plain decimal number: optional minus, digits, optional fraction. No exponent, no plus
# sign, no spaces: anything more than this is quoted like any other text.
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def safe_cell(value: Any) -> Any:
    """The value as it may go into a CSV cell: text that a spreadsheet would evaluate as a
    formula gets a leading ``'``; numbers (and ``None``, written as an empty cell) pass."""
    if value is None:
        return ""
    if not isinstance(value, str) or _PLAIN_NUMBER.fullmatch(value):
        return value
    if value.startswith(FORMULA_PREFIXES) or _IGNORED_LEAD.sub("", value).startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def write_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Header and rows as CSV text, every cell (header included) through ``safe_cell``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([safe_cell(c) for c in columns])
    w.writerows([safe_cell(v) for v in row] for row in rows)
    return buf.getvalue()


def flatten(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        name = f"{prefix}{k}"
        if k == "reasons" and isinstance(v, dict):
            out[name] = "; ".join(f"{f}: {r}" for f, r in v.items())
        elif isinstance(v, dict):
            out.update(flatten(v, f"{name}."))
        elif isinstance(v, list):
            continue
        else:
            out[name] = v
    return out


def view_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows a spreadsheet gets for a view result."""
    view = result["view"]
    if view == "milestones":
        rows = result["milestones"]
    elif view == "workload":
        rows = [result["total"], *result["people"]]
    else:
        rows = [result["total"], *result["groups"]]
    return [flatten(r) for r in rows]


def to_csv(result: dict[str, Any]) -> str:
    rows = view_rows(result)
    columns: list[str] = []
    for r in rows:
        for k in r:
            if k not in columns:
                columns.append(k)
    if "reasons" in columns:  # keep the explanations last
        columns.remove("reasons")
        columns.append("reasons")
    return write_csv(columns, ([r.get(k) for k in columns] for r in rows))
