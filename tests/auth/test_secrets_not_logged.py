"""Secrets are shown once and logged never: a day's work with keys and passwords, with every log
the service writes captured (structlog's stderr, and the logging module's records, SQLAlchemy's
statements and their parameters included), holds none of them."""

from __future__ import annotations

import logging

import pytest

from audittrail.app import create_app
from audittrail.config import Settings
from tests.auth.conftest import API_KEYS, LOGIN, SAME_ORIGIN, SESSION_COOKIE, USERS
from tests.conftest import ADMIN_EMAIL, ADMIN_KEY, ADMIN_PASSWORD, make_client
from tests.helpers import RECORDS

FIRST_PASSWORD = "quiet harbour lantern"
SECOND_PASSWORD = "brisk meadow falcon"
WEAK_PASSWORD = "password1234"
WRONG_PASSWORD = "a mistyped passphrase"


async def test_no_secret_reaches_the_logs(
    settings: Settings, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # statements and parameters
    app = create_app(settings)  # configures structlog now, onto the captured stderr
    secrets = [ADMIN_KEY, ADMIN_PASSWORD, FIRST_PASSWORD, SECOND_PASSWORD, WEAK_PASSWORD]
    secrets.append(WRONG_PASSWORD)
    shown = []  # every response body, but the one each secret is handed out in
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with (
        app.router.lifespan_context(app),
        make_client(app, admin) as client,
        make_client(app) as browser,
    ):
        # An admin creates a service's key and a user; the service writes records with it.
        created = await client.post(API_KEYS, json={"name": "billing"})
        key = created.json()["key"]
        secrets.append(key)
        user = {"email": "wes@example.com", "password": FIRST_PASSWORD, "roles": ["writer"]}
        shown.append((await client.post(USERS, json=user)).text)
        weak = await client.post(
            USERS, json={**user, "email": "x@example.com", "password": WEAK_PASSWORD}
        )
        assert weak.status_code == 422
        shown.append(weak.text)
        for _ in range(2):
            posted = await browser.post(
                RECORDS,
                json={"event_type": "invoice.paid", "summary": "Paid"},
                headers={"X-API-Key": key},
            )
            assert posted.status_code == 201
            shown.append(posted.text)

        # The key is rotated; both secrets work through the grace period.
        rotated = await client.post(f"{API_KEYS}/{created.json()['id']}/rotate")
        new_key = rotated.json()["key"]
        secrets.append(new_key)
        for secret in (key, new_key):
            posted = await browser.post(
                f"{RECORDS}/batch",
                json=[{"event_type": "x", "summary": "y"}],
                headers={"X-API-Key": secret},
            )
            assert posted.status_code == 201
            shown.append(posted.text)

        # The user signs in (once with a typo), changes their password, signs out.
        failed = await browser.post(
            LOGIN, json={"email": "wes@example.com", "password": WRONG_PASSWORD}
        )
        assert failed.status_code == 401
        shown.append(failed.text)
        login = await browser.post(
            LOGIN, json={"email": "wes@example.com", "password": FIRST_PASSWORD}
        )
        assert login.status_code == 200
        secrets += [login.json()["access_token"], login.cookies[SESSION_COOKIE]]
        change = {"current_password": FIRST_PASSWORD, "new_password": SECOND_PASSWORD}
        changed = await browser.post("/api/auth/password", json=change, headers=SAME_ORIGIN)
        assert changed.status_code == 204
        admin_login = await browser.post(
            LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        secrets += [admin_login.json()["access_token"], admin_login.cookies[SESSION_COOKIE]]
        assert (await browser.post("/api/auth/logout", headers=SAME_ORIGIN)).status_code == 204

        for path in (API_KEYS, USERS, RECORDS, f"{API_KEYS}/{created.json()['id']}"):
            shown.append((await client.get(path, params={"page_size": 200})).text)

    out, err = capfd.readouterr()
    logged = "\n".join([out, err, caplog.text])
    assert "INSERT INTO" in logged  # the statements were logged, with their parameters
    for secret in secrets:
        assert secret not in logged
        assert not any(secret in text for text in shown)
