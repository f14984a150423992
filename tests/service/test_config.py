"""Settings: production refuses a guessable callback token and hides developer conveniences."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from service.app import create_app_from_env
from service.cli.main import app
from service.config import Environment, Settings

PRODUCTION = Environment.production


def test_development_accepts_the_default_token_and_shows_everything() -> None:
    settings = Settings(_env_file=None)
    assert settings.production_refusal() is None
    assert settings.serves_graphiql and settings.allows_introspection and settings.suggests_fields


@pytest.mark.parametrize(
    ("token", "problem"),
    [(None, "is the development default"), ("t" * 31, "has 31 characters")],
)
def test_production_refuses_the_default_or_a_short_token(token: str | None, problem: str) -> None:
    settings = Settings(environment=PRODUCTION, _env_file=None)
    if token is not None:
        settings = Settings(environment=PRODUCTION, callback_token=token, _env_file=None)
    refusal = settings.production_refusal()
    assert refusal is not None and refusal.startswith(f"COPLINE_CALLBACK_TOKEN {problem}")
    assert "\n" not in refusal and (token is None or token not in refusal)


def test_production_takes_a_token_of_32_characters_and_hides_conveniences_unless_set() -> None:
    settings = Settings(
        environment=PRODUCTION, callback_token="t" * 32, secret_key="s" * 32, _env_file=None
    )
    assert settings.production_refusal() is None
    assert not (settings.serves_graphiql or settings.allows_introspection)
    assert not settings.suggests_fields
    asked = settings.model_copy(
        update={"graphiql": True, "graphql_introspection": True, "graphql_suggestions": True}
    )
    assert asked.serves_graphiql and asked.allows_introspection and asked.suggests_fields


def test_the_app_factory_refuses_too_when_uvicorn_is_run_by_hand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COPLINE_ENVIRONMENT", "production")
    monkeypatch.delenv("COPLINE_CALLBACK_TOKEN", raising=False)
    with pytest.raises(SystemExit, match="COPLINE_CALLBACK_TOKEN is the development default"):
        create_app_from_env()


@pytest.mark.parametrize("secret", [None, "short"])
def test_production_refuses_the_default_or_a_short_secret_key(secret: str | None) -> None:
    settings = Settings(environment=PRODUCTION, callback_token="t" * 32, _env_file=None)
    if secret is not None:
        settings = settings.model_copy(update={"secret_key": SecretStr(secret)})
    refusal = settings.production_refusal()
    assert refusal is not None and refusal.startswith("COPLINE_SECRET_KEY must be")
    assert secret is None or secret not in refusal


@pytest.mark.parametrize(
    "value",
    [
        "https://dash.example.org,http://localhost:3000",
        " https://dash.example.org , http://localhost:3000 ,",
        '["https://dash.example.org", "http://localhost:3000"]',
    ],
)
def test_cors_origins_are_read_comma_separated_or_as_json(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("COPLINE_CORS_ORIGINS", value)
    assert Settings(_env_file=None).cors_origins == [
        "https://dash.example.org",
        "http://localhost:3000",
    ]


def test_cors_origins_are_written_as_browsers_send_them() -> None:
    # A browser's Origin has no path or trailing slash, a lower-case host, no default port;
    # the middleware compares strings, so the setting is brought to that form.
    settings = Settings(
        cors_origins="HTTPS://Dash.Example.org/, https://m.example.org:443,http://[::1]:8080",
        _env_file=None,
    )
    assert settings.cors_origins == [
        "https://dash.example.org",
        "https://m.example.org",
        "http://[::1]:8080",
    ]


@pytest.mark.parametrize(
    "origin", ["*", "dash.example.org", "https://dash.example.org/app", "ftp://x.org", "https://"]
)
def test_a_cors_origin_that_could_never_match_is_refused(origin: str) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        Settings(cors_origins=origin, _env_file=None)


def test_no_cors_origins_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COPLINE_CORS_ORIGINS", raising=False)
    assert Settings(_env_file=None).cors_origins == []
    monkeypatch.setenv("COPLINE_CORS_ORIGINS", "")
    assert Settings(_env_file=None).cors_origins == []


def test_a_read_url_is_normalised_like_the_primarys_and_blank_is_unset() -> None:
    settings = Settings(
        database_url="postgresql://copline@primary/copline",
        database_read_url="postgres://copline@replica/copline",
        _env_file=None,
    )
    assert settings.database_read_url == "postgresql+asyncpg://copline@replica/copline"
    assert settings.reads_apart
    blank = Settings(database_read_url="", _env_file=None)
    assert blank.database_read_url is None and not blank.reads_apart


@pytest.mark.parametrize(
    ("primary", "read", "says"),
    [
        (
            "postgresql://copline@primary/copline",
            "sqlite:///./var/copline.db",
            "COPLINE_DATABASE_READ_URL is sqlite, but COPLINE_DATABASE_URL is PostgreSQL",
        ),
        (
            "sqlite:///./var/copline.db",
            "postgresql://copline@replica/copline",
            "COPLINE_DATABASE_READ_URL is for a PostgreSQL replica, but COPLINE_DATABASE_URL "
            "is sqlite",
        ),
        (
            "sqlite:///./var/copline.db",
            "sqlite:///./var/copy.db",
            "COPLINE_DATABASE_READ_URL is for a PostgreSQL replica",
        ),
    ],
)
def test_a_read_url_on_another_backend_than_the_primary_is_refused(
    primary: str, read: str, says: str
) -> None:
    with pytest.raises(ValueError, match=says):
        Settings(database_url=primary, database_read_url=read, _env_file=None)


def test_the_commands_refuse_such_settings_in_one_line_without_the_urls(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COPLINE_DATABASE_URL", "postgresql://copline:s3cret@primary/copline")
    monkeypatch.setenv("COPLINE_DATABASE_READ_URL", "sqlite:///./var/copy.db")
    result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 1
    assert "COPLINE_DATABASE_READ_URL is sqlite" in result.output
    assert "s3cret" not in result.output and "Traceback" not in result.output
