"""The OpenAPI document's ``webhooks`` section: each event type with the JSON Schema of its body.

Driven by the catalog (``service.events.catalog``), so a type added there is documented with no
further step. FastAPI documents a webhook from a function whose parameter is the body model; the
functions are never called.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, Field, create_model

from service.events import catalog

SIGNING = (
    "Signed the Standard Webhooks way: headers `webhook-id` (the same on every retry and redelivery: "
    "deduplicate on it), `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,<base64>`; during "
    "a secret rotation's overlap two, space-separated). Verify with your endpoint's `whsec_` secret and a "
    "Standard Webhooks library. Answer 2xx within 10 s; anything else is retried with backoff for about a "
    "day, and 410 Gone disables the endpoint."
)


def payload_model(event_type: catalog.EventType) -> type[BaseModel]:
    """The body's model: ``{type, version, timestamp, data}`` with this type's ``data``."""
    fields: dict[str, Any] = {
        "type": (Literal[event_type.name], ...),
        "version": (Literal[event_type.version], Field(description="Bumped on an incompatible change of data.")),
        "timestamp": (datetime, Field(description="When it happened (UTC).")),
        "data": (event_type.data, ...),
    }
    name = "Event_" + event_type.name.replace(".", "_").replace("*", "any")
    return create_model(name, **fields)


def document_webhooks(app: FastAPI) -> None:
    """Add one ``webhooks`` entry per event type in the catalog."""
    for event_type in catalog.all_types():
        model = payload_model(event_type)

        def receive(body: Any) -> None:
            """Never called: documentation only."""

        # The real type, not the string ``from __future__ import annotations`` would leave.
        receive.__annotations__ = {"body": model, "return": None}
        app.webhooks.post(event_type.name, summary=event_type.summary,
                          description=f"{event_type.summary}\n\n{SIGNING}")(receive)
