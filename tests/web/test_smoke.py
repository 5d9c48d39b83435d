from playwright.sync_api import Page, expect

from tests.web.support import Site


def test_records_page_lists(admin: Page, site: Site) -> None:
    admin.goto("/records")
    expect(admin.locator("table.records tbody tr")).not_to_have_count(0)
    admin.screenshot(path="/tmp/records.png", full_page=True)
