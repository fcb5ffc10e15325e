"""Credentials at rest: Fernet (AES-128-CBC + HMAC-SHA256) from ``cryptography``.

The key comes from ``TASKHUB_SECRET_KEY``; the embedded SQLite default generates one
into the data dir (mode 0600) on first use. With PostgreSQL the key must be set,
because every replica has to decrypt what the others wrote.

Rotation: ``TASKHUB_SECRET_KEY`` may list several keys, comma-separated, newest first
(``cryptography``'s MultiFernet). Everything is encrypted with the first and decrypted
with whichever fits, so a new key can be deployed before ``taskhub secrets rotate``
re-encrypts the stored secrets under it; the old key is dropped from the list after.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from service.settings import Settings

__all__ = ["ConfigError", "Vault", "get_vault"]


class ConfigError(RuntimeError):
    """The service is misconfigured; the message says what to set."""


def parse_keys(raw: bytes | str) -> list[bytes]:
    """The keys of a ``TASKHUB_SECRET_KEY`` value: comma-separated, newest first, blanks ignored."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    return [k.strip().encode() for k in text.split(",") if k.strip()]


class Vault:
    """Encrypts with the newest key, decrypts with any of them (a ``MultiFernet``)."""

    def __init__(self, key: bytes | str) -> None:
        keys = parse_keys(key)
        if not keys:
            raise ConfigError("TASKHUB_SECRET_KEY is empty: set one Fernet key (or several, newest first)")
        fernets: list[Fernet] = []
        for n, k in enumerate(keys, 1):
            try:
                fernets.append(Fernet(k))
            except (ValueError, TypeError) as exc:
                raise ConfigError(
                    f"TASKHUB_SECRET_KEY key {n} of {len(keys)} is not a valid Fernet key "
                    "(32 url-safe base64 bytes); make one with: python -c "
                    "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
                ) from exc
        self.key_count = len(fernets)
        self._newest = fernets[0]
        self._f = MultiFernet(fernets)

    def rotate(self, token: str) -> str:
        """``token`` re-encrypted under the newest key (same plaintext, fresh timestamp)."""
        try:
            return self._f.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise ConfigError(
                "stored secret cannot be decrypted with any key of TASKHUB_SECRET_KEY"
            ) from exc

    def is_current(self, token: str) -> bool:
        """Whether ``token`` already decrypts with the newest key (rotation skips it then)."""
        try:
            self._newest.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def encrypt(self, data: dict[str, Any] | str) -> str:
        raw = data if isinstance(data, str) else json.dumps(data, sort_keys=True)
        return self._f.encrypt(raw.encode()).decode()

    def decrypt_str(self, token: str) -> str:
        try:
            return self._f.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ConfigError("stored secret cannot be decrypted: TASKHUB_SECRET_KEY changed?") from exc

    def decrypt(self, token: str) -> dict[str, Any]:
        return json.loads(self.decrypt_str(token))


_lock = threading.Lock()
_vaults: dict[str, Vault] = {}


def _key_file(settings: Settings) -> Path:
    return settings.data_dir / "secret.key"


def get_vault(settings: Settings) -> Vault:
    if settings.secret_key is not None:
        key = settings.secret_key.get_secret_value().encode()
        cache_key = "key:" + hashlib.sha256(key).hexdigest()
    else:
        if not settings.is_sqlite:
            raise ConfigError(
                "TASKHUB_SECRET_KEY must be set when TASKHUB_DATABASE_URL points at PostgreSQL: "
                "every API and worker replica has to share it"
            )
        path = _key_file(settings)
        cache_key = str(path.resolve())
        with _lock:
            if cache_key in _vaults:
                return _vaults[cache_key]
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(Fernet.generate_key())
            key = path.read_bytes().strip()
    with _lock:
        vault = _vaults.get(cache_key)
        if vault is None:
            vault = _vaults[cache_key] = Vault(key)
        return vault
