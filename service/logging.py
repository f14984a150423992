"""Logging: one handler for structlog and stdlib alike, readable lines or JSON, no secrets.

structlog events are routed through the standard library, so uvicorn, Strawberry,
SQLAlchemy and our own events all meet one formatter. That formatter is the last
line of defence: whatever a library or a traceback puts in a line, the callback
token, API keys and whole phone numbers are masked before it is written.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

import structlog

from service.config import Settings
from service.domain.phones import mask_phone

# Marks the handler configure_logging installed, so a second call replaces it and
# leaves everyone else's handlers (pytest's, a test's log file) alone.
_OURS = "_copline_handler"

# `cpl_<prefix>_<secret>`: the prefix is what listings show; the secret never appears.
_API_KEY = re.compile(r"\b(cpl_[0-9a-f]{8})_[A-Za-z0-9_-]{16,}")
# A whole E.164 number (a `+` and 9 to 15 digits). Masked ones hold `•` and do not match.
_PHONE = re.compile(r"(?<![\w+])\+\d{9,15}(?!\d)")

# Request lines of HTTP clients carry our callback paths (/at/{token}/…).
CHATTY = ("httpx", "httpcore", "urllib3")

_SHARED: list[structlog.typing.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


class Redactor:
    """Masks secrets in a rendered line: the exact token(s), API keys, whole phones."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        known = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._secrets = re.compile("|".join(map(re.escape, known))) if known else None

    def __call__(self, line: str) -> str:
        if self._secrets is not None:
            line = self._secrets.sub("[secret]", line)
        line = _API_KEY.sub(r"\1_[secret]", line)
        return _PHONE.sub(lambda m: mask_phone(m.group()) or "", line)


class RedactingFormatter(structlog.stdlib.ProcessorFormatter):
    def __init__(self, redactor: Redactor, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.redact = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


def formatter(settings: Settings) -> logging.Formatter:
    """Renders every record, ours or a library's, as one line (JSON with `log_json`)."""
    renderer: structlog.typing.Processor
    if settings.log_json:
        renderer = structlog.processors.JSONRenderer()
    else:
        # Plain tracebacks: a rich one prints each frame's local variables, secrets included.
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    processors: list[structlog.typing.Processor] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta
    ]
    if settings.log_json:
        processors.append(structlog.processors.format_exc_info)
    processors.append(renderer)
    return RedactingFormatter(
        Redactor([settings.callback_token.get_secret_value()]),
        processors=processors,
        foreign_pre_chain=_SHARED,
    )


def route_structlog(level: int) -> None:
    """structlog events become stdlib records; below `level` they cost one method call."""
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )


def configure_logging(settings: Settings) -> None:
    level = logging.getLevelName(settings.log_level.upper())
    route_structlog(level)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(settings))
    setattr(handler, _OURS, True)
    root.addHandler(handler)
    root.setLevel(level)
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(max(level, logging.WARNING))
