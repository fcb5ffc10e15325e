"""A JQL subset: parse a query into a predicate over issue records, a sort order and a plan.

Supported (https://support.atlassian.com/jira-software-cloud/docs/jql-fields/):
fields ``project, key/issuekey/id, updated, created, resolved/resolutiondate, duedate/due,
status, statusCategory, issuetype/type, assignee, reporter, parent, labels, fixVersion,
sprint``; operators ``= != > >= < <= IN, NOT IN, IS [NOT] EMPTY|NULL``; ``AND``, ``OR``,
``NOT`` and parentheses; ``ORDER BY <field> [ASC|DESC], ...``.

Date literals follow Jira: ``"yyyy/MM/dd HH:mm"``, ``"yyyy-MM-dd HH:mm"``, ``"yyyy/MM/dd"``,
``"yyyy-MM-dd"`` are read **in the time zone of the user running the query** (``/myself``
``timeZone``), relative ``"-5m" "-2h" "-1d" "-1w"``, ``now()``, and an unquoted number as
epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.jira.jql_fields import CMP, DATE_FIELDS, EMPTY_GETTERS, RESOLVERS
from sandbox.jira.jql_lexer import JQLError, Token, Value, parse_date_literal, tokenize
from sandbox.jira.records import IssueRec
from sandbox.jira.state import JiraState

__all__ = ["JQLError", "Query", "parse_jql", "parse_date_literal"]

Predicate = Callable[[IssueRec], bool]


@dataclass
class Query:
    """A parsed query: ``predicate`` (None = no restriction), ``order`` [(field, desc)],
    and ``updated_from`` (a top-level ``updated >=`` bound in ms, for index scans)."""

    predicate: Predicate | None
    order: list[tuple[str, bool]] = field(default_factory=list)
    updated_from: int | None = None
    text: str = ""

    @property
    def bounded(self) -> bool:
        return self.predicate is not None


_ORDER_FIELDS = {
    "updated": "updated",
    "created": "created",
    "key": "id",
    "issuekey": "id",
    "id": "id",
    "duedate": "duedate",
    "due": "duedate",
    "resolved": "resolved",
    "resolutiondate": "resolved",
}


class _Parser:
    def __init__(self, text: str, state: JiraState) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.state = state
        self.tz = state.myself.time_zone
        self.now = state.now_ms()
        self.updated_from: list[int] = []

    # -- token helpers
    def peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def next(self, expected: str = "a field") -> Token:
        tok = self.peek()
        if tok is None:
            raise JQLError(
                f"Error in the JQL Query: Expecting {expected} but got the end of the query."
            )
        self.i += 1
        return tok

    def at_word(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "word" and tok.upper in words

    def fail(self, tok: Token, expected: str) -> JQLError:
        return JQLError(
            f"Error in the JQL Query: Expecting {expected} but got '{tok.text}'. "
            f"(line 1, character {tok.pos + 1})"
        )

    # -- grammar
    def parse(self) -> Query:
        predicate: Predicate | None = None
        if self.peek() is not None and not (self.at_word("ORDER") and self._is_order_by()):
            predicate = self.or_expr(top=True)
        order: list[tuple[str, bool]] = []
        if self.at_word("ORDER"):
            order = self.order_by()
        if self.peek() is not None:
            raise self.fail(self.next(), "either 'AND' or 'OR' or 'ORDER BY'")
        start = max(self.updated_from) if self.updated_from else None
        return Query(predicate, order, start, self.text)

    def _is_order_by(self) -> bool:
        nxt = self.peek(1)
        return nxt is not None and nxt.upper == "BY"

    def order_by(self) -> list[tuple[str, bool]]:
        self.next()
        by = self.next("'BY'")
        if by.upper != "BY":
            raise self.fail(by, "'BY'")
        order = []
        while True:
            tok = self.next("a field to order by")
            name = tok.text.lower()
            if name not in _ORDER_FIELDS:
                raise JQLError(f"Not able to sort using field '{tok.text}'.")
            desc = False
            if self.at_word("ASC", "DESC"):
                desc = self.next().upper == "DESC"
            order.append((_ORDER_FIELDS[name], desc))
            if not (self.peek() and self.peek().text == ","):  # type: ignore[union-attr]
                break
            self.next()
        if len(order) > 7:
            raise JQLError("The ORDER BY clause can contain a maximum of 7 fields.")
        return order

    def or_expr(self, top: bool = False) -> Predicate:
        parts = [self.and_expr(top)]
        while self.at_word("OR"):
            self.next()
            parts.append(self.and_expr(False))
        if len(parts) > 1:
            if top:
                self.updated_from.clear()  # a bound under OR is not a bound of the query
            alternatives = tuple(parts)

            def any_of(i: IssueRec) -> bool:
                return any(p(i) for p in alternatives)

            return any_of
        return parts[0]

    def and_expr(self, top: bool) -> Predicate:
        parts = [self.not_expr(top)]
        while self.at_word("AND"):
            self.next()
            parts.append(self.not_expr(top))
        if len(parts) == 1:
            return parts[0]
        conjuncts = tuple(parts)

        def all_of(i: IssueRec) -> bool:
            return all(p(i) for p in conjuncts)

        return all_of

    def not_expr(self, top: bool) -> Predicate:
        if self.at_word("NOT"):
            self.next()
            inner = self.not_expr(False)
            return lambda i: not inner(i)
        tok = self.peek()
        if tok is not None and tok.text == "(":
            self.next()
            inner = self.or_expr(False)
            close = self.next("')'")
            if close.text != ")":
                raise self.fail(close, "')'")
            return inner
        return self.clause(top)

    def value(self) -> Value:
        tok = self.next("either a value, list or function")
        if tok.kind == "str":
            return Value(tok.text, True)
        if tok.kind != "word":
            raise self.fail(tok, "either a value, list or function")
        nxt = self.peek()
        if nxt is not None and nxt.text == "(":
            self.next()
            close = self.next("')'")
            if close.text != ")":
                raise JQLError(f"Function arguments are not supported: '{tok.text}'.")
            return Value(tok.text.lower(), False, True)
        return Value(tok.text, False)

    def values(self) -> list[Value]:
        tok = self.peek()
        if tok is not None and tok.text == "(":
            self.next()
            out = [self.value()]
            while True:
                sep = self.next("')'")
                if sep.text == ")":
                    return out
                if sep.text != ",":
                    raise self.fail(sep, "',' or ')'")
                out.append(self.value())
        return [self.value()]

    def clause(self, top: bool) -> Predicate:
        ftok = self.next()
        if ftok.kind not in ("word", "str"):
            raise self.fail(ftok, "a field name")
        name = ftok.text.lower()
        optok = self.next("an operator")
        op = optok.text.upper()
        if op == "NOT" and self.at_word("IN"):
            self.next()
            op = "NOT IN"
        elif op == "IS" and self.at_word("NOT"):
            self.next()
            op = "IS NOT"
        if op not in ("=", "!=", ">", ">=", "<", "<=", "IN", "NOT IN", "IS", "IS NOT", "~", "!~"):
            raise self.fail(optok, "operator")
        if op in ("IS", "IS NOT"):
            empty = self.next("EMPTY")
            if empty.upper not in ("EMPTY", "NULL"):
                raise self.fail(empty, "'EMPTY'")
            getter = EMPTY_GETTERS.get(name)
            if getter is None:
                raise JQLError(f"The operator '{op}' is not supported by the '{ftok.text}' field.")
            return (lambda i: not getter(i)) if op == "IS" else (lambda i: bool(getter(i)))
        vals = self.values()
        if name in DATE_FIELDS:
            return self.date_clause(name, op, vals, top)
        return self.set_clause(name, ftok.text, op, vals)

    def date_clause(self, name: str, op: str, vals: list[Value], top: bool) -> Predicate:
        if op not in ("=", "!=", ">", ">=", "<", "<="):
            raise JQLError(f"The operator '{op}' is not supported by the '{name}' field.")
        v = vals[0]
        attr = DATE_FIELDS[name]
        if attr == "duedate":
            ms = self._date_ms(v, name)
            day = datetime.fromtimestamp(ms / 1000, ZoneInfo(self.tz)).strftime("%Y-%m-%d")
            cmp = CMP[op]
            return lambda i: i.duedate is not None and cmp(i.duedate, day)
        ms = self._date_ms(v, name)
        if top and attr == "updated" and op in (">=", ">"):
            self.updated_from.append(ms)
        cmp = CMP[op]
        return lambda i: (t := getattr(i, attr)) is not None and cmp(t, ms)

    def _date_ms(self, v: Value, name: str) -> int:
        if v.function:
            if v.text in ("now", "currentdate"):
                return self.now
            raise JQLError(f"Unsupported function '{v.text}()' in the '{name}' clause.")
        try:
            return parse_date_literal(v.text, self.tz, self.now, quoted=v.quoted)
        except JQLError as exc:
            raise JQLError(str(exc).replace("'updated'", f"'{name}'")) from None

    def set_clause(self, name: str, display: str, op: str, vals: list[Value]) -> Predicate:
        resolver = RESOLVERS.get(name)
        if resolver is None:
            raise JQLError(
                f"Field '{display}' does not exist or you do not have permission to view it."
            )
        if op in ("=", "!=") and len(vals) != 1:
            raise JQLError(f"The operator '{op}' does not support a list of values.")
        if op not in ("=", "!=", "IN", "NOT IN"):
            raise JQLError(f"The operator '{op}' is not supported by the '{display}' field.")
        getter, resolve = resolver
        wanted: set[Any] = set()
        for v in vals:
            wanted |= resolve(self.state, v, display)
        positive = op in ("=", "IN")
        if name == "labels" or name in ("fixversion", "sprint"):
            return (
                (lambda i: bool(wanted & set(getter(i))))
                if positive
                else (lambda i: not (wanted & set(getter(i))))
            )
        return (lambda i: getter(i) in wanted) if positive else (lambda i: getter(i) not in wanted)


def parse_jql(text: str | None, state: JiraState) -> Query:
    """Parse ``text`` against ``state`` (projects, users, the user's time zone)."""
    with state.lock:
        return _Parser(text or "", state).parse()
