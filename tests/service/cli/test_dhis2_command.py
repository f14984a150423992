"""`copline dhis2 push` against the DHIS2 stand-in on a free port, over real HTTP: what
it accepts, what a dry run shows, and how a refusing or failing DHIS2 ends the command."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner, Result

from service.cli.main import app
from service.dhis2.simulator import Dhis2Stand, create_dhis2_app
from service.domain.dhis2 import parse_mapping
from service.models import AuditEntry
from sms.simulator import RunningServer, serve_in_background
from tests.dhis2 import ELEMENTS, MAPPING, ORG_UNIT, Termly, term_with_a_held_meeting

PASSWORD = "district-s3cret"


@pytest_asyncio.fixture
async def termly(session: AsyncSession) -> Termly:
    return await term_with_a_held_meeting(session)


@pytest_asyncio.fixture
async def stand() -> AsyncIterator[tuple[Dhis2Stand, RunningServer]]:
    mapping = parse_mapping(MAPPING)
    stand = Dhis2Stand("admin", PASSWORD, mapping.data_elements, mapping.org_units)
    running = await serve_in_background(create_dhis2_app(stand))
    yield stand, running
    await running.stop()


@pytest.fixture
def dhis2_env(
    stand: tuple[Dhis2Stand, RunningServer], monkeypatch: pytest.MonkeyPatch, workdir: Path
) -> Path:
    monkeypatch.setenv("COPLINE_DHIS2_URL", stand[1].url)
    monkeypatch.setenv("COPLINE_DHIS2_USERNAME", "admin")
    monkeypatch.setenv("COPLINE_DHIS2_PASSWORD", PASSWORD)
    mapping = workdir / "mapping.csv"
    write(mapping, MAPPING)
    return mapping


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


async def copline(cli: CliRunner, *args: str) -> Result:
    # The command runs its own event loop in a thread; the stand-in serves on this one.
    return await asyncio.to_thread(cli.invoke, app, list(args))


async def push(cli: CliRunner, *extra: str) -> Result:
    return await copline(
        cli, "dhis2", "push", "ke-clusters", "--term", "Term 3", "--mapping", "mapping.csv", *extra
    )


async def test_the_stand_in_accepts_the_push_and_the_audit_keeps_it(
    cli: CliRunner,
    dhis2_env: Path,
    termly: Termly,
    stand: tuple[Dhis2Stand, RunningServer],
    session: AsyncSession,
) -> None:
    result = await push(cli)
    assert result.exit_code == 0, result.output
    assert "DHIS2 answered SUCCESS: imported 5, updated 0, ignored 0." in result.stdout
    held = {de: v for (de, _, ou), v in stand[0].values.items() if ou == ORG_UNIT}
    assert held[ELEMENTS["meetings_held"]] == "1"
    assert held[ELEMENTS["attendance_rate"]] == "50.0"

    again = await push(cli)  # a second push updates the same values
    assert "imported 0, updated 5, ignored 0" in again.stdout

    entries = (
        await session.exec(select(AuditEntry).where(AuditEntry.action == "dhis2.push"))
    ).all()
    assert len(entries) == 2
    changes = entries[0].changes
    assert changes["sent"]["dataValues"][0]["orgUnit"] == ORG_UNIT
    assert changes["summary"]["import_count"]["imported"] == 5
    assert PASSWORD not in json.dumps(changes) and PASSWORD not in result.output


async def test_a_dry_run_prints_a_table_and_the_json_and_sends_nothing(
    cli: CliRunner, dhis2_env: Path, termly: Termly, stand: tuple[Dhis2Stand, RunningServer]
) -> None:
    result = await push(cli, "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "ke-clusters, term Term 3, DHIS2 period" in out
    assert "School SCH-1" in out and "attendance_rate" in out and "50.0" in out
    assert "not sent: survey_response_rate of School SCH-1 (nothing to divide by)" in out
    payload = json.loads(out[out.index("{") :])
    assert len(payload["dataValues"]) == 5
    assert stand[0].requests == []


async def test_values_dhis2_refuses_are_listed_and_exit_2(
    cli: CliRunner, dhis2_env: Path, termly: Termly, stand: tuple[Dhis2Stand, RunningServer]
) -> None:
    stand[0].data_elements.discard(ELEMENTS["members"])
    result = await push(cli)
    assert result.exit_code == 2, result.output
    assert f"conflict: {ELEMENTS['members']}: Data element not found" in result.stdout
    assert "DHIS2 answered WARNING (HTTP 409): imported 4, updated 0, ignored 1" in result.output


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("password", "DHIS2 refused the credentials"),
        ("503", "DHIS2 failed with HTTP 503"),
        ("down", "cannot reach DHIS2 at"),
    ],
)
async def test_a_failing_dhis2_is_one_clear_line_and_exit_1(
    cli: CliRunner,
    dhis2_env: Path,
    termly: Termly,
    stand: tuple[Dhis2Stand, RunningServer],
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
    expected: str,
) -> None:
    if fault == "password":
        monkeypatch.setenv("COPLINE_DHIS2_PASSWORD", "wrong")
    elif fault == "503":
        stand[0].faults.append(503)
    else:
        monkeypatch.setenv("COPLINE_DHIS2_URL", "http://127.0.0.1:9")
    result = await push(cli)
    assert result.exit_code == 1
    assert expected in result.output and "nothing was imported" in result.output
    assert stand[0].values == {}


async def test_a_mapping_with_mistakes_sends_nothing(
    cli: CliRunner, dhis2_env: Path, termly: Termly, stand: tuple[Dhis2Stand, RunningServer]
) -> None:
    write(dhis2_env, MAPPING + "figure,meetings,abc\n")
    result = await push(cli)
    assert result.exit_code == 1
    assert "line 9: unknown figure 'meetings'" in result.output
    assert stand[0].requests == []
