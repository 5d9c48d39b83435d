"""Fixtures of the log tests: checkpoints every 50 ms."""

from __future__ import annotations

import pytest

from audittrail.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The harness's settings with quick checkpoints."""
    return settings.model_copy(update={"checkpoint_interval": 0.05})
