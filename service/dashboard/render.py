"""Jinja2 environment, display filters and the HTML response helper.

Jinja2: https://jinja.palletsprojects.com/en/stable/api/ — autoescaping is on for
every template; charts arrive as ``Markup`` built by ``charts.py``.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from service.api.edge import DASHBOARD_HEADERS

__all__ = [
    "env",
    "render",
    "pct",
    "money",
    "num",
    "ratio",
    "duration",
    "when",
    "TEMPLATES",
    "STATIC",
]

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
DASH = "—"


def pct(v: float | None, digits: int = 0) -> str:
    return DASH if v is None else f"{v * 100:.{digits}f}%"


def money(v: float | None, currency: str = "") -> str:
    if v is None:
        return DASH
    s = f"{v:,.0f}" if abs(v) >= 100 or float(v).is_integer() else f"{v:,.2f}"
    return f"{s} {currency}".strip()


def num(v: float | None, digits: int = 1) -> str:
    if v is None:
        return DASH
    if float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:,.{digits}f}"


def ratio(v: float | None) -> str:
    return DASH if v is None else f"{v:.2f}"


def duration(seconds: float | None) -> str:
    """A lag in words: 42 s, 5 min, 3 h, 2 d."""
    if seconds is None:
        return DASH
    s = max(seconds, 0)
    for limit, div, unit in ((90, 1, "s"), (90 * 60, 60, "min"), (48 * 3600, 3600, "h")):
        if s < limit:
            return f"{s / div:.0f} {unit}"
    return f"{s / 86400:.0f} d"


def when(v: datetime | date | str | None, tz: str = "UTC") -> str:
    if v is None:
        return DASH
    if isinstance(v, str):
        return v
    if isinstance(v, datetime):
        return v.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")
    return v.isoformat()


@lru_cache(maxsize=1)
def env() -> Environment:
    e = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    e.filters.update(pct=pct, money=money, num=num, ratio=ratio, duration=duration, when=when)
    return e


def render(template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    html = env().get_template(template).render(**context)
    # Pages show an organization's figures: never cache them in shared caches. The CSP and
    # X-Frame-Options (service.api.edge) hold because no page has a script or inline style.
    return HTMLResponse(
        html, status_code=status, headers={"Cache-Control": "no-store", **DASHBOARD_HEADERS}
    )
