"""Schemathesis against every route of the OpenAPI document, as the admin, on both databases.

No 5xx, and every answer documented: its status, its content type, its body's schema. In
`make test` a bounded run that finds the same thing every time; `make fuzz` runs it longer and
at random (AUDITTRAIL_FUZZ_EXAMPLES, AUDITTRAIL_FUZZ_DERANDOMIZE=0).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from audittrail.app import create_app
from audittrail.config import Settings
from audittrail.db import migrate
from tests.conftest import (
    ADMIN_KEY,
    app_settings,
    new_postgres_database,
    skip_without_postgres,
)

# Examples an operation and database (docs/NOTES.md: 50 take 65-100 s for both databases here).
EXAMPLES = int(os.environ.get("AUDITTRAIL_FUZZ_EXAMPLES", "50"))
# `make test` must fail the same way twice; `make fuzz` looks somewhere new each run.
DERANDOMIZE = os.environ.get("AUDITTRAIL_FUZZ_DERANDOMIZE", "1") == "1"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
AS_ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def _settings(database_url: str, directory: Path) -> Settings:
    # One client sends thousands of reads a minute here: the per-credential limit would answer
    # most of `make fuzz` with 429 (tests/throttle tests it). The login throttle stays. Every
    # export appends its record, and the next waits for a checkpoint to cover it: sign often.
    return app_settings(
        database_url, directory, rate_limit="1000000/minute", checkpoint_interval=0.05
    )


def _config() -> schemathesis.Config:
    config = schemathesis.Config()
    config.projects.default.update(headers=AS_ADMIN)
    # Credentials are the admin's: random ones would only find the 401 on every route.
    config.projects.default.generation.update(with_security_parameters=False)
    # A failure's reproduction shows the admin key: the test's own, public in this file.
    config.output.sanitization.update(enabled=False)
    return config


# The batch route's NDJSON form is documented as a string: sent as it is, like text.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")

# Read once, from an app never started: the tests are made from it when the module is collected.
DOCUMENT = create_app(_settings("sqlite://", Path("unused"))).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=_config())


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FastAPI]:
    """One database for every operation: what one operation creates, the next one reads.
    Schemathesis starts the app's lifespan on its first request of a test, and ends it after."""
    directory = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    if request.param == "sqlite":
        yield _migrated_app(f"sqlite:///{directory / 'audittrail.db'}", directory)
        return
    with new_postgres_database() as url:
        if url is None:
            skip_without_postgres()
        assert url is not None
        yield _migrated_app(url, directory)


def _migrated_app(database_url: str, directory: Path) -> FastAPI:
    migrate.upgrade(database_url)
    app = create_app(_settings(database_url, directory))
    assert app.openapi() == DOCUMENT, "the app under test documents what the tests were made from"
    return app


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api(case: schemathesis.Case, fuzzed_app: FastAPI) -> None:
    case.call_and_validate(app=fuzzed_app, checks=CHECKS)
