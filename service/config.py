"""One typed settings object, read from `COPLINE_*` environment variables and `.env`."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/copline.db"
DEFAULT_CALLBACK_TOKEN = "dev-callback-token"
DEFAULT_SECRET_KEY = "dev-secret-key"
# Whoever knows the token can fake USSD hops, SMS, delivery reports and opt-outs.
MIN_PRODUCTION_TOKEN = 32


class Environment(StrEnum):
    development = "development"
    production = "production"


def normalise_database_url(url: str) -> str:
    """Accept the URLs people paste (`postgresql://…`, `sqlite:///…`) and pick the async driver."""
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgresql+psycopg://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(origin: str) -> str:
    """`scheme://host[:port]` as a browser sends it in `Origin` (lower case, no default
    port, no path, no trailing slash). Anything else could never match: refused."""
    parts = urlsplit(origin.strip().rstrip("/"))
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # not a number, or past 65535
        port = 0
    if (
        scheme not in DEFAULT_PORTS
        or not parts.hostname
        or port == 0
        or parts.path
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
    ):
        raise ValueError(
            f"{origin!r} is not an origin: write scheme://host[:port], e.g. "
            "https://dashboard.example.org (each one; '*' is not accepted)"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{netloc}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COPLINE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Environment = Environment.development
    database_url: str = DEFAULT_DATABASE_URL
    database_pool_size: int = Field(default=10, ge=1)
    # Connections beyond the pool are closed as soon as they are returned while the pool
    # is full, which under a steady load of concurrent requests means connecting again and
    # again (a backend fork and asyncpg's set-up each time: 200 new connections in 10 s of
    # the USSD bench). A fixed pool of `database_pool_size` avoids that churn.
    database_max_overflow: int = Field(default=0, ge=0)
    database_connect_timeout_s: float = Field(default=5.0, gt=0)
    # A ping on every checkout costs a round trip per request (a third of a USSD hop).
    # Without it, a database restart fails one request per process: SQLAlchemy then
    # invalidates the whole pool and reconnects.
    database_pre_ping: bool = False
    # A streaming replica of `database_url` for reports, exports and GraphQL queries
    # (never a write). None: everything on the primary, as always on SQLite.
    database_read_url: str | None = None

    # Africa's Talking. With no API key the service talks to the local simulator.
    at_username: str = "sandbox"
    at_api_key: SecretStr | None = None
    at_base_url: str = "http://127.0.0.1:8790"
    callback_token: SecretStr = SecretStr(DEFAULT_CALLBACK_TOKEN)
    # None: run the simulator inside `copline serve` when there is no API key.
    at_simulator: bool | None = None
    # Where Africa's Talking (or the simulator) reaches this service's callbacks.
    public_url: str | None = None
    # Seconds to connect to AT, and again to wait for its answer, per request.
    at_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # Outbox rows a worker claims at a time: what a worker killed mid-batch strands.
    sms_batch_size: int = Field(default=500, ge=1, le=10_000)
    # WhatsApp requests a worker has in flight (one per message; WhatsApp has no bulk
    # send): at a gateway's ~0.3 s a request, 8 send about 25 a second per worker.
    whatsapp_parallel: int = Field(default=8, ge=1, le=128)
    # First wait before a failed send is tried again; it doubles per attempt (up to an hour).
    sms_retry_base_s: float = Field(default=30.0, gt=0, le=3600)
    # Webhooks: seconds to connect to an endpoint, and again to wait for its answer; and
    # posts a worker has in flight (each endpoint's subjects go in order whatever this is).
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    webhook_parallel: int = Field(default=8, ge=1, le=64)
    # Post to endpoints on loopback, private or link-local addresses (the service's own
    # network). None: yes in development (a receiver on this machine), no in production.
    webhook_private_hosts: bool | None = None

    # DHIS2, where `copline dhis2 push` posts a term's figures: the instance's base URL
    # (https://dhis2.example.org, or the stand-in `copline dhis2-sim`), and either a
    # personal access token or a username and password. Never logged.
    dhis2_url: str | None = None
    dhis2_username: str | None = None
    dhis2_password: SecretStr | None = None
    dhis2_token: SecretStr | None = None
    dhis2_timeout_s: float = Field(default=30.0, gt=0, le=600)

    # GraphQL conveniences for developers. None: on in development, off in production
    # (partners code against schema/schema.graphql). Suggestions are graphql-core's
    # "Did you mean …?", which spell out the schema even with introspection off.
    graphiql: bool | None = None
    graphql_introspection: bool | None = None
    graphql_suggestions: bool | None = None

    # Keys the hashes of console sign-in codes: a copied database alone cannot test codes.
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    # A console session ends after this long without a request, and after a day in any case.
    console_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    console_session_hours: int = Field(default=12, ge=1, le=24 * 7)
    # Where sign-in rate limits are counted (the `limits` library's storage URI): memory
    # is per process; several processes or machines share `redis://host:6379`.
    rate_limit_storage: str = "memory://"

    # None: run the worker inside `copline serve` when the store is the embedded SQLite.
    worker_in_process: bool | None = None

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    # Origins of partners' browser dashboards that may call /graphql (CORS), e.g.
    # https://dashboard.example.org: comma-separated or a JSON list. None by default.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    log_level: str = "INFO"
    log_json: bool = False

    @field_validator("at_api_key", mode="before")
    @classmethod
    def _blank_key_is_unset(cls, value: object) -> object:
        # docker-compose passes unset variables as empty strings.
        return None if value == "" else value

    @field_validator("at_base_url", mode="before")
    @classmethod
    def _blank_url_is_default(cls, value: object) -> object:
        return "http://127.0.0.1:8790" if value in ("", None) else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins_from_text(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if value.strip().startswith("["):
            return json.loads(value)
        return [origin for origin in value.split(",") if origin.strip()]

    @field_validator("cors_origins")
    @classmethod
    def _exact_origins(cls, origins: list[str]) -> list[str]:
        # The browser's Origin is compared as a string: normalised here, so that
        # "https://Dash.example.org/" still matches.
        return list(dict.fromkeys(normalise_origin(origin) for origin in origins))

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("database_read_url", mode="before")
    @classmethod
    def _read_url(cls, value: object) -> object:
        # docker-compose passes unset variables as empty strings.
        if value in ("", None):
            return None
        return normalise_database_url(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _read_url_beside_its_primary(self) -> Settings:
        read = self.database_read_url
        if read is None:
            return self
        backend = read.partition("+")[0].partition(":")[0]
        primary = self.database_url.partition("+")[0].partition(":")[0]
        if primary != "postgresql":
            raise ValueError(
                f"COPLINE_DATABASE_READ_URL is for a PostgreSQL replica, but "
                f"COPLINE_DATABASE_URL is {primary}: leave the read URL unset (everything is "
                "read from the one database)"
            )
        if backend != primary:
            raise ValueError(
                f"COPLINE_DATABASE_READ_URL is {backend or 'not a database URL'}, but "
                "COPLINE_DATABASE_URL is PostgreSQL: the read URL must point at a replica of "
                "the same database (postgresql://user@replica-host/db)"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.production

    def _in_development(self, setting: bool | None) -> bool:
        return not self.is_production if setting is None else setting

    @property
    def serves_graphiql(self) -> bool:
        return self._in_development(self.graphiql)

    @property
    def allows_introspection(self) -> bool:
        return self._in_development(self.graphql_introspection)

    @property
    def suggests_fields(self) -> bool:
        return self._in_development(self.graphql_suggestions)

    @property
    def allows_private_webhooks(self) -> bool:
        return self._in_development(self.webhook_private_hosts)

    def production_refusal(self) -> str | None:
        """Why a production process must not start with these settings, or None."""
        if not self.is_production:
            return None
        token = self.callback_token.get_secret_value()
        if token == DEFAULT_CALLBACK_TOKEN:
            problem = "is the development default"
        elif len(token) < MIN_PRODUCTION_TOKEN:
            problem = f"has {len(token)} characters"
        else:
            return self._secret_key_refusal()
        return (
            f"COPLINE_CALLBACK_TOKEN {problem}: in production it must be a random secret of "
            f"{MIN_PRODUCTION_TOKEN}+ characters (whoever knows it can fake every Africa's "
            "Talking callback); make one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )

    def _secret_key_refusal(self) -> str | None:
        secret = self.secret_key.get_secret_value()
        if secret != DEFAULT_SECRET_KEY and len(secret) >= MIN_PRODUCTION_TOKEN:
            return None
        return (
            f"COPLINE_SECRET_KEY must be a random secret of {MIN_PRODUCTION_TOKEN}+ characters "
            "in production (it keys the hashes of console sign-in codes); make one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def reads_apart(self) -> bool:
        """Reports, exports and GraphQL queries go to a replica of their own."""
        return self.database_read_url is not None

    @property
    def runs_worker_in_process(self) -> bool:
        return self.is_sqlite if self.worker_in_process is None else self.worker_in_process

    @property
    def uses_at_simulator(self) -> bool:
        return self.at_api_key is None

    @property
    def runs_simulator_in_process(self) -> bool:
        """Start the AT simulator inside `copline serve`: by default when there is no API
        key and `at_base_url` is this machine (so `make run` works offline)."""
        if self.at_simulator is not None:
            return self.at_simulator
        host = urlsplit(self.at_base_url).hostname or ""
        return self.uses_at_simulator and host in {"127.0.0.1", "localhost", "::1"}

    def sqlite_path(self) -> Path | None:
        """The file behind a SQLite URL, or None for PostgreSQL and in-memory SQLite."""
        if not self.is_sqlite:
            return None
        _, _, rest = self.database_url.partition(":///")
        if not rest or rest.startswith(":memory:"):
            return None
        return Path(rest.split("?", 1)[0])
