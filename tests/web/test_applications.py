"""The applications pages: the list, a new application with params, one application's params and
the forms that change them, each checked through the API; what a reader is not shown."""

from __future__ import annotations

import uuid

from playwright.sync_api import BrowserContext, Page, expect

from tests.helpers import APPLICATIONS
from tests.web.support import (
    PEOPLE_PASSWORD,
    READER_EMAIL,
    Site,
    check_accessible,
    screenshots,
    sign_in,
)


def unique_key() -> str:
    return f"ui_{uuid.uuid4().hex[:10]}"


def fill_param_row(page: Page, index: int, key: str, param_type: str) -> None:
    page.fill(f"#params-{index}-key", key)
    page.select_option(f"#params-{index}-type", param_type)


def test_list_shows_chips_and_param_counts(admin: Page, site: Site) -> None:
    admin.goto("/applications")
    expect(admin.get_by_role("heading", level=1)).to_have_text("Applications")
    billing = admin.locator("table.applications tr", has_text="Invoices, refunds")
    expect(billing.locator(".chip")).to_have_text("billing")
    expect(billing.locator("circle")).to_have_attribute("fill", "#16a34a")
    expect(billing.locator("td.number")).to_have_text("3")
    expect(admin.get_by_role("link", name="New application")).to_be_visible()
    check_accessible(admin)
    screenshots(admin, site, "applications")


def test_create_an_application_with_params(admin: Page, site: Site) -> None:
    key = unique_key()
    admin.goto("/applications/new")
    check_accessible(admin)
    screenshots(admin, site, "application-new")
    admin.fill("#app-key", key)
    admin.fill("#app-name", f"Shop {key}")
    admin.fill("#app-description", "Orders and payments.")
    admin.fill("#app-accent_color", "#c2410c")
    fill_param_row(admin, 0, "amount", "number")
    admin.fill("#params-0-label", "Amount")
    admin.check("#params-0-required")
    expect(admin.locator("#params-0-enum_values")).to_be_hidden()
    admin.get_by_role("button", name="Add another param").click()
    fill_param_row(admin, 1, "method", "enum")
    admin.fill("#params-1-enum_values", "card, cash")
    admin.check("#params-1-sensitive")
    admin.get_by_role("button", name="Create application").click()

    admin.wait_for_url(f"**/applications/{key}")
    expect(admin.get_by_role("heading", level=1)).to_have_text(f"Shop {key}")
    amount = admin.locator("table.param-definitions tr", has=admin.locator("th", has_text="amount"))
    expect(amount.locator("td:not(.actions-cell)")).to_have_text(
        ["Amount", "number", "yes", "no", "", ""]
    )
    method = admin.locator("table.param-definitions tr", has=admin.locator("th", has_text="method"))
    expect(method.locator("td").nth(4)).to_have_text("card, cash")
    with site.api() as api:
        application = api.get(f"{APPLICATIONS}/{key}").json()
        params = api.get(f"{APPLICATIONS}/{key}/params").json()["params"]
    assert application["accent_color"] == "#c2410c"
    assert application["description"] == "Orders and payments."
    assert [(p["key"], p["type"], p["required"], p["sensitive"]) for p in params] == [
        ("amount", "number", True, False),
        ("method", "enum", False, True),
    ]
    assert params[1]["enum_values"] == ["card", "cash"]
    check_accessible(admin)
    screenshots(admin, site, "application")


def test_the_api_s_problems_show_next_to_their_fields(admin: Page, site: Site) -> None:
    key = unique_key()
    admin.goto("/applications/new")
    admin.fill("#app-key", "Not A Key")
    admin.fill("#app-name", "Broken")
    fill_param_row(admin, 0, "amount", "number")
    admin.get_by_role("button", name="Add another param").click()
    fill_param_row(admin, 1, "amount", "string")
    admin.get_by_role("button", name="Create application").click()
    expect(admin.locator("#app-key-error")).to_contain_text("pattern")
    expect(admin.locator("#app-key")).to_have_attribute("aria-invalid", "true")
    expect(admin.locator("[data-form-error]")).to_be_visible()

    admin.fill("#app-key", key)
    admin.get_by_role("button", name="Create application").click()
    expect(admin.locator("#params-1-key-error")).to_have_text("repeats a key.")
    expect(admin.locator("#params-1-key")).to_have_attribute("aria-invalid", "true")
    expect(admin.locator("#app-key-error")).to_have_text("")
    assert admin.url.endswith("/applications/new")
    with site.api() as api:
        assert api.get(f"{APPLICATIONS}/{key}").status_code == 404


def test_a_removed_row_renumbers_the_rest(admin: Page) -> None:
    admin.goto("/applications/new")
    admin.get_by_role("button", name="Add another param").click()
    fill_param_row(admin, 1, "second", "string")
    admin.locator("[data-param]").first.get_by_role("button", name="Remove this param").click()
    expect(admin.locator("[data-param]")).to_have_count(1)
    expect(admin.locator("#params-0-key")).to_have_value("second")
    expect(admin.locator("[data-param] legend")).to_have_text("Param 1")


def test_edit_an_application_and_its_params(admin: Page, site: Site) -> None:
    key = unique_key()
    with site.api() as api:
        body = {"key": key, "name": "Before", "params": [{"key": "old", "type": "string"}]}
        assert api.post(APPLICATIONS, json=body).status_code == 201
    admin.on("dialog", lambda dialog: dialog.accept())
    admin.goto(f"/applications/{key}")

    admin.fill("#new-param-key", "region")
    admin.select_option("#new-param-type", "enum")
    admin.fill("#new-param-enum_values", "eu, us")
    admin.get_by_role("button", name="Add param").click()
    expect(admin.locator("table.param-definitions th", has_text="region")).to_be_visible()

    admin.fill("#new-param-key", "region")
    admin.get_by_role("button", name="Add param").click()
    expect(admin.locator("[data-param] [data-form-error]")).to_contain_text("already has a param")

    admin.fill("#app-name", "After")
    admin.uncheck("input[name=allow_unknown_params]")
    admin.get_by_role("button", name="Save", exact=True).click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("After")

    admin.get_by_text("Edit old").click()
    admin.fill("#edit-old-label", "Old value")
    admin.get_by_role("button", name="Save old").click()
    old = admin.locator("table.param-definitions tr", has=admin.locator("th", has_text="old"))
    expect(old.locator("td").first).to_have_text("Old value")
    admin.get_by_role("button", name="Remove old").click()
    expect(old).to_have_count(0)

    with site.api() as api:
        application = api.get(f"{APPLICATIONS}/{key}").json()
        params = api.get(f"{APPLICATIONS}/{key}/params").json()["params"]
    assert (application["name"], application["allow_unknown_params"]) == ("After", False)
    assert [(p["key"], p["enum_values"]) for p in params] == [("region", ["eu", "us"])]


def test_a_reader_sees_the_params_and_no_forms(context: BrowserContext, site: Site) -> None:
    sign_in(context, site, READER_EMAIL, PEOPLE_PASSWORD)
    page = context.new_page()
    page.goto("/applications")
    expect(page.locator("table.applications .chip", has_text="billing")).to_be_visible()
    expect(page.get_by_role("link", name="New application")).to_have_count(0)
    page.goto("/applications/billing")
    expect(page.locator("table.param-definitions th", has_text="card_last4")).to_be_visible()
    expect(page.locator("form[data-api]")).to_have_count(0)
    expect(page.get_by_role("heading", name="Add a param")).to_have_count(0)
    response = page.goto("/applications/new")
    assert response is not None and response.status == 403
