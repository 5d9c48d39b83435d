"""The dashboard: in a real browser over the seeded records, and (the red state, which needs a
database changed behind the log's back) over an app of its own."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import BrowserContext, Page, expect

from tests.web.support import (
    PEOPLE_PASSWORD,
    Site,
    check_accessible,
    check_accessible_narrow,
    covered_by_checkpoint,
    screenshots,
    sign_in,
)

API_KEYS = "/api/api-keys"


def test_dashboard_shows_counts_the_checkpoint_and_the_verified_records(
    admin: Page, site: Site
) -> None:
    size = covered_by_checkpoint(site)
    admin.goto("/")
    expect(admin.locator("[data-verification=verified]")).to_have_text(
        re.compile(r"20 of 20 newest records verified against the checkpoint of size [\d,]+\.")
    )
    assert int(admin.locator("[data-tree-size]").inner_text().replace(",", "")) >= size
    expect(admin.get_by_text("Root hash")).to_be_visible()
    expect(admin.get_by_text("await the next checkpoint")).to_have_count(0)
    days = admin.get_by_role("group", name="Records per day over the last 30 days")
    expect(days.locator("a").last).to_have_attribute("href", re.compile(r"^/records\?date_from="))
    severities = admin.get_by_role("table", name="Records per severity, last 30 days")
    expect(severities.locator("tbody tr")).to_have_count(5)
    applications = admin.get_by_role("table", name="Records per application, last 30 days")
    expect(applications.get_by_role("link", name="billing")).to_have_attribute(
        "href", re.compile(f"application_id={site.applications['billing']['id']}")
    )
    check_accessible(admin)
    screenshots(admin, site, "dashboard")
    check_accessible_narrow(admin)


def test_a_severity_opens_its_records(admin: Page) -> None:
    admin.goto("/")
    severities = admin.get_by_role("table", name="Records per severity, last 30 days")
    severities.get_by_role("link", name="high").click()
    expect(admin).to_have_url(re.compile(r"/records\?date_from=.*&severities=high"))
    shown = admin.locator("table.records tbody tr td:nth-child(2)")
    expect(shown.first).to_have_text("high")
    assert set(shown.all_inner_texts()) == {"high"}


def test_a_writer_is_welcomed(context: BrowserContext, site: Site) -> None:
    email = f"writer-{uuid.uuid4().hex[:8]}@example.com"
    with site.api() as api:
        body = {"email": email, "password": PEOPLE_PASSWORD, "roles": ["writer"]}
        assert api.post("/api/users", json=body).status_code == 201
    sign_in(context, site, email, PEOPLE_PASSWORD)
    page = context.new_page()
    page.goto("/")
    expect(page.get_by_text(f"Welcome, {email}.")).to_be_visible()
    expect(page.locator("svg.chart, [data-verification]")).to_have_count(0)
    check_accessible(page)
