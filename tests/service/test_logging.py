"""Secrets never reach the logs."""

from __future__ import annotations

import logging

from service.logging import _RedactingFilter, redact


def test_redact_masks_tokens_keys_and_secret_fields():
    text = redact("GET /1/boards?key=abc&token=xyz Authorization: Bearer th_abcdefghijklmnopqrstuvwxyz0123")
    assert "xyz" not in text and "abc" not in text and "th_abcdefghijklmnop" not in text
    assert redact({"api_token": "s3cr3t", "nested": {"webhook_secret": "w"}, "n": 1}) == {
        "api_token": "***", "nested": {"webhook_secret": "***"}, "n": 1}


def test_log_records_are_redacted():
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "calling %s with token=%s",
                            ("https://x/1/cards?token=abc123", "th_" + "a" * 30), None)
    _RedactingFilter().filter(rec)
    assert "abc123" not in rec.getMessage() and "aaaaaaaaaa" not in rec.getMessage()
