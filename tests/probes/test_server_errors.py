"""A bug is one log line with the request id, and the 500 envelope: not a page of traceback.

The routes that raise are added to the test's own app instance, not to the product.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from audittrail import handlers, logs
from audittrail.records import service
from tests.conftest import ADMIN_KEY, make_client
from tests.helpers import RECORDS, logged_into, record_total
from tests.probes.support import assert_answer, error

INTERNAL = error("INTERNAL_ERROR", "Internal server error.")
REQUEST_ID = re.compile(r"[0-9a-f]{32}")


def a_bug() -> None:
    raise RuntimeError("the probe's bug\nand a second line that stays out of the log")


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What handlers logs, rendered as configured (logs.py), into a buffer. structlog keeps
    each module's logger once it is first used, so capturing stderr would depend on which
    test came first."""
    buffer = io.StringIO()
    monkeypatch.setattr(handlers, "log", logged_into(buffer))
    yield buffer


@pytest.fixture
def buggy(app: FastAPI) -> FastAPI:
    async def broken_route() -> dict[str, Any]:
        a_bug()
        return {}

    async def broken_stream() -> Any:
        from fastapi.responses import StreamingResponse

        async def chunks() -> Any:
            yield b"first"
            a_bug()

        return StreamingResponse(chunks())

    app.add_api_route("/probe/bug", broken_route)
    app.add_api_route("/probe/bug-mid-stream", broken_stream)
    return app


def only_line(buffer: io.StringIO) -> str:
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 1, buffer.getvalue()
    return lines[0]


async def test_a_bug_is_one_log_line_with_the_request_id(
    buggy: FastAPI, log_lines: io.StringIO
) -> None:
    # raise_app_exceptions (the default): the exception must not get past the app either.
    async with make_client(buggy, {"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        response = await client.get("/probe/bug")
    assert_answer(response, 500, INTERNAL)
    request_id = response.headers["x-request-id"]
    assert REQUEST_ID.fullmatch(request_id)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    line = only_line(log_lines)
    assert "unhandled error" in line
    assert f"request_id={request_id}" in line
    assert "RuntimeError: the probe's bug" in line
    assert "second line" not in line
    assert "/probe/bug" in line
    assert f"{__file__}:{a_bug.__code__.co_firstlineno + 1} in a_bug" in line
    assert "Traceback" not in line
    assert len(line) < 1000


async def test_the_line_keeps_the_callers_request_id_and_is_json_in_production(
    buggy: FastAPI, log_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs.configure(json_lines=True)
    buffer = io.StringIO()
    monkeypatch.setattr(handlers, "log", logged_into(buffer))
    logs.configure(json_lines=False)  # as the app set it, for the tests after this one
    mine = "0123456789abcdef0123456789abcdef"
    async with make_client(buggy, {"X-Request-ID": mine}) as client:
        response = await client.get("/probe/bug")
    assert_answer(response, 500, INTERNAL)
    assert response.headers["x-request-id"] == mine
    event = json.loads(only_line(buffer))
    assert event["event"] == "unhandled error"
    assert event["level"] == "error"
    assert event["request_id"] == mine
    assert (event["method"], event["path"]) == ("GET", "/probe/bug")
    assert event["error"] == "RuntimeError: the probe's bug"
    assert event["at"] == f"{__file__}:{a_bug.__code__.co_firstlineno + 1} in a_bug"
    assert "exception" not in event


async def test_a_bug_in_the_intake_route_is_one_line_and_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient, log_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> None:
        a_bug()

    before = await record_total(client)
    monkeypatch.setattr(service, "prepare", broken)
    response = await client.post(RECORDS, json={"event_type": "a", "summary": "s"})
    assert_answer(response, 500, INTERNAL)
    assert REQUEST_ID.fullmatch(response.headers["x-request-id"])
    line = only_line(log_lines)
    assert f"request_id={response.headers['x-request-id']}" in line
    assert "RuntimeError: the probe's bug" in line
    # The innermost frame is the probe's; the innermost of the package is named too.
    assert "from=" in line and "records/ingest.py" in line
    monkeypatch.undo()
    assert await record_total(client) == before


async def test_a_bug_after_the_answer_started_is_logged_once(
    buggy: FastAPI, log_lines: io.StringIO
) -> None:
    """Too late for a 500: the app returns with the answer unfinished, for the server to drop
    the connection (uvicorn says so in one line). httpx's test transport refuses to read such an
    answer, so this calls the app as a server would."""
    sent: list[dict[str, Any]] = []
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/probe/bug-mid-stream",
        "raw_path": b"/probe/bug-mid-stream",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("203.0.113.7", 1),
        "server": ("testserver", 80),
    }
    await buggy(scope, receive, send)  # returns: the exception is not the server's to print
    assert [m["type"] for m in sent][:2] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 200
    assert not any(m["type"] == "http.response.body" and not m.get("more_body") for m in sent)
    assert "RuntimeError: the probe's bug" in only_line(log_lines)


async def test_every_answer_carries_a_request_id(anonymous: httpx.AsyncClient) -> None:
    ids = set()
    for path in ("/api/audit-trail/log/head", "/nowhere", RECORDS):
        response = await anonymous.get(path)
        assert REQUEST_ID.fullmatch(response.headers["x-request-id"]), path
        ids.add(response.headers["x-request-id"])
    assert len(ids) == 3
