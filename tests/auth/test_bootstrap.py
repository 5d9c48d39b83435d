"""The first start on an empty database creates one admin and one API key; later starts none."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from audittrail.access import SCOPES
from audittrail.app import create_app
from audittrail.config import Settings
from tests.auth.conftest import API_KEYS, LOGIN, ME, USERS, security_records
from tests.conftest import make_client

EMAIL = "Root@Example.com"
PASSWORD = "bootstrap password"
KEY = "atk_boot_" + "b" * 40
OTHER_KEY = "atk_other_" + "o" * 40


def bootstrap_environment(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path, key: str = KEY
) -> None:
    for name, value in {
        "DATABASE_URL": database_url,
        "AUTO_MIGRATE": "false",
        "BOOTSTRAP_ADMIN_EMAIL": EMAIL,
        "BOOTSTRAP_ADMIN_PASSWORD": PASSWORD,
        "BOOTSTRAP_API_KEY": key,
        "SECRET_KEY_FILE": str(tmp_path / "secret"),
    }.items():
        monkeypatch.setenv(f"AUDITTRAIL_{name}", value)


async def started(app: FastAPI, *calls: tuple[str, str, dict[str, str]]) -> list[httpx.Response]:
    """Runs the app's lifespan (so its start-up bootstrap) and makes the calls inside it."""
    async with app.router.lifespan_context(app), make_client(app) as client:
        return [
            await client.request(method, path, headers=headers) for method, path, headers in calls
        ]


async def test_the_environment_bootstraps_that_admin_and_that_key_once(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> None:
    bootstrap_environment(monkeypatch, database_url, tmp_path)
    app = create_app()
    async with app.router.lifespan_context(app), make_client(app) as client:
        login = await client.post(LOGIN, json={"email": EMAIL, "password": PASSWORD})
        assert login.status_code == 200, login.text
        me = (await client.get(ME, headers={"Authorization": f"Bearer {KEY}"})).json()
        assert (me["name"], me["roles"], "admin" in me["scopes"]) == ("bootstrap", [], True)
        admin = {"X-API-Key": KEY}
        [user] = (await client.get(USERS, headers=admin)).json()["users"]
        assert (user["email"], user["roles"], user["is_active"]) == (EMAIL.lower(), ["admin"], True)
        [key] = (await client.get(API_KEYS, headers=admin)).json()["api_keys"]
        assert (key["prefix"], key["created_by"]) == (KEY[:12], "system")
        assert key["scopes"] == list(SCOPES)
        client.headers["X-API-Key"] = KEY
        records = await security_records(client, event_types="user.created,api_key.created")
        assert [(r["event_type"], r["actor"], r["entity_id"]) for r in records] == [
            ("user.created", "system", user["id"]),
            ("api_key.created", "system", key["id"]),
        ]

    # A second start, even with another key configured, finds a user and creates nothing.
    bootstrap_environment(monkeypatch, database_url, tmp_path, key=OTHER_KEY)
    other, users, keys = await started(
        create_app(),
        ("GET", ME, {"X-API-Key": OTHER_KEY}),
        ("GET", USERS, {"X-API-Key": KEY}),
        ("GET", API_KEYS, {"X-API-Key": KEY}),
    )
    assert other.status_code == 401
    assert users.json()["total"] == 1
    assert keys.json()["total"] == 1


async def test_a_second_start_on_the_same_database_adds_no_user(
    app: FastAPI, settings: Settings, client: httpx.AsyncClient
) -> None:
    second = create_app(settings)
    async with second.router.lifespan_context(second):
        pass
    assert (await client.get(USERS)).json()["total"] == 1
    assert (await client.get(API_KEYS)).json()["total"] == 1
    records = await security_records(client)
    assert [r["event_type"] for r in records] == ["user.created", "api_key.created"]


def shown_credentials(shown: str, log_format: str) -> tuple[str, str]:
    """The admin's password and API key, as the first start printed them."""
    if log_format == "json":  # one JSON line, like every other line of JSON logs
        (line,) = [json.loads(text) for text in shown.splitlines()]
        assert (line["event"], line["email"]) == (
            "admin user created; shown once, store them now",
            "admin@localhost",
        )
        return line["password"], line["api_key"]
    assert "created admin user admin@localhost" in shown
    password = re.search(r"password: (\S+)", shown)
    key = re.search(r"API key:\s+(\S+)", shown)
    assert password is not None and key is not None
    return password[1], key[1]


@pytest.mark.parametrize("log_format", ["console", "json"])
async def test_without_bootstrap_values_the_credentials_are_generated_and_shown_once(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], log_format: str
) -> None:
    settings = Settings(
        database_url=database_url,
        auto_migrate=False,
        secret_key_file=tmp_path / "secret",
        log_format=log_format,
    )
    first = create_app(settings)
    async with first.router.lifespan_context(first):
        pass
    password, key = shown_credentials(capsys.readouterr().err, log_format)
    assert key.startswith("atk_") and len(password) >= 16

    second = create_app(settings)
    async with second.router.lifespan_context(second), make_client(second) as client:
        assert capsys.readouterr().err == ""  # shown once only
        me = await client.get(ME, headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 200
        assert me.json()["actor"] == "api_key:bootstrap"
        login = await client.post(LOGIN, json={"email": "admin@localhost", "password": password})
        assert login.status_code == 200, login.text
