"""The range of an id, and the one annotated type every route takes an id with.

Every key is 64-bit on PostgreSQL (``service.tables.ID``, migration 0012) and an INTEGER rowid
on SQLite, so an id is 1..2^63-1 on both stores (sequences and rowids start at 1). A number
outside that range names nothing, and sent to the database it fails there (PostgreSQL:
"bigint out of range"; SQLite: "Python int too large to convert"): a 500. Declaring the range
on the parameter keeps it from ever reaching the database and documents it in the OpenAPI
schema; ``service.api.problems`` answers a path id out of range with 404 (no such resource)
and a filter or body id with 422 (a malformed request).
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

__all__ = ["ID_MAX", "Id", "is_id"]

ID_MAX = 2**63 - 1


def _digits(value: object) -> object:
    """Text is an id only as ASCII digits: pydantic's lax int also takes "1\n", " 1", "+1" and
    "1_0", so one id had many paths (a webhook delivered to ``/webhooks/jira/1%0A`` was source 1)."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise PydanticCustomError("int_parsing", "Input should be an id: ASCII digits only")
    return value


Id = Annotated[int, BeforeValidator(_digits), Ge(1), Le(ID_MAX)]
"""An id parameter or field: ``source_id: Id``, ``project: Id | None = None``, ``list[Id]``."""


def is_id(value: int) -> bool:
    """True when ``value`` can be an id (for ids parsed by hand: the dashboard, cursors)."""
    return 1 <= value <= ID_MAX
