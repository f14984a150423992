"""Logs never carry the callback token: HTTP client request lines stay below INFO."""

from __future__ import annotations

import logging

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
