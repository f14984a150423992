"""CLI tests run the real commands against the test database of the current backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.config import Settings
from service.db import SessionFactory


@pytest.fixture
def cli(
    settings: Settings, sessions: SessionFactory, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    """A runner whose commands see the test database (emptied again after the test)."""
    monkeypatch.setenv("COPLINE_DATABASE_URL", settings.database_url)
    return CliRunner()
