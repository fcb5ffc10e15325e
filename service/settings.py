"""Settings: one pydantic-settings object, env prefix ``TASKHUB_``, ``.env`` support.

Nothing here does I/O at import time; ``get_settings()`` builds the object on first use.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.outbound import OutboundPolicy

__all__ = ["Settings", "get_settings", "is_loopback_host"]

# An unspecified bind listens on every interface; the URL names it by the loopback address of
# its family, the one address certain to reach the server from this machine.
_UNSPECIFIED_BINDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - recognised, not bound


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TASKHUB_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path(".taskhub"), description="SQLite file and generated key.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; unset means SQLite in data_dir. "
        "postgresql://user@host/db selects PostgreSQL.",
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Fernet key for credentials at rest; generated when unset."
    )
    public_base_url: str | None = Field(
        default=None,
        description="How the tools reach us (webhook callback URLs), e.g. https://taskhub.example.com",
    )
    webhook_max_body: int = Field(default=1024 * 1024, ge=1024)
    # Request-header limits (service.api.edge, 431): Apache's defaults; a Jira/Trello delivery
    # sends ~15 headers and 1-2 KiB, a browser a few KiB with its cookies.
    max_headers: int = Field(default=100, ge=20, description="Most request headers accepted (431 beyond).")
    max_header_field_bytes: int = Field(
        default=8 * 1024, ge=1024, description="Largest single request header, name and value (431 beyond)."
    )
    max_header_bytes: int = Field(
        default=32 * 1024, ge=4096, description="Largest total of all request headers (431 beyond)."
    )
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_json: bool = False
    worker_batch: int = Field(default=100, ge=1, le=5000)
    worker_lease_seconds: float = Field(default=30.0, gt=0)
    worker_max_attempts: int = Field(default=8, ge=1)
    worker_poll_interval: float = Field(default=0.2, gt=0)
    embedded_worker: bool = Field(
        default=True, description="`taskhub serve` on SQLite runs the worker in-process."
    )
    poll_sources: bool = Field(default=True, description="The worker polls sources on their interval.")
    gc_freeze: bool = Field(
        default=True,
        description="At app start, collect once and freeze what is loaded (gc.freeze), so full "
        "collections no longer rescan it; off in the test suite, which starts hundreds of apps.",
    )
    org_timezone: str = "UTC"
    outbound_allow: str = Field(
        default="",
        description="Comma-separated CIDRs, addresses, host names or .domain suffixes that "
        "sources may reach although internal (e.g. a Jira Data Center on 10.0.0.0/8). "
        "Empty: public addresses only. Applies to every organization of the deployment.",
    )

    @field_validator("outbound_allow")
    @classmethod
    def _check_outbound_allow(cls, value: str) -> str:
        OutboundPolicy.parse(value)  # a typo fails at start-up, not at the first sync
        return value

    @field_validator("public_base_url")
    @classmethod
    def _check_public_base_url(cls, value: str | None) -> str | None:
        # A typo here fails at start-up, not as webhooks that never arrive.
        if value and not (urlsplit(value).scheme in ("http", "https") and urlsplit(value).hostname):
            raise ValueError(f"must be an http(s) URL such as https://taskhub.example.com, not {value!r}")
        return value or None

    @property
    def outbound_policy(self) -> OutboundPolicy:
        """The outbound guard's policy every Jira/Trello client is built with."""
        return OutboundPolicy.parse(self.outbound_allow)

    @property
    def webhook_base_url(self) -> str:
        """The base of the URLs Jira and Trello are told to call: ``public_base_url`` when set,
        else what the server binds (``taskhub serve`` puts its ``--host``/``--port`` here), so
        the port given to ``serve`` is the port in every webhook URL."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = _UNSPECIFIED_BINDS.get(self.host, self.host)
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def webhook_base_warning(self) -> str | None:
        """Why Jira and Trello cannot deliver to ``webhook_base_url`` (a loopback address), else
        None: said at ``serve`` start and on every source, since nothing fails until a delivery
        that never comes."""
        base = self.webhook_base_url
        if not is_loopback_host(urlsplit(base).hostname or ""):
            return None
        every = not self.public_base_url and self.host in _UNSPECIFIED_BINDS
        listens = f"taskhub listens on every interface ({self.host}); " if every else ""
        return (f"{listens}webhook URLs use {base}, a loopback address Jira and Trello cannot reach: "
                "set TASKHUB_PUBLIC_BASE_URL to the URL they can reach (e.g. https://taskhub.example.com)")

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "taskhub.db"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return normalize_url(self.database_url)
        return f"sqlite:///{self.sqlite_path}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")


def normalize_url(url: str) -> str:
    """Accept plain ``postgresql://`` / ``postgres://`` and pick the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def is_loopback_host(host: str) -> bool:
    """``localhost`` (and ``*.localhost``) or an address in 127.0.0.0/8 or ``::1``."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
