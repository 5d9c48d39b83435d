"""Fixtures of the crash tests: a real server process over the test's database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.crash.support import Server


@pytest.fixture
def server_settings() -> dict[str, str]:
    """AUDITTRAIL_* settings of the server beyond the defaults; a test module may override."""
    return {}


@pytest.fixture
def server(database_url: str, tmp_path: Path, server_settings: dict[str, str]) -> Iterator[Server]:
    """`audittrail serve`, started; whatever state a test leaves it in, it is stopped after."""
    server = Server(database_url, tmp_path, server_settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()
