"""One log line per request, with the request id the client sent (and gets back), the caller's
name, never its secret; as JSON in production."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from audittrail import logs
from tests.conftest import ADMIN_KEY
from tests.crash.support import Server
from tests.helpers import RECORDS, logged_into
from tests.ingest.support import until


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


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("req_8f2c", True),
        ("Root=1-67891233-abcdef012345678912345678", True),
        ("3f2b9c1e-8d4a-4f6b-9c2d-1e7a5b3c9d0f", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("two words", False),
        ('"quoted"', False),
        ("<script>", False),
    ],
)
async def test_a_clients_request_id_is_kept_when_it_is_a_plain_token(
    client: httpx.AsyncClient, lines: io.StringIO, sent: str, kept: bool
) -> None:
    response = await client.get(RECORDS, headers={"X-Request-ID": sent})
    assert response.status_code == 200
    (line,) = [entry for entry in logged(lines) if entry["event"] == "request"]
    if kept:
        assert response.headers["x-request-id"] == line["request_id"] == sent
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
        assert line["request_id"] == response.headers["x-request-id"]
        assert sent not in lines.getvalue()


async def test_every_line_a_served_process_writes_is_json(
    database_url: str, tmp_path: Path
) -> None:
    """`audittrail serve --workers 2` with JSON logs: uvicorn's lines (parent and workers), the
    start's announcement, the requests' and a library's warning are JSON objects, none plain."""
    server = Server(
        database_url, tmp_path, {"AUDITTRAIL_LOG_FORMAT": "json"}, arguments=("--workers", "2")
    )
    server.start()
    try:
        # Answered by one worker; the other may still be starting.
        await until(lambda: server.log().count("Application startup complete.") == 2, 30)
        async with server.client() as client:
            for request_id in ("mine-1", "not mine"):
                response = await client.get(RECORDS, headers={"X-Request-ID": request_id})
                assert response.status_code == 200
    finally:
        server.stop()
    output = server.log()
    entries = [json.loads(line) for line in output.splitlines()]  # no line that is not JSON
    assert all({"event", "level", "timestamp"} <= entry.keys() for entry in entries), output
    events = [entry["event"] for entry in entries]
    assert events.count("Application startup complete.") == 2
    assert "Stopping parent process" in " ".join(events)
    requests = [entry for entry in entries if entry["event"] == "request"]
    assert [entry["path"] for entry in requests].count(RECORDS) == 2
    assert "mine-1" in {entry["request_id"] for entry in requests}
    assert any(entry.get("logger") == "asgi_correlation_id" for entry in entries)
    assert ADMIN_KEY not in output


def test_a_logged_traceback_has_no_local_variables(capsys: pytest.CaptureFixture[str]) -> None:
    """A frame's locals (an ASGI frame's hold the request's headers) stay out of JSON logs."""
    logs.configure(json_lines=True)

    def fails(authorization: str) -> None:
        raise RuntimeError("boom")

    try:
        fails(f"Bearer {ADMIN_KEY}")
    except RuntimeError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    logs.configure(json_lines=False)
    shown = capsys.readouterr().err
    # Only this line: another may come from an earlier test's leftovers, collected just now.
    (line,) = [json.loads(text) for text in shown.splitlines() if "Exception in ASGI" in text]
    assert line["logger"] == "uvicorn.error" and line["level"] == "error"
    assert [frame["name"] for frame in line["exception"][0]["frames"]][-1] == "fails"
    assert ADMIN_KEY not in shown and "locals" not in shown
