"""Settings from the environment (prefix AUDITTRAIL_); unsafe values are refused in production."""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import limits
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUDITTRAIL_", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///./audittrail.db"
    read_database_url: str | None = Field(
        default=None,
        description="A PostgreSQL streaming replica of database_url: lists, statistics, exports "
        "and proofs read it; everything else reads the primary (docs/operations.md#read-replica).",
    )
    auto_migrate: bool = True
    database_pool_size: int = Field(
        default=32,
        ge=1,
        description="PostgreSQL connections kept open; at least the expected concurrent requests.",
    )
    database_work_mem: str | None = Field(
        default="32MB",
        pattern=r"^[1-9][0-9]{0,6}(kB|MB|GB)$",
        description="PostgreSQL's work_mem for the service's connections (empty: the server's): "
        "a search's count keeps one bit per matching row in it, and past it counts every row of "
        "a page again (4MB, the default, at a million records: 800 ms against 300).",
    )
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        default="NORMAL",
        description="NORMAL: WAL commits survive a crash of the process, not of the machine; "
        "FULL: they survive both, at a cost of one more fsync per commit.",
    )

    bootstrap_admin_email: str | None = None
    bootstrap_admin_password: SecretStr | None = None
    bootstrap_api_key: SecretStr | None = None

    secret_key: SecretStr | None = Field(
        default=None, description="Signs access tokens; read from secret_key_file when unset."
    )
    secret_key_file: Path = Path("./audittrail.secret")
    access_token_lifetime_seconds: int = Field(default=3600, ge=60)
    session_lifetime_seconds: int = Field(default=8 * 3600, ge=60)
    session_idle_seconds: int = Field(
        default=30 * 60, ge=60, description="A session unused this long ends (cookie and token)."
    )
    log_format: Literal["json", "console"] | None = Field(
        default=None,
        description="How log lines are written to stderr: json (one object a line, every "
        "package's lines alike) or console (readable). Default: json in production, console "
        "in development.",
    )
    cookie_secure: Literal["auto", "always", "never"] | None = Field(
        default=None,
        description="The session cookie's Secure flag. auto: when the request came over https "
        "(X-Forwarded-Proto, from a trusted proxy); never: plain-HTTP development only. "
        "Default: always in production (a TLS proxy not listed in trusted_proxies would "
        "otherwise go unnoticed), auto in development.",
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port]) besides the app's own whose pages may make "
        "cookie-authenticated changes (CSRF check, access.py).",
    )
    api_key_rotation_grace_seconds: int = Field(
        default=24 * 3600,
        ge=0,
        le=30 * 24 * 3600,
        description="How long a rotated API key's old secret still works, unless the rotation "
        "says otherwise.",
    )

    log_origin: str = Field(
        default="localhost/audittrail",
        description="The log's stable name in checkpoints: a host name and path, no scheme.",
    )
    log_key_file: Path = Path("./audittrail-log.key")
    log_key_replaced: bool = Field(
        default=False,
        description="Start although the log's latest checkpoint was signed by another key or "
        "origin: a deliberate replacement of the log key (docs/operations.md, Rotate keys), "
        "for the first start with the new key only. Otherwise such a start is refused.",
    )
    checkpoint_interval: float = Field(
        default=1.0, gt=0, description="Seconds between checkpoints."
    )
    export_directory: Path = Field(
        default=Path("./exports"),
        description="Where export jobs' files (and packs while they are written) are kept.",
    )
    export_retention_seconds: int = Field(
        default=24 * 3600, ge=60, description="How long an export job's file is kept."
    )

    batch_max: int = Field(default=500, ge=1, description="Records per group commit, at most.")
    batch_wait_ms: float = Field(
        default=2.0,
        ge=0,
        description="How long a group commit waits for more records, when the last one had "
        "several requests (a lone client is never kept waiting).",
    )
    write_queue_max: int = Field(default=10_000, ge=1, description="Requests waiting to commit.")
    write_queue_timeout: float = Field(
        default=5.0, gt=0, description="Seconds a request waits for room in a full queue (503)."
    )

    shutdown_timeout: float = Field(
        default=10.0,
        gt=0,
        description="On SIGTERM: how long records already queued may still be committed (and "
        "answered 201); those still queued then are refused with 503, as are new ones at once. "
        "Other requests get this long again to finish.",
    )
    max_request_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    tune_gc: bool = Field(
        default=True,
        description="Freeze the start-up heap and collect garbage less often (runtime.py). "
        "Process-wide: tests that start many apps in one process turn it off.",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve the Prometheus metrics on this port, without authentication, "
        "instead of GET /metrics (admins) on the API's port (metrics.py).",
    )
    metrics_address: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="The address metrics_port listens on. Anyone who reaches it reads the "
        "metrics: keep it on a private interface.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Rate limits (throttle.py, auth/lockout.py), in the `limits` library's notation:
    # "600/minute", "5 per 15 minutes".
    rate_limit_enabled: bool = Field(
        default=True,
        description="The per-credential limits (rate_limit, rate_limit_writes); false for a "
        "gateway that limits instead. The login throttle has a switch of its own.",
    )
    rate_limit: str = Field(
        default="600/minute", description="Reads (GET, HEAD, OPTIONS) per credential."
    )
    rate_limit_writes: str = Field(default="100/second", description="Writes per credential.")
    rate_limit_admin_writes: bool = Field(
        default=False, description="Whether writes by admins count against rate_limit_writes."
    )
    login_throttle_enabled: bool = Field(
        default=True,
        description="The login throttle (the two limits below), whatever rate_limit_enabled "
        "says: brute-force protection stays when rate limiting moves to a gateway.",
    )
    login_failures_per_account: str = Field(
        default="5 per 15 minutes",
        description="Failed logins (and wrong current passwords of a password change) per "
        "typed email before its logins are refused (429).",
    )
    login_failures_per_address: str = Field(
        default="20 per 15 minutes",
        description="Failed logins per client address (an IPv6 one's /64) before its logins "
        "are refused (429).",
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://host:port/db: counts shared by every process; else each process "
        "counts in its own memory.",
    )
    redis_key_prefix: str = Field(default="audittrail", min_length=1)

    @field_validator(
        "rate_limit",
        "rate_limit_writes",
        "login_failures_per_account",
        "login_failures_per_address",
    )
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        if limits.parse(value).amount < 1:  # parse's ValueError names what it could not read
            raise ValueError("must allow at least one")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)
        return value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        origins = []
        for entry in value:
            origin = normal_origin(entry)
            if origin is None:
                raise ValueError(f"{entry!r} is not an origin (scheme://host[:port])")
            origins.append(origin)
        return origins

    @field_validator("bootstrap_api_key")
    @classmethod
    def _check_bootstrap_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return value

    @field_validator("read_database_url", "database_work_mem", "log_format", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _refuse_replica_without_postgresql(self) -> Settings:
        if self.read_database_url is None:
            return self
        if self.is_sqlite:
            raise ValueError(
                "AUDITTRAIL_READ_DATABASE_URL needs a PostgreSQL AUDITTRAIL_DATABASE_URL: SQLite "
                "has no streaming replica; unset it"
            )
        if not self.read_database_url.startswith("postgres"):
            raise ValueError(
                "AUDITTRAIL_READ_DATABASE_URL must be a postgresql:// URL of a streaming replica "
                "of AUDITTRAIL_DATABASE_URL"
            )
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env == "production" and self.is_sqlite:
            raise ValueError("production needs a PostgreSQL AUDITTRAIL_DATABASE_URL")
        if self.env == "production" and self.secret_key is None:
            raise ValueError("production needs AUDITTRAIL_SECRET_KEY")
        if self.env == "production" and self.cookie_secure == "never":
            raise ValueError("AUDITTRAIL_COOKIE_SECURE=never is for plain-HTTP development only")
        return self

    @property
    def secure_cookie(self) -> Literal["auto", "always", "never"]:
        """cookie_secure, or its default for the env."""
        if self.cookie_secure is not None:
            return self.cookie_secure
        return "always" if self.env == "production" else "auto"

    @property
    def json_logs(self) -> bool:
        """log_format, or its default for the env."""
        if self.log_format is not None:
            return self.log_format == "json"
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @cached_property
    def proxy_networks(self) -> tuple[Network, ...]:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in self.trusted_proxies)

    def signing_secret(self) -> str:
        """The access-token secret: configured, or generated once into secret_key_file."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        return _read_or_create_secret(self.secret_key_file)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def normal_origin(text: str) -> str | None:
    """An origin as browsers send it (lower case, no default port), or None if it is none."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname.lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _read_or_create_secret(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    secret = secrets.token_urlsafe(48)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its secret
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    return secret
