"""Pages follow roles and scopes, and a forged form post from another origin changes nothing."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.crash.support import free_port
from tests.web.support import (
    AUDITOR_EMAIL,
    PEOPLE_PASSWORD,
    READER_EMAIL,
    Site,
    check_accessible,
    sign_in,
    sign_in_as_admin,
)

PAGES = ("/", "/records", "/stats", "/analytics", "/applications", "/api-keys", "/users")
ADMIN_PAGES = ("/api-keys", "/users")


@pytest.mark.parametrize("path", PAGES)
def test_every_page_asks_a_stranger_to_sign_in(page: Page, site: Site, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.ok
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_reader_sees_no_admin_pages_nor_links(context: BrowserContext, site: Site) -> None:
    sign_in(context, site, READER_EMAIL, PEOPLE_PASSWORD)
    page = context.new_page()
    page.goto("/records")
    navigation = page.get_by_role("navigation", name="Main")
    expect(navigation.get_by_role("link", name="Records")).to_be_visible()
    for label in ("API keys", "Users"):
        expect(navigation.get_by_role("link", name=label)).to_have_count(0)
    expect(page.get_by_role("link", name="Evidence pack")).to_have_count(0)  # no export scope
    for path in ADMIN_PAGES:
        response = page.goto(path)
        assert response is not None and response.status == 403
        expect(page.get_by_role("heading", level=1)).to_have_text("This needs the scope admin.")
        expect(page.locator("main")).to_contain_text("FORBIDDEN")
    check_accessible(page)


def test_an_auditor_may_export_but_not_administer(context: BrowserContext, site: Site) -> None:
    sign_in(context, site, AUDITOR_EMAIL, PEOPLE_PASSWORD)
    page = context.new_page()
    page.goto("/records")
    expect(page.get_by_role("link", name="Evidence pack")).to_be_visible()
    navigation = page.get_by_role("navigation", name="Main")
    expect(navigation.get_by_role("link", name="Applications")).to_have_count(0)
    expect(navigation.get_by_role("link", name="Users")).to_have_count(0)


def forge(context: BrowserContext, site: Site, form: str) -> Page:
    """A page of another origin of the same site (another port of this host: the browser sends
    the Lax session cookie along), which posts the form to the server as soon as it loads."""
    elsewhere = f"http://127.0.0.1:{free_port()}/prize"
    submit = "<script>document.forms[0].submit()</script>"
    html = f"<!doctype html><title>You won</title><body>{form}{submit}"
    context.route(elsewhere, lambda route: route.fulfill(content_type="text/html", body=html))
    page = context.new_page()
    page.goto(elsewhere)
    return page


def test_a_forged_form_post_is_refused_and_changes_nothing(
    context: BrowserContext, site: Site
) -> None:
    sign_in_as_admin(context, site)
    with site.api() as api:
        created = api.post("/api/api-keys", json={"name": f"csrf-{uuid.uuid4().hex[:8]}"})
        assert created.status_code == 201, created.text
    key = created.json()
    rotate = f"{site.url}/api/api-keys/{key['id']}/rotate"
    page = forge(context, site, f'<form method="post" action="{rotate}"></form>')
    expect(page.locator("body")).to_contain_text("CSRF_REJECTED")
    assert page.locator("body").inner_text().strip() == (
        '{"error":{"code":"CSRF_REJECTED","message":"A change made with the session cookie '
        "must come from this site's own pages.\"}}"
    )
    with site.api() as api:
        still = api.get(
            "/api/audit-trail/records", headers={"Authorization": f"Bearer {key['key']}"}
        )
        assert still.status_code == 403  # the old secret still works (a 403 for scopes, not 401)
        rotated = api.get(
            "/api/audit-trail/records",
            params={"event_types": "api_key.rotated", "entity_id": key["id"]},
        )
        assert rotated.json()["total"] == 0
    # The session the forged post rode on is still signed in.
    own = context.new_page()
    own.goto("/records")
    expect(own).to_have_url(re.compile(r"/records$"))


def test_a_forged_form_cannot_create_an_application(context: BrowserContext, site: Site) -> None:
    sign_in_as_admin(context, site)
    key = f"forged{uuid.uuid4().hex[:8]}"
    form = (
        f'<form method="post" action="{site.url}/api/audit-trail/applications" '
        f'enctype="text/plain"><input name=\'{{"key": "{key}", "name": "x", "y": "\' value=\'"}}\'>'
        "</form>"
    )
    page = forge(context, site, form)
    # Refused before it is even read: the API takes JSON only, which no form can send.
    expect(page.locator("body")).to_have_text(
        '{"error":{"code":"UNSUPPORTED_MEDIA_TYPE","message":"The request body must be '
        'application/json."}}'
    )
    with site.api() as api:
        assert api.get(f"/api/audit-trail/applications/{key}").status_code == 404
