"""The domain's errors: what a caller got wrong, in words a person can act on.

Raised by the service's domain code (sources, portfolio, secret rotation) and translated at
each edge: the API answers problem+json with a status per class (``service.api.problems``),
the CLI prints the message and exits 2. Nothing here knows about HTTP.

Not the connectors' tree (``connectors.errors``: what a remote tool answered); a domain
``NotFound`` is "no such row in this organization". Import the module, not the names
(``from service import errors``; ``errors.NotFound``), so the two never clash.

    DomainError
    ├── NotFound    no such object (in the caller's organization)
    ├── Conflict    the change clashes with the current state (a name taken, an overlap running)
    └── Invalid     the input is wrong; ``field`` names where, when one field is to blame
"""

from __future__ import annotations

__all__ = ["Conflict", "DomainError", "Invalid", "NotFound"]


class DomainError(Exception):
    """An expected failure the caller can fix; ``message`` says what was wrong and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """No such object, or not one of the caller's organization (the same answer, on purpose)."""


class Conflict(DomainError):
    """The change conflicts with the current state: a name already taken, an overlap still running."""


class Invalid(DomainError):
    """Bad input. ``field`` names the one field to blame (``base_url``, ``planned_end``), ``reason``
    what is wrong with it alone (default: the message), ``rule`` the check that refused it
    (e.g. ``outbound_guard``)."""

    def __init__(self, message: str, *, field: str | None = None, reason: str | None = None,
                 rule: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.reason = message if reason is None else reason
        self.rule = rule
