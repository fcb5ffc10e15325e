"""The one error type the sandbox raises: an HTTP status with Trello's plain-text message."""

from __future__ import annotations

__all__ = ["ApiError", "NOT_FOUND_TEXT"]

# Trello answers unknown objects with this text/plain body (captured on api.trello.com).
NOT_FOUND_TEXT = "The requested resource was not found."


class ApiError(Exception):
    """An HTTP error answer: ``status`` and the plain-text body Trello would send."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"{status} {text}")
        self.status = status
        self.text = text

    @classmethod
    def not_found(cls) -> ApiError:
        return cls(404, NOT_FOUND_TEXT)
