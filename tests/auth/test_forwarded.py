"""A record's ip_address: the peer, or the forwarded client when the peer is a trusted proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from audittrail.app import create_app
from audittrail.config import Settings
from tests.auth.conftest import LOGIN, security_records
from tests.conftest import ADMIN_EMAIL, ADMIN_KEY, ADMIN_PASSWORD, CLIENT_ADDRESS, make_client
from tests.helpers import RECORDS

PEER = CLIENT_ADDRESS[0]


@pytest.fixture
async def behind_proxy(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The admin key's client of an app that trusts the test peer (and 10.0.0.0/8) as proxies."""
    fields = {name: getattr(settings, name) for name in type(settings).model_fields}
    trusting = Settings(**{**fields, "trusted_proxies": [PEER, "10.0.0.0/8"]})
    app = create_app(trusting)
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with app.router.lifespan_context(app), make_client(app, admin) as client:
        yield client


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("198.51.100.23", "198.51.100.23"),
        ("192.0.2.1, 198.51.100.23", "198.51.100.23"),  # the nearest untrusted hop
        ("198.51.100.23, 10.1.2.3", "198.51.100.23"),  # through a second trusted proxy
        ("2001:db8::1", "2001:db8::1"),
        ("not-an-address", PEER),
        (None, PEER),
    ],
)
async def test_a_trusted_proxy_forwards_the_client_address(
    behind_proxy: httpx.AsyncClient, forwarded: str | None, expected: str
) -> None:
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    response = await behind_proxy.post(
        RECORDS, json={"event_type": "x", "summary": "y"}, headers=headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["ip_address"] == expected


async def test_a_login_behind_a_trusted_proxy_records_the_client(
    behind_proxy: httpx.AsyncClient,
) -> None:
    response = await behind_proxy.post(
        LOGIN,
        json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.99"},
    )
    assert response.status_code == 200
    [login] = await security_records(behind_proxy, event_types="auth.login")
    assert login["ip_address"] == "198.51.100.99"


async def test_without_trusted_proxies_the_header_is_ignored(client: httpx.AsyncClient) -> None:
    response = await client.post(
        LOGIN,
        json={"email": ADMIN_EMAIL, "password": "wrong password"},
        headers={"X-Forwarded-For": "198.51.100.99"},
    )
    assert response.status_code == 401
    [failed] = await security_records(client, event_types="auth.login_failed")
    assert failed["ip_address"] == PEER
