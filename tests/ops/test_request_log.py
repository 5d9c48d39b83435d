"""One log line per request, with the request id the client sent (and gets back), the caller's
name, never its secret; as JSON in production."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import httpx
import pytest

from audittrail import logs
from tests.conftest import ADMIN_KEY
from tests.helpers import RECORDS, logged_into


@pytest.fixture
def lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The request log's lines, as JSON (production's format); the app's own format after."""
    logs.configure(json_lines=True)
    buffer = io.StringIO()
    monkeypatch.setattr(logs, "log", logged_into(buffer))
    logs.configure(json_lines=False)
    yield buffer


def logged(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


async def test_a_request_is_one_line_with_its_id_status_and_caller(
    client: httpx.AsyncClient, lines: io.StringIO
) -> None:
    mine = "0123456789abcdef0123456789abcdef"
    body = {"event_type": "a.b", "summary": "s"}
    response = await client.post(RECORDS, json=body, headers={"X-Request-ID": mine})
    assert (response.status_code, response.headers["x-request-id"]) == (201, mine)
    listed = await client.get(RECORDS, params={"search": "secretword"})
    assert listed.status_code == 200
    first, second = logged(lines)
    assert {k: v for k, v in first.items() if k not in ("duration_ms", "timestamp")} == {
        "event": "request",
        "level": "info",
        "method": "POST",
        "path": RECORDS,
        "status": 201,
        "credential": "api_key:bootstrap",
        "request_id": mine,
    }
    assert isinstance(first["duration_ms"], float)
    assert second["method"] == "GET" and second["status"] == 200
    assert re.fullmatch(r"[0-9a-f]{32}", str(second["request_id"]))
    assert "secretword" not in lines.getvalue()  # a query is data, not logged
    assert ADMIN_KEY not in lines.getvalue()


async def test_a_refused_request_is_logged_without_a_caller(
    anonymous: httpx.AsyncClient, lines: io.StringIO
) -> None:
    response = await anonymous.get(RECORDS, headers={"Authorization": "Bearer atk_wrong_secret"})
    assert response.status_code == 401
    (line,) = logged(lines)
    assert (line["status"], line["credential"]) == (401, None)
    assert "atk_wrong_secret" not in lines.getvalue()
