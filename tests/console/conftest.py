"""Each test starts with no overview figures kept from another test's programme."""

from __future__ import annotations

import pytest

from console.pages import overview


@pytest.fixture(autouse=True)
def _no_kept_figures() -> None:
    overview._recent.clear()
