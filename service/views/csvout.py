"""``?format=csv``: one flat row per group (the total first), nested figures as dotted columns."""

from __future__ import annotations

import csv
import io
from typing import Any

__all__ = ["view_rows", "to_csv", "flatten"]


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
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    return buf.getvalue()
