"""`copline apikey` and `copline schema export` as an operator uses them."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from service.api.schema import sdl
from service.cli.main import app
from tests.service.cli.test_programme_command import CREATE


def test_a_key_is_shown_once_listed_without_its_secret_and_revoked(cli: CliRunner) -> None:
    assert cli.invoke(app, CREATE).exit_code == 0
    created = cli.invoke(
        app,
        [
            "apikey",
            "create",
            "--programme",
            "ke-clusters",
            "--scopes",
            "read,write",
            "--name",
            "M&E",
        ],
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("cpl_") and "shown only now" in created.stderr
    prefix = secret.split("_")[1]
    listed = cli.invoke(app, ["apikey", "list", "--programme", "ke-clusters"])
    assert listed.stdout.split("\t")[:4] == [prefix, "M&E", "read,write", "active"]
    assert secret.split("_", 2)[2] not in listed.stdout
    revoked = cli.invoke(app, ["apikey", "revoke", prefix, "--programme", "ke-clusters"])
    assert revoked.exit_code == 0 and f"Revoked API key {prefix}." in revoked.stdout
    assert "revoked" in cli.invoke(app, ["apikey", "list", "--programme", "ke-clusters"]).stdout


def test_an_unknown_scope_is_named(cli: CliRunner) -> None:
    assert cli.invoke(app, CREATE).exit_code == 0
    result = cli.invoke(
        app, ["apikey", "create", "--programme", "ke-clusters", "--scopes", "read,everything"]
    )
    assert result.exit_code == 1
    assert "unknown scope 'everything'" in result.stderr


def test_schema_export_writes_and_checks_the_contract(workdir: Path) -> None:
    runner = CliRunner()
    target = workdir / "schema.graphql"
    assert runner.invoke(app, ["schema", "export", "--out", str(target)]).exit_code == 0
    assert target.read_text() == sdl()
    assert runner.invoke(app, ["schema", "export", "--out", str(target), "--check"]).exit_code == 0
    target.write_text(sdl().replace("type Meeting", "type Gathering"))
    drift = runner.invoke(app, ["schema", "export", "--out", str(target), "--check"])
    assert drift.exit_code == 1 and "differs from the served schema" in drift.stderr
