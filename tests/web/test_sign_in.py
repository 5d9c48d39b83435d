"""Signing in and out through the pages, and where a page sends someone who is not signed in."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.web.support import Site, check_accessible, screenshots


def sign_in_with_form(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_page_asks_for_sign_in_and_returns_to_it(page: Page, site: Site) -> None:
    page.goto("/records?severities=high")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Frecords%3Fseverities%3Dhigh$"))
    check_accessible(page)
    screenshots(page, site, "sign-in")
    sign_in_with_form(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    expect(page).to_have_url(re.compile(r"/records\?severities=high$"))
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Users")
    expect(page.get_by_text(ADMIN_EMAIL, exact=True)).to_be_visible()


def test_a_wrong_password_is_said_on_the_form(page: Page, site: Site) -> None:
    page.goto("/login")
    sign_in_with_form(page, ADMIN_EMAIL, "not the password at all")
    expect(page.get_by_role("alert")).to_have_text("Email or password is wrong.")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/records")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_sign_in_never_sends_anyone_to_another_site(page: Page, site: Site) -> None:
    for target in (
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "%2F%09%2Fevil.example%2F",  # a tab, which the browser drops: "//evil.example/"
        "%2F%0A%2Fevil.example%2F",
        "%2F%0D%2Fevil.example%2F",
        "javascript:alert(1)",
    ):
        page.context.clear_cookies()
        page.goto(f"/login?next={target}")
        sign_in_with_form(page, ADMIN_EMAIL, ADMIN_PASSWORD)
        expect(page).to_have_url(f"{site.url}/")


def test_sign_out_ends_the_session(page: Page, site: Site) -> None:
    page.goto("/login?next=/records")
    sign_in_with_form(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    expect(page).to_have_url(re.compile(r"/records$"))
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/records")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Frecords$"))
