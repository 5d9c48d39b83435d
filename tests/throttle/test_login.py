"""Login throttling: failed logins per account and per address; a locked-out login is refused
before its password is checked, and each lock-out is recorded once."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, CLIENT_ADDRESS
from tests.helpers import RECORDS
from tests.throttle.conftest import Login, PasswordChecks

THROTTLED = {
    "error": {
        "code": "LOGIN_THROTTLED",
        "message": "Too many failed logins; retry after Retry-After seconds.",
    }
}
WINDOW = 15 * 60


async def lockouts(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get(RECORDS, params={"event_types": "auth.lockout"})
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records


def assert_throttled(response: httpx.Response, *, at_most: int = WINDOW) -> None:
    assert response.status_code == 429, response.text
    assert response.json() == THROTTLED
    assert 1 <= int(response.headers["retry-after"]) <= at_most


@pytest.mark.parametrize("email", [ADMIN_EMAIL, "nobody@example.com"], ids=["known", "unknown"])
async def test_the_sixth_failure_is_refused_without_a_password_check(
    log_in: Login, client: httpx.AsyncClient, password_checks: PasswordChecks, email: str
) -> None:
    """Known and unknown emails alike: the 429 says nothing of who exists."""
    for _ in range(5):
        response = await log_in(email.upper(), "wrong password")  # one account, however typed
        assert response.status_code == 401, response.text
    assert password_checks.count == 5

    for password in (ADMIN_PASSWORD, "wrong password", ADMIN_PASSWORD):
        assert_throttled(await log_in(email, password))
    assert password_checks.count == 5  # no argon2 for a locked-out login

    [lockout] = await lockouts(client)  # once, however many refusals follow
    assert lockout["actor"] == "anonymous"
    assert (lockout["category"], lockout["severity"]) == ("security", "high")
    assert lockout["ip_address"] == CLIENT_ADDRESS[0]
    params = lockout["params"]
    assert (params["limit"], params["account"]) == ("account", email)
    assert (params["failures"], params["window_seconds"]) == (5, WINDOW)
    until = datetime.fromisoformat(params["until"])
    created = datetime.fromisoformat(lockout["created_at"].replace("Z", "+00:00"))
    assert 0 < (until - created).total_seconds() <= WINDOW


async def test_other_accounts_and_addresses_are_not_locked_out(log_in: Login) -> None:
    for _ in range(5):
        assert (await log_in("victim@example.com", "guess")).status_code == 401
    assert_throttled(await log_in("victim@example.com", "guess"))
    assert (await log_in(ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200
    assert (await log_in("other@example.com", "guess")).status_code == 401


async def test_a_success_forgets_the_accounts_failures(log_in: Login) -> None:
    for _ in range(4):
        assert (await log_in(ADMIN_EMAIL, "wrong")).status_code == 401
    assert (await log_in(ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200
    for _ in range(4):
        assert (await log_in(ADMIN_EMAIL, "wrong")).status_code == 401
    assert (await log_in(ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200


@pytest.mark.parametrize("setting_overrides", [{"login_failures_per_address": "3 per 15 minutes"}])
async def test_one_address_guessing_across_accounts_is_locked_out(
    log_in: Login, client: httpx.AsyncClient, password_checks: PasswordChecks
) -> None:
    for number in range(3):
        assert (await log_in(f"user{number}@example.com", "guess")).status_code == 401
    assert_throttled(await log_in("user3@example.com", "guess"))
    assert_throttled(await log_in(ADMIN_EMAIL, ADMIN_PASSWORD))  # a right password too
    assert password_checks.count == 3

    # Another address is not locked out, and the account limit did not move.
    other = "198.51.100.9"
    assert (await log_in(ADMIN_EMAIL, ADMIN_PASSWORD, address=other)).status_code == 200

    [lockout] = await lockouts(client)
    params = lockout["params"]
    assert (params["limit"], params["address"], params["failures"]) == (
        "address",
        CLIENT_ADDRESS[0],
        3,
    )
    assert (lockout["entity_type"], lockout["entity_id"]) == ("ip_address", CLIENT_ADDRESS[0])


@pytest.mark.parametrize("setting_overrides", [{"login_failures_per_account": "2 per 1 second"}])
async def test_the_window_frees(log_in: Login, client: httpx.AsyncClient) -> None:
    for _ in range(2):
        assert (await log_in(ADMIN_EMAIL, "wrong")).status_code == 401
    refused = await log_in(ADMIN_EMAIL, ADMIN_PASSWORD)
    assert_throttled(refused, at_most=1)

    await asyncio.sleep(int(refused.headers["retry-after"]) + 0.05)
    assert (await log_in(ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200
    # A new window, a new lock-out, a second record.
    for _ in range(2):
        assert (await log_in(ADMIN_EMAIL, "wrong")).status_code == 401
    assert_throttled(await log_in(ADMIN_EMAIL, ADMIN_PASSWORD), at_most=1)
    assert len(await lockouts(client)) == 2


@pytest.mark.parametrize("setting_overrides", [{"rate_limit_enabled": False}])
async def test_no_throttle_when_rate_limits_are_off(log_in: Login) -> None:
    for _ in range(7):
        assert (await log_in(ADMIN_EMAIL, "wrong")).status_code == 401
    assert (await log_in(ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200
