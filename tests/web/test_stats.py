"""The stats page and parameter analytics, in a real browser over the seeded records; the charts'
geometry and the analytics page's drift marks, without one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import BrowserContext, Page, expect

from audittrail.access import Principal
from audittrail.records.stats.buckets import Bucket
from audittrail.records.stats.schemas import (
    AnalyzedApplication,
    AnalyzedParam,
    ParamAnalytics,
    ParamBucket,
)
from audittrail.web import analytics_pages, charts, views
from audittrail.web.templating import render_fragment
from tests.web.support import (
    PEOPLE_PASSWORD,
    READER_EMAIL,
    Site,
    check_accessible,
    check_accessible_narrow,
    screenshots,
    sign_in,
)


def total_on(page: Page) -> int:
    return int(page.locator("[data-total]").inner_text().replace(",", ""))


def test_stats_page_draws_the_records(admin: Page, site: Site) -> None:
    admin.goto("/stats")
    expect(admin.get_by_role("heading", name="Stats", level=1)).to_be_visible()
    assert total_on(admin) >= len(site.records)
    # Counts per bucket: columns that link into /records.
    expect(admin.locator("svg.chart a[href^='/records?']").first).to_be_attached()
    actors = admin.get_by_role("table", name="The most frequent actors")
    expect(actors.get_by_role("link", name="api_key:bootstrap")).to_be_visible()
    event_types = admin.get_by_role("table", name="The most frequent event types")
    for event_type in ("invoice.refunded", "user.signed_in", "report.generated"):
        expect(event_types.get_by_role("link", name=event_type, exact=True)).to_be_visible()
    expect(admin.get_by_role("heading", name="Busiest day")).to_be_visible()
    expect(
        admin.get_by_role("table", name="The busiest day's most frequent event types")
    ).to_be_visible()
    check_accessible(admin)
    screenshots(admin, site, "stats")
    check_accessible_narrow(admin)


def test_heat_map_has_a_text_alternative(admin: Page) -> None:
    admin.goto("/stats")
    heat_map = admin.get_by_role("img", name="Records by weekday and hour")
    expect(heat_map).to_be_visible()
    expect(heat_map.locator("desc")).to_contain_text("The busiest hour is")
    expect(heat_map.locator("rect.cell:not(.empty)").first).to_be_attached()
    admin.get_by_text("Records by weekday and hour as a table").click()
    table = admin.get_by_role("table", name="Records by weekday (rows) and hour (columns)")
    expect(table.locator("tbody tr")).to_have_count(7)
    expect(table.get_by_role("rowheader", name="Monday")).to_be_visible()


def test_an_event_type_bar_opens_its_records(admin: Page) -> None:
    admin.goto("/stats")
    event_types = admin.get_by_role("table", name="The most frequent event types")
    event_types.get_by_role("link", name="invoice.refunded", exact=True).click()
    expect(admin).to_have_url(re.compile(r"/records\?event_types=invoice\.refunded$"))
    events = admin.locator("table.records tbody tr td:nth-child(4)")
    expect(events.first).to_have_text("invoice.refunded")
    assert set(events.all_inner_texts()) == {"invoice.refunded"}


def test_the_page_keeps_its_filters(admin: Page) -> None:
    admin.goto("/stats")
    everything = total_on(admin)
    admin.goto("/stats?severities=critical&bucket=day")
    expect(admin.get_by_text("Severities: critical")).to_be_visible()
    critical = total_on(admin)
    assert 0 < critical < everything
    expect(admin.get_by_role("link", name="Edit filters")).to_have_attribute(
        "href", "/records?severities=critical"
    )
    # Every link keeps the filter: a day's column lands on that day's critical records.
    links = admin.locator("svg.chart a, table.shares a")
    for href in links.evaluate_all("links => links.map(a => a.getAttribute('href'))"):
        assert "severities=critical" in href
    today = admin.locator("svg.chart a").last
    counted = re.search(r": ([\d,]+) records?$", today.get_attribute("aria-label") or "")
    assert counted is not None
    today.click()
    expect(admin).to_have_url(re.compile(r"/records\?severities=critical&date_from=.*&date_to="))
    severities = admin.locator("table.records tbody tr td:nth-child(2)")
    expect(severities).to_have_count(int(counted[1].replace(",", "")))
    assert set(severities.all_inner_texts()) == {"critical"}


def test_analytics_of_a_number_draws_bands(admin: Page, site: Site) -> None:
    admin.goto("/analytics")
    admin.get_by_label("Application", exact=True).select_option("billing")
    admin.get_by_role("button", name="Show").click()
    admin.get_by_label("Param", exact=True).select_option("amount")
    admin.get_by_role("button", name="Show").click()
    expect(admin).to_have_url(re.compile(r"application=billing&param=amount"))
    expect(admin.get_by_role("heading", name=re.compile("^Amount"))).to_be_visible()
    chart = admin.get_by_role("img", name=re.compile("^Amount per"))
    expect(chart.locator("rect.band").first).to_be_attached()
    expect(chart.locator("line.median").first).to_be_attached()
    expect(chart.locator("g title").first).to_contain_text("median")
    check_accessible(admin)
    screenshots(admin, site, "analytics")
    check_accessible_narrow(admin)


def test_analytics_of_a_string_stacks_its_values(admin: Page) -> None:
    admin.goto("/analytics?application=identity&param=method")
    chart = admin.get_by_role("img", name=re.compile("most frequent values of Method"))
    expect(chart.locator("rect.series-0").first).to_be_attached()
    legend = admin.get_by_role("list", name="Values")
    expect(legend).to_contain_text("passkey")
    expect(legend).to_contain_text("password")
    check_accessible(admin)
    check_accessible_narrow(admin)


def test_analytics_cover_the_last_14_days_unless_told(admin: Page, site: Site) -> None:
    admin.goto("/analytics?application=identity&param=method")
    expect(admin.get_by_label("Period")).to_have_value("14d")
    admin.get_by_label("Period").select_option(label="The whole log (slow on a large log)")
    admin.get_by_role("button", name="Show").click()
    expect(admin).to_have_url(re.compile(r"period=all"))
    expect(admin.get_by_role("heading", name=re.compile("^Method"))).to_be_visible()
    response = admin.goto("/analytics?application=identity&param=method&period=1y")
    assert response is not None and response.status == 422
    expect(admin.locator("main")).to_contain_text("must be one of 7d, 14d, 30d, 90d, all.")


def test_a_reader_is_refused_a_sensitive_param(context: BrowserContext, site: Site) -> None:
    sign_in(context, site, READER_EMAIL, PEOPLE_PASSWORD)
    page = context.new_page()
    page.goto("/analytics?application=billing&param=card_last4")
    expect(page.get_by_role("alert")).to_have_text(
        "Param card_last4 is sensitive: only an admin may see its analytics."
    )
    expect(page.locator("svg.chart")).to_have_count(0)
    check_accessible(page)


# Without a browser.


def test_columns_scale_to_the_busiest_bucket() -> None:
    drawn = charts.columns(
        [charts.Point("a", "a", 0), charts.Point("b", "b", 1), charts.Point("c", "c", 40)]
    )
    empty, one, busiest = drawn.columns
    assert empty.height == 0
    assert one.height >= 1  # seen, however small
    assert busiest.y == drawn.scale.y(40)
    assert [tick.text for tick in drawn.scale.ticks] == ["0", "10", "20", "30", "40"]


def test_stacks_colour_the_most_frequent_values_and_mark_drift() -> None:
    drawn = charts.stacks(
        [
            charts.Tallies("day 1", "1", [("a", 5), ("b", 1)], 0, drifted=False),
            charts.Tallies("day 2", "2", [("b", 6)], 2, drifted=True),
        ]
    )
    assert drawn.legend == [("series-0", "b"), ("series-1", "a"), ("series-other", "other values")]
    assert [m.label for m in drawn.markers] == ["day 2"]
    second = drawn.stacks[1].slices
    assert [(s.series, s.count) for s in second] == [("series-0", 6), ("series-other", 2)]


def test_the_analytics_page_marks_drifted_buckets_in_words() -> None:
    """A drifted bucket has a marker on the chart and its words in the list and the table."""
    start = datetime(2026, 12, 1, tzinfo=UTC)
    found = ParamAnalytics(
        application=AnalyzedApplication(id="app", key="billing", name="Billing"),
        param=AnalyzedParam(key="amount", label="Amount", type="number", sensitive=False),
        bucket=Bucket.DAY,
        tz="UTC",
        drift_threshold=0.3,
        total=4,
        missing=0,
        buckets=[
            number_bucket(start, 10, drift=None),
            number_bucket(start + timedelta(days=1), 50, drift=3.0),
        ],
        drifted_buckets=[start + timedelta(days=1)],
    )
    page = analytics_page(found)
    assert page.count('class="drift-marker"') == 1
    assert "▲ drift</span> Wed 2026-12-02: drift 3.00" in page
    assert "<strong>Drifted</strong>: drift 3.00" in page


def number_bucket(start: datetime, value: float, drift: float | None) -> ParamBucket:
    spread = {f"p{p}": value for p in (5, 25, 50, 75, 95)}
    return ParamBucket(
        start=start,
        count=2,
        missing=0,
        mismatched=0,
        min=value,
        max=value,
        mean=value,
        drift=drift,
        drifted=drift is not None,
        values=None,
        **spread,
    )


def analytics_page(found: ParamAnalytics) -> str:
    principal = Principal(kind="user", id="u", name="admin", scopes=frozenset({"admin"}))
    return render_fragment(
        "analytics.html",
        principal=principal,
        navigation=[],
        path="/analytics",
        choice=analytics_pages.Choice(True, [], None, [], None),
        application="billing",
        param="amount",
        drift_threshold=0.3,
        period=analytics_pages.DEFAULT_PERIOD,
        periods=analytics_pages.PERIODS,
        dated=False,
        chosen_bucket="",
        buckets=[],
        filters=[],
        kept=[],
        found=found,
        chart=analytics_pages.number_chart(found),
        kind="number",
        refusal=None,
        drift_text=analytics_pages.drift_text,
        spread_of=analytics_pages.spread_of,
        bucket_names=views.bucket_names,
    )
