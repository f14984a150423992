"""Logs never carry the callback token, an API key or a whole phone, whoever writes them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import structlog
from sqlalchemy.exc import IntegrityError

from service.config import Settings
from service.logging import configure_logging


def test_http_client_request_lines_are_not_logged_at_info() -> None:
    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.INFO)  # as in production at COPLINE_LOG_LEVEL=INFO
    try:
        configure_logging(Settings(log_level="INFO", _env_file=None))
        for name in ("httpx", "httpcore", "urllib3"):
            assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
        assert logging.getLogger("uvicorn").isEnabledFor(logging.INFO)
    finally:
        root.setLevel(before)
        for name in ("httpx", "httpcore", "urllib3"):
            logging.getLogger(name).setLevel(logging.NOTSET)


TOKEN = "a-production-callback-token-of-40-chars!"
KEY = "cpl_0a1b2c3d_" + "S" * 43
PHONE = "+254712345678"


@pytest.fixture
def service_handler_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests plant secrets on purpose: only the handler under test may see them,
    not the log audit's file (tests/log_audit.py), which would rightly fail the run."""
    monkeypatch.setattr(logging.getLogger(), "handlers", [])


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_our_events_and_library_records_meet_one_handler_as_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(Settings(log_json=True, _env_file=None))
    structlog.get_logger("sms.sender").warning("sms.request_failed", recipients=3)
    logging.getLogger("uvicorn.error").warning("Invalid HTTP request received.")
    records = _lines(capsys.readouterr().err)
    assert [(r["logger"], r["event"], r["level"]) for r in records] == [
        ("sms.sender", "sms.request_failed", "warning"),
        ("uvicorn.error", "Invalid HTTP request received.", "warning"),
    ]


def test_the_token_an_api_key_and_whole_phones_are_masked_in_any_line_even_a_traceback(
    capsys: pytest.CaptureFixture[str], service_handler_only: None
) -> None:
    configure_logging(Settings(log_json=True, callback_token=TOKEN, _env_file=None))
    try:
        raise ValueError(f"POST /at/{TOKEN}/ussd from {PHONE} with {KEY}")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    structlog.get_logger("x").info("hop", path=f"/at/{TOKEN}/ussd", phone=PHONE, key=KEY)
    out = capsys.readouterr().err
    assert TOKEN not in out and KEY not in out and PHONE not in out
    assert "+25471•••••78" in out and "cpl_0a1b2c3d_[secret]" in out
    assert "Traceback" in out and "/at/[secret]/ussd" in out


def test_readable_lines_never_print_a_frames_local_variables(
    capsys: pytest.CaptureFixture[str], service_handler_only: None
) -> None:
    configure_logging(Settings(log_json=False, _env_file=None))
    body = "Meeting moved to Tuesday"  # a local of the failing frame
    try:
        raise RuntimeError("boom " + str(len(body)))
    except RuntimeError:
        structlog.get_logger("x").exception("send.failed")
    out = capsys.readouterr().err
    assert "RuntimeError: boom 24" in out and body not in out


async def test_a_failed_statement_does_not_quote_its_values(tmp_path: Path) -> None:
    from sqlalchemy import text

    from service.db import build_engine

    engine = build_engine(Settings(database_url=f"sqlite:///{tmp_path}/x.db", _env_file=None))
    try:
        async with engine.connect() as conn:
            await conn.execute(text("CREATE TABLE person (phone TEXT UNIQUE)"))
            await conn.execute(text("INSERT INTO person VALUES (:p)"), {"p": PHONE})
            with pytest.raises(IntegrityError) as failed:
                await conn.execute(text("INSERT INTO person VALUES (:p)"), {"p": PHONE})
    finally:
        await engine.dispose()
    assert "UNIQUE constraint failed" in str(failed.value) and PHONE not in str(failed.value)
