"""`copline webhook` as an operator uses it."""

from __future__ import annotations

from typer.testing import CliRunner

from service.cli.main import app
from tests.service.cli.test_programme_command import CREATE

PROG = ["--programme", "ke-clusters"]


def test_an_endpoint_is_added_with_its_secret_shown_once_listed_and_removed(
    cli: CliRunner,
) -> None:
    assert cli.invoke(app, CREATE).exit_code == 0
    added = cli.invoke(
        app,
        ["webhook", "add", *PROG, "--url", "https://me.example.org/hooks",
         "--events", "rsvp.given,meeting.held"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    secret = added.stdout.strip()
    assert secret.startswith("whsec_") and "shown only now" in added.stderr
    listed = cli.invoke(app, ["webhook", "list", *PROG])
    assert listed.stdout.strip().split("\t") == [
        "1", "https://me.example.org/hooks", "rsvp.given,meeting.held", "masked", "enabled"
    ]  # fmt: skip
    assert secret not in listed.stdout
    assert cli.invoke(app, ["webhook", "disable", "1", *PROG]).exit_code == 0
    assert "disabled" in cli.invoke(app, ["webhook", "list", *PROG]).stdout
    assert cli.invoke(app, ["webhook", "deliveries", *PROG]).stdout == ""
    removed = cli.invoke(app, ["webhook", "remove", "1", *PROG])
    assert removed.exit_code == 0 and "Removed webhook endpoint 1." in removed.stdout
    assert cli.invoke(app, ["webhook", "list", *PROG]).stdout == ""


def test_a_url_that_is_not_http_and_an_unknown_delivery_are_refused(cli: CliRunner) -> None:
    assert cli.invoke(app, CREATE).exit_code == 0
    refused = cli.invoke(app, ["webhook", "add", *PROG, "--url", "ftp://me.example.org/x"])
    assert refused.exit_code == 1
    assert "http:// or https://" in refused.stderr
    unknown = cli.invoke(app, ["webhook", "resend", "99", *PROG])
    assert unknown.exit_code == 1 and unknown.stdout == ""
