"""The log audit (tests/log_audit.py) finds what no log may hold, and fails the run."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from tests.log_audit import ROOT, audit, check_line, template_fragments

KEY = "cpl_0a1b2c3d_" + "x" * 43


def _json(**fields: object) -> str:
    return json.dumps({"level": "info", "logger": "service.app", **fields})


@pytest.mark.parametrize(
    ("line", "what"),
    [
        (
            'INFO:     127.0.0.1:5 - "POST /at/dev-callback-token/ussd HTTP/1.1" 200',
            "a callback token",
        ),
        (
            _json(event="http.request", path="/at/s3cr3t-t0ken/ussd"),
            "a callback path with its token",
        ),
        (_json(event="apikey.used", key=KEY), "an API key"),
        (_json(event="sms.inbound", phone="+254712100002"), "a whole phone number"),
        (_json(event="sms.inbound", phone="250788100001"), "a whole phone number"),
        (_json(event="sms.sent", body="YES 4821"), "an SMS text in the field 'body'"),
        (_json(event="sms.inbound", text="Use groups of 3"), "an SMS text in the field 'text'"),
        ("Traceback: ValueError: Sorry, that answer does not fit.", "an SMS text"),
    ],
)
def test_a_planted_leak_is_found_and_shown_masked(line: str, what: str) -> None:
    found = check_line(line)
    assert found is not None and found[0] == what
    for secret in ("dev-callback-token", "s3cr3t-t0ken", KEY, "+254712100002", "YES 4821"):
        assert secret not in found[1]


@pytest.mark.parametrize(
    "line",
    [
        _json(event="http.request", method="POST", route="/at/{token}/ussd", status=200, ms=3.1),
        _json(event="sms.inbound", phone="+25471•••••02", keyword="yes", outcome="rsvp"),
        _json(event="hop", path="/at/[secret]/ussd", key="cpl_0a1b2c3d_[secret]"),
        _json(event="worker.job_done", job="send_sms", count=16, at="2026-12-02T04:51:43.107574Z"),
        json.dumps({"level": "debug", "event": "sms.render", "body": "Reply STOP to stop."}),
        "Database at revision 0005.",
    ],
)
def test_what_the_service_may_log_passes(line: str) -> None:
    assert check_line(line) is None


def test_every_demo_and_factory_phone_counts_as_a_whole_phone() -> None:
    phones = [
        row["phone"]
        for path in (ROOT / "service" / "demo").glob("*/people.csv")
        for row in csv.DictReader(path.open(encoding="utf-8"))
        if row["phone"]
    ]
    phones += ["+254712100001", "+250788100042"]  # as tests/factories.py numbers them
    assert len(phones) > 10
    for phone in phones:
        assert check_line(_json(event="x", who=phone)) is not None, phone


def test_every_sms_template_contributes_its_fixed_words() -> None:
    fragments = template_fragments()
    assert "Thank you for telling us." in fragments
    assert all(len(f) >= 16 for f in fragments)


def test_findings_name_the_file_and_line(tmp_path: Path) -> None:
    log = tmp_path / "serve-1.log"
    log.write_text(_json(event="ok") + "\n" + _json(event="sms.sent", body="hello") + "\n")
    [finding] = audit([log])
    assert str(finding).startswith("serve-1.log:2: an SMS text in the field 'body'")


def test_a_session_whose_service_logs_a_secret_fails(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COPLINE_TEST_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    pytester.makepyfile(
        test_leaky="""
        import structlog

        def test_a_sender_that_logs_what_it_sent():
            structlog.get_logger("sms.sender").info("sms.sent", body="Meeting moved to Tuesday")
        """
    )
    result = pytester.runpytest_subprocess("-p", "tests.log_audit", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        ["*log audit*", "*service.log:*: an SMS text in the field 'body'*", "*1 passed*"]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "Meeting moved to Tuesday" not in result.stdout.str()


def test_a_session_whose_service_logs_nothing_secret_passes(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COPLINE_TEST_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    pytester.makepyfile(
        test_quiet="""
        import structlog

        def test_a_sender_that_logs_a_count():
            structlog.get_logger("sms.sender").info("sms.sent", recipients=3)
        """
    )
    result = pytester.runpytest_subprocess("-p", "tests.log_audit", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    assert "sms.sent" in (tmp_path / "logs" / "service.log").read_text()
