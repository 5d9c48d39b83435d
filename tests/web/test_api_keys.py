"""The API keys page: a key created, rotated and revoked through it works, and then does not, when
called with its secret; the secret is shown once; a reader cannot reach the page."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.web.support import (
    PEOPLE_PASSWORD,
    READER_EMAIL,
    Site,
    check_accessible,
    screenshots,
    sign_in,
)

KEYS = "/api/api-keys"


def me_status(site: Site, secret: str) -> int:
    """What the API answers this secret."""
    response = httpx.get(
        f"{site.url}/api/auth/me", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    return response.status_code


def key_named(site: Site, name: str) -> dict[str, Any]:
    with site.api() as api:
        listed = api.get(KEYS, params={"page_size": 200}).json()["api_keys"]
    [api_key] = [k for k in listed if k["name"] == name]
    return api_key


def shown_secret(page: Page, name: str) -> str:
    panel = page.locator("[data-secret-panel]")
    expect(panel).to_be_visible()
    expect(panel.get_by_role("heading")).to_have_text(f"The secret of {name}")
    expect(panel.get_by_role("heading")).to_be_focused()
    secret = page.input_value("#new-secret")
    assert secret
    return secret


def key_row(page: Page, name: str) -> Any:
    return page.locator(f"table.api-keys tr[data-key-name='{name}']")


def test_create_rotate_and_revoke_a_key(admin: Page, site: Site) -> None:
    name = f"ui-key-{uuid.uuid4().hex[:8]}"
    admin.on("dialog", lambda dialog: dialog.accept())
    admin.goto("/api-keys")
    expect(admin.locator("[data-secret-panel]")).to_be_hidden()
    check_accessible(admin)
    screenshots(admin, site, "api-keys")

    admin.fill("#key-name", name)
    admin.get_by_role("button", name="Create key").click()
    secret = shown_secret(admin, name)
    admin.context.grant_permissions(["clipboard-read", "clipboard-write"])
    admin.locator("[data-secret-panel]").get_by_role("button", name="Copy").click()
    expect(admin.locator("[data-secret-panel]").get_by_role("button")).to_have_text("Copied")
    assert admin.evaluate("navigator.clipboard.readText()") == secret
    check_accessible(admin)
    screenshots(admin, site, "api-key-secret")
    assert me_status(site, secret) == 200
    created = key_named(site, name)
    assert created["scopes"] == ["records:write", "applications:read"]
    assert created["applications"] is None

    admin.goto("/api-keys")  # the list, with the key; the secret is nowhere on it
    row = key_row(admin, name)
    expect(row.locator("td").nth(0)).to_have_text(f"{created['prefix']}…")
    expect(admin.locator("[data-secret-panel]")).to_be_hidden()
    assert secret not in admin.content()
    wait_for_last_use(site, name)
    admin.reload()
    expect(row.locator("td").nth(4)).not_to_have_text("never")

    row.get_by_label("Old secret works").select_option("0")
    row.get_by_role("button", name=f"Rotate {name}").click()
    rotated = shown_secret(admin, name)
    assert rotated != secret
    assert me_status(site, rotated) == 200
    assert me_status(site, secret) == 401

    admin.goto("/api-keys")
    row.get_by_role("button", name=f"Revoke {name}").click()
    expect(row.locator(".badge")).to_have_text("revoked")
    expect(row.get_by_role("button")).to_have_count(0)
    assert me_status(site, rotated) == 401


def wait_for_last_use(site: Site, name: str) -> None:
    """The server notes a key's use after its response: a moment later."""
    deadline = time.monotonic() + 30
    while key_named(site, name)["last_used_at"] is None:
        assert time.monotonic() < deadline, "the key's use was not noted"
        time.sleep(0.1)


def test_a_key_bound_to_an_application_with_an_expiry(admin: Page, site: Site) -> None:
    name = f"ui-bound-{uuid.uuid4().hex[:8]}"
    admin.goto("/api-keys")
    admin.fill("#key-name", name)
    admin.get_by_label("Billing (billing)", exact=True).check()
    admin.get_by_label("admin", exact=True).check()
    admin.fill("#key-expires_at", "2001-01-01T00:00")
    admin.get_by_role("button", name="Create key").click()
    expect(admin.locator("#key-expires_at-error")).to_have_text("must be in the future.")
    expect(admin.locator("#key-expires_at")).to_have_attribute("aria-invalid", "true")

    expires = (datetime.now(UTC) + timedelta(days=30)).replace(second=0, microsecond=0)
    local = admin.evaluate(
        "iso => { const d = new Date(iso); d.setMinutes(d.getMinutes() - d.getTimezoneOffset());"
        " return d.toISOString().slice(0, 16); }",
        expires.isoformat(),
    )
    admin.fill("#key-expires_at", local)
    admin.get_by_role("button", name="Create key").click()
    expect(admin.locator("#key-scopes-error")).to_contain_text("reach beyond applications")
    expect(admin.locator("#key-expires_at-error")).to_have_text("")
    expect(admin.locator("[data-secret-panel]")).to_be_hidden()

    admin.get_by_label("admin", exact=True).uncheck()
    admin.get_by_role("button", name="Create key").click()
    shown_secret(admin, name)
    created = key_named(site, name)
    assert [ref["key"] for ref in created["applications"]] == ["billing"]
    assert datetime.fromisoformat(created["expires_at"]) == expires

    admin.goto("/api-keys")
    expect(key_row(admin, name).locator("td").nth(2)).to_have_text("billing")


def test_a_reader_cannot_reach_the_page(context: BrowserContext, site: Site) -> None:
    sign_in(context, site, READER_EMAIL, PEOPLE_PASSWORD)
    page = context.new_page()
    page.goto("/records")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Records")).to_be_visible()
    expect(nav.get_by_role("link", name="API keys")).to_have_count(0)
    expect(nav.get_by_role("link", name="Users")).to_have_count(0)
    response = page.goto("/api-keys")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_contain_text("admin")
    expect(page.locator("table.api-keys")).to_have_count(0)
