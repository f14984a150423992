"""docker-compose.yml cannot run here (no Docker), so its promises are checked instead."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.main import get_command

from service.cli.main import app
from service.config import MIN_PRODUCTION_TOKEN, Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_postgresql_web_and_worker() -> None:
    assert {"db", "web", "worker", "migrate"} <= set(COMPOSE["services"])
    assert COMPOSE["services"]["db"]["image"].startswith("postgres:")


def test_every_service_runs_a_real_copline_command_with_real_options() -> None:
    cli = get_command(app)
    for name, service in COMPOSE["services"].items():
        command = service.get("command")
        if not command:
            continue
        assert command[0] == "copline", name
        sub = cli.commands[command[1]]  # type: ignore[attr-defined]
        options = {opt for param in sub.params for opt in param.opts + param.secondary_opts}
        for word in command[2:]:
            if word.startswith("--"):
                assert word in options, f"{name}: {word} is not an option of copline {command[1]}"


def test_every_copline_variable_in_compose_is_a_setting() -> None:
    fields = {f"COPLINE_{name.upper()}" for name in Settings.model_fields}
    for name, service in COMPOSE["services"].items():
        for variable in service.get("environment", {}):
            if variable.startswith("COPLINE_"):
                assert variable in fields, f"{name}: {variable} is not a copline setting"


def test_blank_variables_from_compose_mean_unset() -> None:
    settings = Settings(at_api_key="", at_base_url="", database_read_url="", _env_file=None)
    assert settings.at_api_key is None and settings.uses_at_simulator
    assert settings.at_base_url == "http://127.0.0.1:8790"
    assert settings.database_read_url is None  # reports stay on the primary


def test_the_compose_database_url_gets_the_async_driver() -> None:
    url = COMPOSE["x-copline-env"]["COPLINE_DATABASE_URL"]
    assert Settings(database_url=url, _env_file=None).database_url.startswith(
        "postgresql+asyncpg://"
    )


def test_compose_web_instances_never_start_a_simulator() -> None:
    env = COMPOSE["x-copline-env"]
    settings = Settings(at_simulator=env["COPLINE_AT_SIMULATOR"], _env_file=None)
    assert not settings.runs_simulator_in_process
    assert "simulator" in COMPOSE["services"]["at-sim"]["profiles"]  # only when asked


def test_the_simulator_starts_in_process_only_without_a_key_on_this_machine() -> None:
    assert Settings(_env_file=None).runs_simulator_in_process
    assert not Settings(at_api_key="secret", _env_file=None).runs_simulator_in_process
    assert not Settings(at_base_url="http://at-sim:8790", _env_file=None).runs_simulator_in_process


def test_compose_in_production_requires_a_callback_token_that_production_accepts() -> None:
    env = COMPOSE["x-copline-env"]
    assert env["COPLINE_ENVIRONMENT"] == "production"
    # Required from the operator's environment, never a literal (a shared, known secret),
    # and the message says what production will accept.
    for name in ("COPLINE_CALLBACK_TOKEN", "COPLINE_SECRET_KEY"):
        required = re.fullmatch(rf"\$\{{{name}:\?(.+)\}}", env[name])
        assert required is not None and "32+ characters" in required.group(1)
    settings = Settings(
        environment=env["COPLINE_ENVIRONMENT"],
        callback_token="t" * MIN_PRODUCTION_TOKEN,
        secret_key="s" * MIN_PRODUCTION_TOKEN,
        graphiql=env["COPLINE_GRAPHIQL"],
        graphql_introspection=env["COPLINE_GRAPHQL_INTROSPECTION"],
        graphql_suggestions=env["COPLINE_GRAPHQL_SUGGESTIONS"],
        _env_file=None,
    )
    assert settings.production_refusal() is None
    assert not (settings.serves_graphiql or settings.allows_introspection)
    assert not settings.suggests_fields
