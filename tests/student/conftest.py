"""Student tests run tiny models: one torch thread each, since the suite shares two cores."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every student test runs with `one_thread` (tests/conftest.py)."""
