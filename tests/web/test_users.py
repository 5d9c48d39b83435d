"""The users page: a user created through it, their roles changed, disabled and enabled again,
each checked through the API and by signing in; a reader cannot reach the page."""

from __future__ import annotations

import uuid
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


def user_with(site: Site, email: str) -> dict[str, Any]:
    with site.api() as api:
        listed = api.get("/api/users", params={"page_size": 200}).json()["users"]
    [user] = [u for u in listed if u["email"] == email]
    return user


def login_status(site: Site, email: str) -> int:
    body = {"email": email, "password": PEOPLE_PASSWORD}
    return httpx.post(f"{site.url}/api/auth/login", json=body, timeout=10).status_code


def test_create_a_user_change_roles_and_disable(admin: Page, site: Site) -> None:
    email = f"ui-{uuid.uuid4().hex[:8]}@example.com"
    admin.on("dialog", lambda dialog: dialog.accept())
    admin.goto("/users")
    admin.fill("#user-email", email)
    admin.fill("#user-password", "password1234")
    admin.get_by_role("button", name="Create user").click()
    expect(admin.locator("#user-password-error")).not_to_be_empty()
    expect(admin.locator("#user-password")).to_have_attribute("aria-invalid", "true")

    admin.fill("#user-password", PEOPLE_PASSWORD)
    new_user = admin.get_by_role("region", name="New user")
    new_user.get_by_label("reader").uncheck()
    new_user.get_by_label("auditor").check()
    admin.get_by_role("button", name="Create user").click()
    row = admin.locator(f"table.users tr[data-user='{email}']")
    expect(row.get_by_label("auditor")).to_be_checked()
    expect(row.get_by_label("reader")).not_to_be_checked()
    assert user_with(site, email)["roles"] == ["auditor"]
    assert login_status(site, email) == 200

    row.get_by_label("writer").check()
    with admin.expect_navigation():  # the page reloads once the API has answered
        row.get_by_role("button", name=f"Save roles of {email}").click()
    expect(row.get_by_label("writer")).to_be_checked()  # as the reloaded page shows it
    assert user_with(site, email)["roles"] == ["auditor", "writer"]

    row.get_by_label("auditor").uncheck()
    row.get_by_label("writer").uncheck()
    row.get_by_role("button", name=f"Save roles of {email}").click()
    expect(row.locator("[data-field-error=roles]")).not_to_be_empty()

    row.get_by_role("button", name=f"Disable {email}").click()
    expect(row.locator(".badge")).to_have_text("disabled")
    assert user_with(site, email)["is_active"] is False
    assert login_status(site, email) == 401

    row.get_by_role("button", name=f"Enable {email}").click()
    expect(row.locator(".badge")).to_have_text("active")
    assert login_status(site, email) == 200
    check_accessible(admin)
    screenshots(admin, site, "users")


def test_no_disabling_oneself(admin: Page) -> None:
    admin.goto("/users")
    own = admin.locator("table.users tr", has_text="(you)")
    expect(own).to_have_count(1)
    expect(own.get_by_role("button", name="Disable")).to_have_count(0)


def test_a_reader_cannot_reach_the_page(context: BrowserContext, site: Site) -> None:
    sign_in(context, site, READER_EMAIL, PEOPLE_PASSWORD)
    page = context.new_page()
    response = page.goto("/users")
    assert response is not None and response.status == 403
    expect(page.locator("table.users")).to_have_count(0)
    page.goto("/applications")
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Users")
    ).to_have_count(0)
