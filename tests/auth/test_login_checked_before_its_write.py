"""A login checks the password before its write transaction (argon2 must never hold the log's
lock), so what was checked can change before the session is started: the session is started only
if the user is still active and the password still the one checked. Driven through the two steps
the login route takes (auth.sessions.check_password, then auth.sessions.login), with the change
made through the API in between."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from audittrail.auth import sessions
from tests.auth.conftest import CreateUser
from tests.helpers import RECORDS

EMAIL = "carol@example.com"
PASSWORD = "carol's first password"


async def _failed_logins(client: httpx.AsyncClient) -> list[dict[str, object]]:
    response = await client.get(RECORDS, params={"event_types": "auth.login_failed"})
    assert response.status_code == 200, response.text
    records: list[dict[str, object]] = response.json()["records"]
    return records


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"password": "carol's second password"}, "wrong_password"),
        ({"is_active": False}, "inactive"),
    ],
)
async def test_a_change_between_check_and_write_signs_nobody_in(
    app: FastAPI,
    client: httpx.AsyncClient,
    create_user: CreateUser,
    change: dict[str, object],
    reason: str,
) -> None:
    user = await create_user(EMAIL, PASSWORD, ["reader"])
    database = app.state.database
    async with database.read_session() as session:
        attempt = await sessions.check_password(session, EMAIL, PASSWORD)
    assert attempt.failure is None

    response = await client.patch(f"/api/users/{user['id']}", json=change)
    assert response.status_code == 200, response.text
    async with database.write_session() as session:
        started = await sessions.login(session, app.state.settings, attempt, ip="203.0.113.9")

    assert started is None
    [failed] = await _failed_logins(client)
    assert failed["params"] == {"reason": reason, "email": EMAIL}
    assert failed["entity_id"] == user["id"]
