"""Fixtures of the log tests: checkpoints every 50 ms, and a log signing key per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from audittrail.config import Settings
from tests.conftest import ADMIN_EMAIL, ADMIN_KEY, ADMIN_PASSWORD


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The harness's settings, plus a signing key in tmp_path and quick checkpoints."""
    return Settings(
        database_url=database_url,
        auto_migrate=False,
        bootstrap_admin_email=ADMIN_EMAIL,
        bootstrap_admin_password=ADMIN_PASSWORD,
        bootstrap_api_key=ADMIN_KEY,
        secret_key="test-secret-" + "s" * 40,
        secret_key_file=tmp_path / "secret",
        log_key_file=tmp_path / "log.key",
        checkpoint_interval=0.05,
    )
