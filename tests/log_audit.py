"""The log audit: every line the service logs during the tests is searched for secrets.

In-process, every record at INFO and above (structlog and stdlib alike) goes through
the service's own formatter as JSON into `service.log` (`service-gw0.log`… per
pytest-xdist process); the e2e tests' `copline serve` and the fault run's processes
write theirs beside it (`running_server` in tests/e2e/conftest.py). When the
session ends the folder is searched for a callback token, an API key, a whole phone
number and SMS texts; any finding fails the run, naming the line (masked).

The folder is `.ci-artifacts/logs` (CI keeps it), or `COPLINE_TEST_LOG_DIR`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import phonenumbers
import pytest
import structlog

from service.config import Settings
from service.logging import CHATTY, formatter, route_structlog

ROOT = Path(__file__).resolve().parent.parent
# Every callback token a test, a bench or the defaults use.
TOKENS = (
    "dev-callback-token",
    "test-callback-token",
    "not-the-token",
    "bench-token",
    "fault-run-callback-token-0123456789abcdef",
)
# A callback path with the token it was called with (the access log shows `{token}`, and
# the service's formatter masks its own token as `[secret]`).
CALLBACK_PATH = re.compile(r"/at/(?!\{token\}/|\[secret\]/)[^/\s\"']+/")
API_KEY = re.compile(r"cpl_[0-9a-f]{8}_[A-Za-z0-9_-]{16,}")
# A digit run that may be a phone: checked with phonenumbers, with or without `+`.
DIGITS = re.compile(r"(?<![\w•])\+?\d{9,15}(?!\d)")
# Fields that would hold what a person wrote or was sent.
TEXT_FIELDS = frozenset({"body", "text", "message", "sms", "reply"})
# Levels that are not audited (the handler writes INFO and above; this is for e2e files).
BELOW_INFO = frozenset({"debug", "notset"})
SHORTEST_FRAGMENT = 16


def log_dir() -> Path:
    return Path(os.environ.get("COPLINE_TEST_LOG_DIR", ROOT / ".ci-artifacts" / "logs"))


@dataclass(frozen=True)
class Finding:
    path: Path
    line_no: int
    what: str
    line: str

    def __str__(self) -> str:
        return f"{self.path.name}:{self.line_no}: {self.what}: {self.line}"


@cache
def template_fragments() -> tuple[str, ...]:
    """The fixed words of every SMS template, long enough never to occur by chance."""
    fragments: set[str] = set()
    for path in (ROOT / "sms" / "templates").glob("*.toml"):
        texts = tomllib.loads(path.read_text(encoding="utf-8")).get("text", {})
        for text in texts.values():
            if isinstance(text, str):
                for part in re.split(r"\{[^}]*\}", text):
                    if len(part.strip()) >= SHORTEST_FRAGMENT:
                        fragments.add(part.strip())
    return tuple(sorted(fragments))


def _is_phone(digits: str) -> bool:
    try:
        number = phonenumbers.parse(digits if digits.startswith("+") else "+" + digits)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def _mask(text: str, secret: str) -> str:
    shown = secret[:4] + "•" * max(len(secret) - 6, 3) + secret[-2:]
    return text.replace(secret, shown)


def _strings(value: object, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, str(k))
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, key)
    elif isinstance(value, str):
        yield key, value


def check_line(line: str) -> tuple[str, str] | None:
    """(what leaked, the line masked) or None."""
    record: object = None
    if line.lstrip().startswith("{"):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
    if isinstance(record, dict):
        if str(record.get("level", "")).lower() in BELOW_INFO:
            return None
        for key, value in _strings(record):
            if key.lower() in TEXT_FIELDS and value.strip():
                written = json.dumps(value)[1:-1]  # as it stands in the line
                return f"an SMS text in the field {key!r}", line.replace(written, "•••")
    for token in TOKENS:
        if token in line:
            return "a callback token", _mask(line, token)
    if path := CALLBACK_PATH.search(line):
        return "a callback path with its token", line.replace(path.group(), "/at/•••/")
    if api_key := API_KEY.search(line):
        return "an API key", _mask(line, api_key.group())
    for match in DIGITS.finditer(line):
        if _is_phone(match.group()):
            return "a whole phone number", _mask(line, match.group())
    for fragment in template_fragments():
        if fragment in line:
            return "an SMS text", line.replace(fragment, "•••")
    return None


def audit(paths: Iterable[Path]) -> list[Finding]:
    findings = []
    for path in paths:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                found = check_line(line.rstrip("\n"))
                if found is not None:
                    what, masked = found
                    findings.append(Finding(path, number, what, masked[:300]))
    return findings


def audit_folder(folder: Path) -> list[Finding]:
    return audit(sorted(folder.glob("*.log")))


_handler: logging.Handler | None = None


def _audited_logging() -> None:
    route_structlog(logging.INFO)
    logging.getLogger().setLevel(logging.INFO)
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(logging.WARNING)


def _worker(config: pytest.Config) -> str | None:
    """The pytest-xdist test process this is, if any (the controller audits them all)."""
    worker: str | None = getattr(config, "workerinput", {}).get("workerid")
    return worker


def pytest_configure(config: pytest.Config) -> None:
    global _handler
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    worker = _worker(config)
    if worker is None:  # the session itself (or the xdist controller): a fresh folder
        for old in folder.glob("*.log"):
            old.unlink()
    name = f"service-{worker}.log" if worker else "service.log"
    _handler = logging.FileHandler(folder / name, encoding="utf-8")
    _handler.setLevel(logging.INFO)
    # The service's own formatter, as in production with COPLINE_LOG_JSON=true.
    _handler.setFormatter(formatter(Settings(log_json=True, _env_file=None)))
    logging.getLogger().addHandler(_handler)
    _audited_logging()


@pytest.fixture(autouse=True)
def _logging_stays_audited() -> Iterator[None]:
    """A test that configures logging itself (a CLI command, a test of the set-up) gets
    its way for its own duration only."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    saved = structlog.get_config()
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    structlog.configure(**saved)
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(logging.WARNING)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _handler is None:
        return
    _handler.close()
    if _worker(session.config) is not None:
        return  # the controller audits every process's lines once they all have ended
    findings = audit_folder(log_dir())
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if not findings:
        return
    if reporter is not None:
        reporter.section("log audit", sep="=", red=True, bold=True)
        reporter.write_line(
            f"{len(findings)} log line(s) at INFO or above carry what no log may hold "
            f"(in {log_dir()}):"
        )
        for finding in findings[:50]:
            reporter.write_line(f"  {finding}")
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
