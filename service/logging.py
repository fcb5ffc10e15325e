"""Structured logs (structlog over stdlib logging) with secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

__all__ = ["configure_logging", "redact"]

_SECRET_KEYS = re.compile(r"(token|secret|password|authorization|api_key|credentials|signature)", re.I)
_SECRET_VALUES = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 ***"),
    (re.compile(r"th_[A-Za-z0-9_-]{20,}"), "th_***"),
    (re.compile(r"(?i)([?&](?:token|key|api_key|secret)=)[^&\s]+"), r"\1***"),
]


def redact(value: Any) -> Any:
    """Mask secrets in strings, dict values under secret-looking keys, and containers."""
    if isinstance(value, str):
        for pat, repl in _SECRET_VALUES:
            value = pat.sub(repl, value)
        return value
    if isinstance(value, dict):
        return {k: ("***" if _SECRET_KEYS.search(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    return value


def _redact_processor(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    return redact(event_dict)


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if record.args:
            record.args = redact(record.args) if isinstance(record.args, (tuple, dict)) else record.args
        return True


class _StderrHandler(logging.StreamHandler[Any]):
    """Writes to whatever ``sys.stderr`` is when a record is emitted, not the one of set-up time:
    a CLI command run in-process (tests, ``CliRunner``) swaps and closes ``sys.stderr``, after
    which a handler holding the old one prints "--- Logging error ---" into the next command's
    output instead of the line."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(settings: Any) -> None:
    renderer: Any = (structlog.processors.JSONRenderer() if settings.log_json
                     else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact_processor,
            renderer,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
    )
    handler = _StderrHandler()
    handler.addFilter(_RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # Migrations on start are routine: their INFO lines would bury a CLI's one-line answer.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
