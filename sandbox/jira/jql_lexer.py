"""JQL lexing: tokens, literal values, date literals, and the error type.

Date literals follow Jira (https://support.atlassian.com/jira-software-cloud/docs/jql-functions/):
absolute forms are wall-clock times in the querying user's time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

__all__ = ["JQLError", "Token", "Value", "tokenize", "parse_date_literal"]


class JQLError(ValueError):
    """Invalid or unsupported JQL; the message is shown to the caller as Jira would."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>>=|<=|!=|!~|=|>|<|~)
      | (?P<punct>[(),])
      | (?P<word>[^\s"'(),=<>!~]+)
    )""",
    re.VERBOSE,
)


@dataclass
class Token:
    kind: str  # str | op | punct | word
    text: str
    pos: int

    @property
    def upper(self) -> str:
        return self.text.upper()


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise JQLError(
                f"Error in the JQL Query: The character '{text[pos:].strip()[0]}' is a reserved "
                f"JQL character. (line 1, character {pos + 1})"
            )
        kind = m.lastgroup or "word"
        raw = m.group(kind)
        if kind == "str":
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        out.append(Token(kind, raw, m.start(kind)))
        pos = m.end()
    return out


_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")
_RELATIVE = re.compile(r"^([+-]?)(\d+)([mhdw])$")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}


def parse_date_literal(text: str, tz: str, now_ms: int, *, quoted: bool = True) -> int:
    """A JQL date literal -> epoch ms. Absolute forms are wall-clock times in ``tz``."""
    value = text.strip()
    if not quoted and value.isdigit():
        return int(value)  # epoch milliseconds
    rel = _RELATIVE.match(value)
    if rel:
        sign = -1 if rel.group(1) == "-" else 1
        return now_ms + sign * int(rel.group(2)) * _UNIT_MS[rel.group(3)]
    for fmt in _DATE_FORMATS:
        try:
            naive = datetime.strptime(value, fmt)
        except ValueError:
            continue
        return int(naive.replace(tzinfo=ZoneInfo(tz)).timestamp() * 1000)
    raise JQLError(
        f"Date value '{value}' for field 'updated' is invalid. Valid formats include: "
        "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period "
        "format e.g. '-5d', '4w 2d'."
    )


@dataclass
class Value:
    text: str
    quoted: bool
    function: bool = False
