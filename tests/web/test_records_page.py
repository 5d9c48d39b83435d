"""The records page: filters in the URL, search, load more, live tail, export of the view."""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

from tests.web.support import Site, check_accessible, screenshots

ROWS = "table.records tbody tr"


def query_of(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_the_records_page_shows_the_newest_records(admin: Page, site: Site) -> None:
    admin.goto("/records")
    newest = site.post_record(summary=f"Newest of all {uuid.uuid4()}", severity="high")
    admin.reload()
    first = admin.locator(ROWS).first
    expect(first).to_contain_text(newest["summary"])
    expect(first.locator(".badge")).to_have_text("high")
    expect(first.locator("time")).to_have_attribute("datetime", re.compile(r"Z$"))
    check_accessible(admin)
    screenshots(admin, site, "records")


def test_filter_by_severity_and_application(admin: Page, site: Site) -> None:
    admin.goto("/records")
    admin.get_by_label("critical").check()
    admin.get_by_label("Application").select_option(label="Billing (billing)")
    admin.get_by_role("button", name="Apply").click()
    expect(admin).to_have_url(re.compile(r"severities=critical"))
    query = query_of(admin)
    assert query["severities"] == ["critical"]
    assert query["application_id"] == [site.applications["billing"]["id"]]
    rows = admin.locator(ROWS)
    expect(rows.first).to_be_visible()
    expected = [
        r for r in site.records if r["severity"] == "critical" and r["application_key"] == "billing"
    ]
    expect(rows).to_have_count(len(expected))
    expect(admin.locator("[data-total]")).to_have_text(str(len(expected)))  # counted by the API
    for row in rows.all():
        expect(row.locator(".badge")).to_have_text("critical")
        expect(row.locator(".chip")).to_have_text("billing")
    # The URL is the view: opened again, the form shows the same filters.
    admin.goto(admin.url)
    expect(admin.get_by_label("critical")).to_be_checked()
    expect(admin.get_by_label("high")).not_to_be_checked()


def test_search_with_the_search_syntax(admin: Page, site: Site) -> None:
    admin.goto("/records")
    admin.get_by_label("Search").fill("INV-1003")
    admin.get_by_label("Search").press("Enter")
    expect(admin).to_have_url(re.compile(r"search=INV-1003"))
    expect(admin.locator(ROWS)).to_have_count(1)
    expect(admin.locator(ROWS).first).to_contain_text("Refunded invoice INV-1003")
    admin.get_by_label("Search").fill("refunde* -INV-1003")
    admin.get_by_label("Search").press("Enter")
    refunds = [r for r in site.records if r["event_type"] == "invoice.refunded"]
    expect(admin.locator(ROWS)).to_have_count(len(refunds) - 1)
    expect(admin.locator(ROWS, has_text="INV-1003")).to_have_count(0)


def test_a_date_preset_puts_the_range_in_the_url(admin: Page, site: Site) -> None:
    admin.goto("/records?search=monthly")
    admin.get_by_label("Time").select_option(label="Today")
    admin.get_by_role("button", name="Apply").click()
    expect(admin).to_have_url(re.compile(r"date_from="))
    query = query_of(admin)
    assert query["preset"] == ["today"] and "date_to" not in query
    expect(admin.locator(ROWS)).to_have_count(10)  # seeded just now, all "monthly report"
    admin.get_by_label("Time").select_option(label="Custom")
    admin.get_by_label("From", exact=True).fill("2001-01-01")
    admin.get_by_label("To", exact=True).fill("2001-01-31")
    admin.get_by_role("button", name="Apply").click()
    expect(admin).to_have_url(re.compile(r"date_to="))
    expect(admin.get_by_text("No records match these filters.")).to_be_visible()


def test_a_linked_range_is_kept_when_the_filters_change(admin: Page, site: Site) -> None:
    start, end = "2000-01-01T00:00:00Z", "2099-12-31T23:59:59Z"
    admin.goto(f"/records?date_from={start}&date_to={end}")
    expect(admin.get_by_label("Time")).to_have_value("linked")
    admin.get_by_label("high").check()
    admin.get_by_role("button", name="Apply").click()
    expect(admin).to_have_url(re.compile(r"severities=high"))
    query = query_of(admin)
    assert (query["date_from"], query["date_to"]) == ([start], [end])
    assert "preset" not in query
    stats = admin.get_by_role("link", name="Stats of this view")
    assert parse_qs(urlsplit(stats.get_attribute("href") or "").query) == query


def test_registered_params_only_hides_the_others(admin: Page, site: Site) -> None:
    unregistered = site.post_record(
        application_key="identity", summary="With a param not registered", params={"extra": 1}
    )
    admin.goto("/records?search=registered")
    admin.locator("summary", has_text="More filters").click()
    admin.get_by_label("Registered params only").check()
    admin.get_by_role("button", name="Apply").click()
    expect(admin).to_have_url(re.compile(r"registered_params_only=true"))
    expect(admin.get_by_label("Registered params only")).to_be_checked()
    expect(admin.get_by_role("link", name="Evidence pack")).to_have_count(0)  # packs hold all
    with admin.expect_download() as download:
        admin.get_by_role("link", name="NDJSON", exact=True).click()
    lines = [json.loads(line) for line in download.value.path().read_text().splitlines()]
    exported = [line for line in lines if line.get("id") == unregistered["id"]]
    assert exported and "extra" not in exported[0]["params"]


def test_a_link_by_application_key_keeps_its_application(admin: Page, site: Site) -> None:
    admin.goto("/records?application_key=identity&metadata=region:eu&metadata=region:us")
    expect(admin.get_by_label("Application")).to_have_value(site.applications["identity"]["id"])
    expect(admin.get_by_label("Metadata (2)")).to_have_value("region:us")
    admin.get_by_label("high").check()
    admin.get_by_role("button", name="Apply").click()
    expect(admin).to_have_url(re.compile(r"severities=high"))
    query = query_of(admin)
    assert query["application_id"] == [site.applications["identity"]["id"]]
    assert query["metadata"] == ["region:eu", "region:us"]


def test_a_preset_from_another_day_shows_as_the_range_it_is(admin: Page, site: Site) -> None:
    admin.goto("/records?preset=today&date_from=2000-01-01T08:00:00Z")
    expect(admin.get_by_label("Time")).to_have_value("linked")
    admin.get_by_role("button", name="Apply").click()
    expect(admin).to_have_url(re.compile(r"date_from=2000-01-01T08%3A00%3A00Z"))
    assert "preset" not in query_of(admin)


def test_load_more_follows_the_cursor(admin: Page, site: Site) -> None:
    admin.goto("/records?event_types=invoice.refunded&page_size=4")
    rows = admin.locator(ROWS)
    expect(rows).to_have_count(4)
    for shown in (8, 10):
        admin.get_by_role("button", name="Load more").click()
        expect(rows).to_have_count(shown)
    expect(admin.get_by_role("button", name="Load more")).to_have_count(0)
    summaries = rows.locator("td.summary").all_inner_texts()
    assert len(set(summaries)) == 10


def test_live_tail_shows_new_records_without_reload(admin: Page, site: Site) -> None:
    marker = f"tail-{uuid.uuid4().hex[:8]}"
    admin.goto("/records")
    admin.get_by_label("Live tail").check()
    created = site.post_record(summary=f"Arrived live {marker}", severity="critical")
    row = admin.locator(f'tr[data-id="{created["id"]}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text(marker)
    expect(admin.locator(ROWS).first).to_have_attribute("data-id", created["id"])


def test_live_tail_leaves_no_gap_after_a_burst_larger_than_a_page(admin: Page, site: Site) -> None:
    marker = f"burst{uuid.uuid4().hex[:8]}"
    first = site.post_record(summary=f"Before the burst {marker}")
    admin.goto(f"/records?search={marker}&page_size=3")
    expect(admin.locator(ROWS)).to_have_count(1)
    admin.get_by_label("Live tail").check()
    burst = [site.post_record(summary=f"Burst {number} {marker}") for number in range(8)]
    expect(admin.locator(ROWS)).to_have_count(9)
    shown = [row.get_attribute("data-id") for row in admin.locator(ROWS).all()]
    assert shown == [r["id"] for r in reversed(burst)] + [first["id"]]
    other = site.post_record(summary="Not in this view")
    late = site.post_record(summary=f"Later {marker}")
    expect(admin.locator(ROWS).first).to_have_attribute("data-id", late["id"])
    expect(admin.locator(f'tr[data-id="{other["id"]}"]')).to_have_count(0)


def test_live_tail_is_for_the_newest_first_view_from_its_start(admin: Page, site: Site) -> None:
    admin.goto("/records?sort_dir=asc")
    expect(admin.get_by_label("Live tail")).to_be_disabled()
    admin.goto("/records?page_size=2")
    cursor = admin.get_by_role("button", name="Load more").get_attribute("data-cursor")
    admin.goto(f"/records?page_size=2&cursor={cursor}")
    expect(admin.get_by_label("Live tail")).to_be_disabled()


def test_the_export_links_carry_the_view(admin: Page, site: Site) -> None:
    admin.goto("/records?severities=high&search=refunded")
    for name, format_ in (("CSV", "csv"), ("NDJSON", "ndjson"), ("Evidence pack", "pack")):
        link = admin.get_by_role("link", name=name, exact=True)
        href = link.get_attribute("href") or ""
        query = parse_qs(urlsplit(href).query)
        assert query == {"format": [format_], "severities": ["high"], "search": ["refunded"]}
    with admin.expect_download() as download:
        admin.get_by_role("link", name="NDJSON", exact=True).click()
    lines = [json.loads(line) for line in download.value.path().read_text().splitlines()]
    refunds = [r for r in site.records if r["severity"] == "high" and "Refunded" in r["summary"]]
    assert sorted(line["id"] for line in lines if "id" in line) == sorted(r["id"] for r in refunds)


def test_a_bad_filter_is_a_page_saying_what_is_wrong(admin: Page, site: Site) -> None:
    response = admin.goto("/records?param_filters=not-json")
    assert response is not None and response.status == 422
    expect(admin.get_by_role("heading", level=1)).to_be_visible()
    expect(admin.locator("main")).to_contain_text("param_filters")
    check_accessible(admin)
