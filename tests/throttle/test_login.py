"""Login throttling: failed logins per account and per address (an IPv6 one's /64); a slot is
taken before the password is checked, so concurrent guesses do not get past it, a locked-out
login is refused without a check, and each lock-out is recorded once, in fixed words."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from audittrail import clock, throttle
from audittrail.auth import credentials, lockout
from audittrail.config import Settings
from audittrail.log.append import NewRecord
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, CLIENT_ADDRESS
from tests.helpers import RECORDS
from tests.throttle.conftest import Login, PasswordChecks, admin

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

    [record] = await lockouts(client)  # once, however many refusals follow
    assert record["actor"] == "anonymous"
    assert record["summary"] == "Logins refused for an account after repeated failures"
    assert (record["category"], record["severity"]) == ("security", "high")
    assert record["ip_address"] == CLIENT_ADDRESS[0]
    params = record["params"]
    assert (params["limit"], params["account"]) == ("account", email)
    assert (params["failures"], params["window_seconds"]) == (5, WINDOW)
    until = datetime.fromisoformat(params["until"])
    created = datetime.fromisoformat(record["created_at"].replace("Z", "+00:00"))
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

    [record] = await lockouts(client)
    assert record["summary"] == "Logins refused for a client address after repeated failures"
    params = record["params"]
    assert (params["limit"], params["address"], params["failures"]) == (
        "address",
        CLIENT_ADDRESS[0],
        3,
    )
    assert (record["entity_type"], record["entity_id"]) == ("ip_address", CLIENT_ADDRESS[0])


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
async def test_the_throttle_stays_when_rate_limits_are_off(
    log_in: Login, password_checks: PasswordChecks
) -> None:
    """Rate limiting moved to a gateway keeps the brute-force protection."""
    for _ in range(5):
        assert (await log_in(ADMIN_EMAIL, "wrong")).status_code == 401
    assert_throttled(await log_in(ADMIN_EMAIL, ADMIN_PASSWORD))
    assert password_checks.count == 5


@pytest.mark.parametrize(
    "setting_overrides", [{"login_throttle_enabled": False, "rate_limit": "3/minute"}]
)
async def test_no_throttle_when_the_login_throttle_is_off(app: FastAPI, log_in: Login) -> None:
    for _ in range(7):
        assert (await log_in(ADMIN_EMAIL, "wrong")).status_code == 401
    assert (await log_in(ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200
    async with admin(app) as reader:  # the per-credential limits stay on
        for _ in range(3):
            assert (await reader.get(RECORDS)).status_code == 200
        assert (await reader.get(RECORDS)).status_code == 429


@pytest.fixture
def slow_password_checks(monkeypatch: pytest.MonkeyPatch) -> PasswordChecks:
    """Counts the password checks, each made to take 50 ms: time for every request to arrive
    while the first ones are still being checked."""
    checks = PasswordChecks()
    verify = credentials.verify_password

    async def slow(password_hash: str | None, password: str) -> bool:
        await asyncio.sleep(0.05)
        return await verify(password_hash, password)

    monkeypatch.setattr(credentials, "verify_password", checks.wrap(slow))
    return checks


@pytest.mark.parametrize("email", [ADMIN_EMAIL, "nobody@example.com"], ids=["known", "unknown"])
async def test_concurrent_guesses_reach_the_password_check_at_most_the_limits_times(
    log_in: Login, client: httpx.AsyncClient, slow_password_checks: PasswordChecks, email: str
) -> None:
    responses = await asyncio.gather(*(log_in(email, f"guess {n}") for n in range(30)))
    assert slow_password_checks.count == 5
    assert sorted(response.status_code for response in responses) == [401] * 5 + [429] * 25
    for response in responses:
        if response.status_code == 429:
            assert_throttled(response)
    assert len(await lockouts(client)) == 1
    # The refusals gave their slots back: the account stays at its limit, not past it, and
    # the right password does not get in.
    assert_throttled(await log_in(email, ADMIN_PASSWORD))
    assert slow_password_checks.count == 5


@pytest.mark.parametrize("setting_overrides", [{"login_failures_per_address": "3 per 15 minutes"}])
async def test_successes_and_refusals_use_up_no_ones_budget(log_in: Login) -> None:
    """Only failures count: successes give their address's slot back, and refusals give back
    every slot they took (a locked-out address does not lock out the accounts it tries)."""
    for _ in range(5):
        assert (await log_in(ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200
    for number in range(3):
        assert (await log_in(f"user{number}@example.com", "guess")).status_code == 401
    for _ in range(6):
        assert_throttled(await log_in("victim@example.com", "guess"))
    other = "198.51.100.9"
    for _ in range(3):  # the account's limit is 5: none of it was used by the refusals
        assert (await log_in("victim@example.com", "guess", address=other)).status_code == 401


@pytest.mark.parametrize("setting_overrides", [{"login_failures_per_address": "3 per 15 minutes"}])
async def test_an_ipv6_address_is_counted_by_its_64(
    log_in: Login, client: httpx.AsyncClient, password_checks: PasswordChecks
) -> None:
    rotating = ["2001:db8:0:1::1", "2001:db8:0:1::2", "2001:db8:0:1:ffff:ffff:ffff:ffff"]
    for number, address in enumerate(rotating):
        response = await log_in(f"user{number}@example.com", "guess", address=address)
        assert response.status_code == 401, response.text
    assert_throttled(await log_in("user3@example.com", "guess", address="2001:db8:0:1::abcd"))
    assert_throttled(await log_in(ADMIN_EMAIL, ADMIN_PASSWORD, address="2001:db8:0:1::9"))
    assert password_checks.count == 3
    # The next /64 is someone else's.
    assert (await log_in(ADMIN_EMAIL, ADMIN_PASSWORD, address="2001:db8:0:2::1")).status_code == 200

    [record] = await lockouts(client)
    assert (record["entity_type"], record["entity_id"]) == ("ip_address", "2001:db8:0:1::/64")
    assert (record["params"]["limit"], record["params"]["address"]) == (
        "address",
        "2001:db8:0:1::/64",
    )
    assert record["ip_address"] == rotating[-1]  # the address itself, as every record has it


def test_what_an_address_counts_as() -> None:
    assert lockout.counted_address("203.0.113.7") == "203.0.113.7"
    assert lockout.counted_address("::ffff:203.0.113.7") == "203.0.113.7"
    assert lockout.counted_address("2001:DB8:0:1:2:3:4:5") == "2001:db8:0:1::/64"
    assert lockout.counted_address("fe80::1%eth0") == "fe80::/64"
    assert lockout.counted_address("not an address") == "not an address"


# What a guesser may type: a right-to-left override, markup, a newline.
TYPED = "\u202e<script>alert(1)</script>\nx"
KEPT = "<script>alert(1)</script>x"


async def test_the_lockout_record_keeps_what_was_typed_as_data(
    log_in: Login, client: httpx.AsyncClient
) -> None:
    email = TYPED + "a" * 200 + "@Example.com"
    for _ in range(5):
        assert (await log_in(email, "guess")).status_code == 401
    assert_throttled(await log_in(email, "guess"))
    [record] = await lockouts(client)
    assert record["summary"] == "Logins refused for an account after repeated failures"
    assert (record["actor"], record["entity_id"]) == ("anonymous", None)
    assert record["params"]["account"] == KEPT + "a" * 200 + "@example.com"


Locked = Callable[[str], Awaitable[list[NewRecord]]]


@pytest.fixture
async def locked_out(settings: Settings) -> AsyncIterator[Locked]:
    """The lock-out records of one failure of this typed email, against a limit of one."""
    rate_limits = throttle.RateLimits.start(
        settings.model_copy(update={"login_failures_per_account": "1 per 15 minutes"})
    )

    async def locked_out(email: str) -> list[NewRecord]:
        login_throttle = lockout.LoginThrottle.of(rate_limits, email, CLIENT_ADDRESS[0])
        await login_throttle.take()
        return await login_throttle.failed(None)

    yield locked_out
    rate_limits.close()


async def test_a_long_typed_email_is_cut_as_a_failed_logins_is(
    locked_out: Locked, monkeypatch: pytest.MonkeyPatch
) -> None:
    """400 characters (more than a login takes: 320) with format and control characters; and
    `until` by the project's clock."""
    moment = datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: moment)
    email = TYPED + "b" * (400 - len(TYPED))
    [record] = await locked_out(email)
    assert record.summary == "Logins refused for an account after repeated failures"
    assert record.actor == "anonymous"
    assert record.params["account"] == (KEPT + "b" * 400)[:320]
    until = datetime.fromisoformat(record.params["until"])
    assert moment + timedelta(seconds=WINDOW - 5) < until <= moment + timedelta(seconds=WINDOW)
