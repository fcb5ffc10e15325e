"""Jira admin-webhook helpers: signature over raw bytes, dedupe key."""

from __future__ import annotations

import hashlib
import hmac

from connectors.jira.webhooks import dedupe_key, sign, verify_signature

BODY = b'{"timestamp":1594081625284,"webhookEvent":"jira:issue_updated"}'


def test_sign_is_hex_hmac_sha256_of_the_raw_body():
    expected = hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()
    assert sign("s3cret", BODY) == f"sha256={expected}"


def test_a_valid_signature_verifies():
    assert verify_signature("s3cret", BODY, sign("s3cret", BODY))
    assert verify_signature(
        "s3cret", BODY, sign("s3cret", BODY).upper().replace("SHA256=", "sha256=")
    )


def test_a_changed_body_or_secret_or_algorithm_fails():
    header = sign("s3cret", BODY)
    assert not verify_signature("s3cret", BODY.replace(b"updated", b"deleted"), header)
    assert not verify_signature("other", BODY, header)
    assert not verify_signature("s3cret", BODY, header.replace("sha256=", "sha1="))
    assert not verify_signature("s3cret", BODY, "sha256=")
    assert not verify_signature("s3cret", BODY, None)


def test_an_empty_secret_never_verifies_so_the_caller_decides():
    assert not verify_signature("", BODY, sign("", BODY))
    assert not verify_signature(None, BODY, "sha256=abc")


def test_dedupe_key_prefers_the_atlassian_identifier_in_any_case():
    assert dedupe_key({"x-atlassian-webhook-identifier": " abc-1 "}, BODY) == "abc-1"
    assert dedupe_key({"X-Atlassian-Webhook-Identifier": "abc-1"}, b"other") == "abc-1"


def test_dedupe_key_falls_back_to_the_body_hash():
    key = dedupe_key({"Content-Type": "application/json"}, BODY)
    assert key == "sha256:" + hashlib.sha256(BODY).hexdigest()
    assert dedupe_key({}, BODY) == key != dedupe_key({}, BODY + b" ")
