"""A client's mistake is one line at INFO; a traceback at ERROR only for our own failures."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from structlog.testing import capture_logs

from service.api.types import places
from tests.service.api.conftest import Api, Two

PHONE = "+254712345678"

MISTAKES = [
    pytest.param(
        "query($n: Int) { people(first: $n) { totalCount } }", {"n": "twenty"}, id="bad variables"
    ),
    pytest.param("{ auditLog { totalCount } }", None, id="missing scope"),
    pytest.param('{ people(after: "nope") { totalCount } }', None, id="bad cursor"),
    pytest.param("{ programme { slug }", None, id="syntax error"),
    pytest.param("{ programe { slug } }", None, id="unknown field"),
    pytest.param(
        "query($id: ID!) { people(filter: {schoolId: $id}) { totalCount } }",
        {"id": PHONE},
        id="a phone as an id",
    ),
]


@pytest.mark.parametrize(("query", "variables"), MISTAKES)
async def test_a_client_mistake_is_one_line_at_info_without_a_traceback(
    api: Api, two: Two, caplog: pytest.LogCaptureFixture, query: str, variables: dict[str, Any]
) -> None:
    caplog.set_level(logging.INFO)
    with capture_logs() as logs:
        errors = await api.errors(query, variables, key=two.reader_a)
    assert errors
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    [line] = [entry for entry in logs if entry["event"].startswith("graphql.")]
    assert line["event"] == "graphql.refused" and line["log_level"] == "info"
    assert "exc_info" not in line and line["key"] == two.reader_a.split("_")[1]
    assert PHONE not in str(line) and "twenty" not in str(line)


async def test_our_own_failure_is_logged_at_error_with_its_traceback(
    api: Api, two: Two, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the pool is on fire")

    monkeypatch.setattr(places.ProgrammeNode, "from_row", explode)
    caplog.set_level(logging.INFO)
    with capture_logs() as logs:
        assert await api.errors("query Dashboard { programme { slug } }", key=two.reader_a)
    [line] = [entry for entry in logs if entry["event"].startswith("graphql.")]
    assert line["event"] == "graphql.failed" and line["log_level"] == "error"
    assert line["operation"] == "Dashboard" and line["path"] == "programme"
    assert isinstance(line["exc_info"], RuntimeError)
    # Strawberry's own logger no longer writes every error a second time.
    assert not [r for r in caplog.records if r.name.startswith("strawberry")]
