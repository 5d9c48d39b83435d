"""Changing one's password is throttled as logins are: wrong current passwords count against the
account's limit, the same count as its failed logins, checked before the password is."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.helpers import RECORDS
from tests.throttle.conftest import Login, PasswordChecks, client_of
from tests.throttle.test_login import assert_throttled, lockouts

PASSWORD = "/api/auth/password"
NEWER = "brisk meadow falcon"
WRONG_PASSWORD = {"error": {"code": "WRONG_PASSWORD", "message": "The current password is wrong."}}


def change(current: str) -> dict[str, str]:
    return {"current_password": current, "new_password": NEWER}


async def records_of(client: httpx.AsyncClient, event_type: str) -> list[dict[str, Any]]:
    response = await client.get(RECORDS, params={"event_types": event_type})
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records


@pytest.fixture
async def signed_in(app: FastAPI, log_in: Login) -> httpx.AsyncClient:
    """The admin's session, as whoever stole it would use it: its access token."""
    response = await log_in(ADMIN_EMAIL, ADMIN_PASSWORD)
    assert response.status_code == 200, response.text
    session = client_of(app)
    session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return session


async def test_wrong_current_passwords_lock_the_account_out(
    signed_in: httpx.AsyncClient,
    client: httpx.AsyncClient,
    log_in: Login,
    password_checks: PasswordChecks,
) -> None:
    checked = password_checks.count
    async with signed_in as session:
        for number in range(5):
            response = await session.post(PASSWORD, json=change(f"guess {number}"))
            assert (response.status_code, response.json()) == (403, WRONG_PASSWORD)
        # The right current password does not get through, and is not even checked.
        assert_throttled(await session.post(PASSWORD, json=change(ADMIN_PASSWORD)))
        assert password_checks.count == checked + 5
    assert_throttled(await log_in(ADMIN_EMAIL, ADMIN_PASSWORD))  # one count with the logins'
    assert password_checks.count == checked + 5

    assert len(await records_of(client, "user.password_change_failed")) == 5
    assert await records_of(client, "user.password_changed") == []
    [record] = await lockouts(client)
    assert record["summary"] == "Logins refused for an account after repeated failures"
    assert (record["entity_type"], record["actor"]) == ("user", "anonymous")
    assert record["entity_id"] is not None
    assert (record["params"]["limit"], record["params"]["account"]) == ("account", ADMIN_EMAIL)


async def test_guesses_at_login_and_at_password_change_add_up(
    signed_in: httpx.AsyncClient, log_in: Login
) -> None:
    async with signed_in as session:
        for _ in range(3):
            assert (await log_in(ADMIN_EMAIL.upper(), "guess")).status_code == 401
        for _ in range(2):
            assert (await session.post(PASSWORD, json=change("guess"))).status_code == 403
        assert_throttled(await session.post(PASSWORD, json=change(ADMIN_PASSWORD)))
    assert_throttled(await log_in(ADMIN_EMAIL, ADMIN_PASSWORD))


@pytest.mark.parametrize("setting_overrides", [{"login_failures_per_address": "2 per 15 minutes"}])
async def test_a_right_current_password_forgets_the_accounts_failures(
    signed_in: httpx.AsyncClient, log_in: Login
) -> None:
    """And the change does not count against the address: a session guesses at its own
    account only."""
    async with signed_in as session:
        for _ in range(4):
            assert (await session.post(PASSWORD, json=change("guess"))).status_code == 403
        assert (await session.post(PASSWORD, json=change(ADMIN_PASSWORD))).status_code == 204
        for _ in range(4):
            assert (await session.post(PASSWORD, json=change("guess"))).status_code == 403
    assert (await log_in(ADMIN_EMAIL, NEWER)).status_code == 200
