"""`copline programme create|update|list` as an operator types them."""

from __future__ import annotations

from typer.testing import CliRunner

from service.cli.main import app

CREATE = [
    "programme",
    "create",
    "--slug",
    "ke-clusters",
    "--name",
    "Kenya clusters",
    "--country",
    "KE",
    "--timezone",
    "Africa/Nairobi",
    "--language",
    "sw",
    "--service-code",
    "*384*77#",
    "--sender-id",
    "CoPKenya",
]


def test_an_operator_creates_a_programme_and_sees_it_listed(cli: CliRunner) -> None:
    created = cli.invoke(app, CREATE)
    assert created.exit_code == 0, created.output
    assert "Created programme ke-clusters" in created.stdout
    listed = cli.invoke(app, ["programme", "list"])
    assert listed.exit_code == 0
    assert listed.stdout.split("\n")[0].split("\t") == [
        "ke-clusters",
        "Kenya clusters",
        "KE",
        "Africa/Nairobi",
        "sw,en",
        "*384*77#",
        "CoPKenya",
        "",
    ]


def test_a_malawi_programme_speaks_chichewa_and_english_unless_told(cli: CliRunner) -> None:
    malawi = [
        "programme", "create", "--slug", "mw-cops", "--name", "Malawi CoPs", "--country", "MW",
        "--timezone", "Africa/Blantyre", "--service-code", "*384*265#",
    ]  # fmt: skip
    created = cli.invoke(app, malawi)
    assert created.exit_code == 0, created.output
    assert "languages ny, en" in created.stdout
    listed = cli.invoke(app, ["programme", "list"])
    assert listed.stdout.split("\n")[0].split("\t")[:5] == [
        "mw-cops", "Malawi CoPs", "MW", "Africa/Blantyre", "ny,en",
    ]  # fmt: skip


def test_an_operator_sets_changes_and_removes_a_programmes_short_code(cli: CliRunner) -> None:
    created = cli.invoke(app, [*CREATE, "--short-code", "20880"])
    assert created.exit_code == 0, created.output

    def listed_code() -> str:
        listed = cli.invoke(app, ["programme", "list"])
        assert listed.exit_code == 0
        return listed.stdout.split("\n")[0].split("\t")[-1]

    assert listed_code() == "20880"
    changed = cli.invoke(
        app, ["programme", "update", "--slug", "ke-clusters", "--short-code", "30990"]
    )
    assert changed.exit_code == 0, changed.output
    assert "short code 30990" in changed.stdout
    assert listed_code() == "30990"
    removed = cli.invoke(app, ["programme", "update", "--slug", "ke-clusters", "--no-short-code"])
    assert removed.exit_code == 0, removed.output
    assert listed_code() == ""


def test_an_operator_sets_and_removes_a_programmes_whatsapp_number(cli: CliRunner) -> None:
    assert cli.invoke(app, CREATE).exit_code == 0
    update = ["programme", "update", "--slug", "ke-clusters"]
    changed = cli.invoke(app, [*update, "--whatsapp-number", "+254 711 082 000"])
    assert changed.exit_code == 0, changed.output
    assert "WhatsApp +254711082000" in changed.stdout
    bad = cli.invoke(app, [*update, "--whatsapp-number", "0711082000"])
    assert bad.exit_code == 1 and "must be E.164" in bad.stderr
    removed = cli.invoke(app, [*update, "--no-whatsapp-number"])
    assert removed.exit_code == 0, removed.output
    assert "WhatsApp - (members get SMS)" in removed.stdout


def test_a_bad_short_code_or_an_empty_update_is_refused_clearly(cli: CliRunner) -> None:
    assert cli.invoke(app, CREATE).exit_code == 0
    bad = cli.invoke(app, ["programme", "update", "--slug", "ke-clusters", "--short-code", "CoP"])
    assert bad.exit_code == 1
    assert "--short-code: short code 'CoP' must be 3-8 digits" in bad.stderr
    empty = cli.invoke(app, ["programme", "update", "--slug", "ke-clusters"])
    assert empty.exit_code == 1 and "nothing to change" in empty.stderr
    unknown = cli.invoke(app, ["programme", "update", "--slug", "nowhere", "--short-code", "20880"])
    assert unknown.exit_code == 1 and "no programme with slug 'nowhere'" in unknown.stderr


def test_a_second_programme_with_the_same_slug_is_refused_clearly(cli: CliRunner) -> None:
    assert cli.invoke(app, CREATE).exit_code == 0
    again = cli.invoke(app, CREATE)
    assert again.exit_code == 1
    assert "a programme with slug 'ke-clusters' already exists" in again.stderr


def test_an_unknown_time_zone_is_named_in_the_error(cli: CliRunner) -> None:
    args = [a if a != "Africa/Nairobi" else "Africa/Narobi" for a in CREATE]
    result = cli.invoke(app, args)
    assert result.exit_code == 1
    assert "--timezone" in result.stderr and "Africa/Narobi" in result.stderr


def test_an_unsupported_country_is_refused_before_anything_is_written(cli: CliRunner) -> None:
    args = [a if a != "KE" else "UG" for a in CREATE]
    result = cli.invoke(app, args)
    assert result.exit_code == 2
    listed = cli.invoke(app, ["programme", "list"])
    assert "No programmes yet" in listed.stdout


def test_every_bad_option_is_named_in_one_error_line(cli: CliRunner) -> None:
    args = [a if a != "*384*77#" else "384" for a in CREATE]
    args[args.index("--name") + 1] = "K"
    result = cli.invoke(app, args)
    assert result.exit_code == 1
    assert "--name: String should have at least 2 characters" in result.stderr
    assert "--service-code: service code '384' must look like *384*123#" in result.stderr


def test_an_operator_moves_the_school_leaders_digest_to_another_day_and_time(
    cli: CliRunner,
) -> None:
    assert cli.invoke(app, CREATE).exit_code == 0
    moved = cli.invoke(
        app,
        ["programme", "update", "--slug", "ke-clusters", "--digest-day", "friday",
         "--digest-time", "16:30"],
    )  # fmt: skip
    assert moved.exit_code == 0, moved.output
    assert "digest friday 16:30" in moved.stdout
    bad = cli.invoke(
        app, ["programme", "update", "--slug", "ke-clusters", "--digest-time", "25:00"]
    )
    assert bad.exit_code == 1 and "--digest-time" in bad.stderr


def test_an_operator_prices_sms_and_ussd_sessions_per_session_or_per_20_seconds(
    cli: CliRunner,
) -> None:
    assert cli.invoke(app, CREATE).exit_code == 0
    changed = cli.invoke(
        app,
        ["programme", "update", "--slug", "ke-clusters", "--sms-price", "0.8",
         "--ussd-price", "1.5", "--ussd-billing", "per_20s"],
    )  # fmt: skip
    assert changed.exit_code == 0, changed.output
    assert "SMS 0.8000 KES a segment, USSD 1.5000 KES per 20 s begun" in changed.stdout
    back = cli.invoke(
        app, ["programme", "update", "--slug", "ke-clusters", "--ussd-billing", "session"]
    )
    assert back.exit_code == 0, back.output
    assert "USSD 1.5000 KES a session" in back.stdout  # the price stays as it was
    negative = cli.invoke(
        app, ["programme", "update", "--slug", "ke-clusters", "--ussd-price", "-1"]
    )
    assert negative.exit_code == 1 and "--ussd-price" in negative.stderr
