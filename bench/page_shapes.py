"""The pages section of bench/query.py (issue 16): the web viewer's pages, server time at 1M.

On the seeded database, through the running server with the admin API key (pages take the same
bearer key as the API) and `Accept: text/html`, as a browser asks for a page: the dashboard;
/records with no filter, with the most common severity, with the application with most records,
with the list benchmark's common search word and with its one-day range (the list section's
picked values); "load more" (/records/rows with the cursor the first page's rows answered in
X-Next-Cursor, as static/app.js asks), unfiltered and with the search word; a record's detail
page (the middle record of the log that has an application, and the newest system record with
a before/after change); /stats unfiltered, and filtered by the application with most records
and by the most common severity (filters the rollups keep); /analytics of a number param
(picked by SQL: of the registered number params, not sensitive, the one of the application
with most records); /applications, /applications/{key} (the analytics' application),
/api-keys and /users.

Each page: one warm-up call, then --rounds timed calls (wall time from request to the whole
body read); p50 and p95 (bench.common.percentile). Baselines measured in the same run: /login
(a page that reads no database), and, where one exists, the JSON API's equivalent with the same
params (GET /api/audit-trail/records for the records shapes, the record, stats, analytics, the
applications, API keys and users), called alternately with the page round by round; the ratio
is page p50 / API p50. The totals the records and stats pages show (their `data-total`) are
checked against the API's; a filtered records page leaves its count to the API (its script asks
for it once the page is there: the API baseline is that call). Target: every page's p50 < 200 ms.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench import common

API = "/api/audit-trail"
RECORDS_API = f"{API}/records"
STATS_API = f"{API}/stats"
ANALYTICS_API = f"{API}/applications/{{application}}/params/{{param}}/analytics"
PAGE_HEADERS = {"Accept": "text/html"}
NEXT_CURSOR = "X-Next-Cursor"
PAGE_SIZE = 50
TARGET_PAGE_P50_MS = 200.0
NUMBER_TYPES = ("number", "integer")  # in order of preference
TOTAL = re.compile(r"data-total(?: data-counted)?>([\d,]+)<")

# The list section's shapes whose values the records pages reuse: the page's name for each.
RECORDS_SHAPES = {
    "page_1": "records",
    "severities": "records_severity",
    "application": "records_application",
    "search_common_word": "records_search",
    "date_1_day": "records_date_1_day",
}


@dataclass
class PageShape:
    """One page, and the API call that answers the same question (None: no such call)."""

    name: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    api_path: str | None = None
    api_params: dict[str, str] | None = None
    fragment: bool = False
    note: str | None = None
    judged: bool = True
    """Whether the 200 ms target applies: not to what a reader asks for knowing it is slow."""


def pick(client: httpx.Client, sql: Any, shapes: Sequence[Any]) -> list[PageShape]:
    """The pages, their values from the list section's shapes (bench.query.Shape) and from the
    seeded database (`sql`: bench.query.Sql)."""
    by_name = {shape.name: shape for shape in shapes}
    pages = [PageShape("dashboard", "/", note="the last 30 days, and the newest records verified")]
    for list_name, name in RECORDS_SHAPES.items():
        if list_name not in by_name:
            continue
        params = {k: v for k, v in by_name[list_name].params.items() if k != "page_size"}
        params["page_size"] = str(PAGE_SIZE)
        note = by_name[list_name].note
        pages.append(PageShape(name, "/records", params, RECORDS_API, params, note=note))
    note = "the second page of the unfiltered list, by the first page's cursor"
    pages.append(load_more(client, "records_load_more", {}, note))
    if "search_common_word" in by_name:
        search = {"search": by_name["search_common_word"].params["search"]}
        note = "the second page of records_search's view (the live tail polls the same route)"
        pages.append(load_more(client, "records_load_more_search", search, note))
    pages += record_pages(sql)
    pages.append(PageShape("stats_unfiltered", "/stats", {}, STATS_API, {}, note="the whole log"))
    for list_name, name in (("application", "stats_application"), ("severities", "stats_severity")):
        if list_name in by_name:
            params = {k: v for k, v in by_name[list_name].params.items() if k != "page_size"}
            note = f"the whole log; {by_name[list_name].note}"
            pages.append(PageShape(name, "/stats", params, STATS_API, params, note=note))
    analytics = analytics_param(sql)
    if analytics is not None:
        application, param, kind = analytics
        query = {"application": application, "param": param}
        api = ANALYTICS_API.format(application=application, param=param)
        # The page's default period, the last 14 days; the API's the whole log unless told.
        since = {"date_from": (datetime.now(UTC) - timedelta(days=14)).isoformat()}
        note = f"{application}.{param}, a {kind} param; the page's default, the last 14 days"
        pages.append(PageShape("analytics", "/analytics", query, api, since, note=note))
        whole = {**query, "period": "all"}
        note = f"{application}.{param}; the whole log, as asked"
        pages.append(
            PageShape("analytics_whole_log", "/analytics", whole, api, {}, note=note, judged=False)
        )
    pages.append(PageShape("applications", "/applications", {}, f"{API}/applications", {}))
    key = analytics[0] if analytics else sql.value("SELECT key FROM applications ORDER BY key")
    if key is not None:
        path = f"/applications/{key}"
        pages.append(PageShape("application", path, {}, f"{API}{path}", {}))
    pages.append(PageShape("api_keys", "/api-keys", {}, "/api/api-keys", {}))
    pages.append(PageShape("users", "/users", {}, "/api/users", {}))
    return pages


def load_more(client: httpx.Client, name: str, filters: dict[str, str], note: str) -> PageShape:
    """The rows after the first page of a view: /records/rows with the cursor the first page's
    rows answered, as static/app.js asks when "Load more" is pressed."""
    params = {**filters, "page_size": str(PAGE_SIZE)}
    answer = client.get("/records/rows", params=params, headers=PAGE_HEADERS)
    answer.raise_for_status()
    cursor = answer.headers.get(NEXT_CURSOR)
    if not cursor:
        raise RuntimeError(f"/records/rows {filters} answered no X-Next-Cursor on page 1")
    params["cursor"] = cursor
    return PageShape(name, "/records/rows", params, RECORDS_API, params, fragment=True, note=note)


def record_pages(sql: Any) -> list[PageShape]:
    """A record of an application from the middle of the log; the newest system record with a
    before/after change (the diff), if the seed wrote one."""
    pages = []
    middle = sql.value(
        "SELECT id FROM records WHERE seq >= (SELECT max(seq) FROM records) / 2 "
        "AND application_id IS NOT NULL ORDER BY seq LIMIT 1"
    )
    if middle is not None:
        note = "the middle record of the log with an application"
        pages.append(
            PageShape("record", f"/records/{middle}", {}, f"{RECORDS_API}/{middle}", {}, note=note)
        )
    params = "params::text" if sql.kind == "postgresql" else "params"
    system = sql.value(
        f"SELECT id FROM records WHERE source = 'system' AND {params} LIKE ? "
        "ORDER BY seq DESC LIMIT 1",
        '%"old"%',
    )
    if system is not None:
        note = "the newest system record with an old and a new value"
        pages.append(
            PageShape(
                "record_system", f"/records/{system}", {}, f"{RECORDS_API}/{system}", {}, note=note
            )
        )
    return pages


def analytics_param(sql: Any) -> tuple[str, str, str] | None:
    """(application key, param key, type): a registered number param that is not sensitive,
    of the application with most records (an integer one where none is a number)."""
    counts = dict(
        sql.rows(
            "SELECT application_id, count(*) FROM records WHERE application_id IS NOT NULL "
            "GROUP BY application_id"
        )
    )
    found = sql.rows(
        "SELECT a.id, a.key, d.key, d.type, d.sensitive FROM param_definitions d "
        "JOIN applications a ON a.id = d.application_id ORDER BY a.key, d.key"
    )
    for kind in NUMBER_TYPES:
        candidates = [
            (int(counts.get(app_id, 0)), app_key, key)
            for app_id, app_key, key, param_type, sensitive in found
            if param_type == kind and not sensitive
        ]
        if candidates:
            _count, application, param = max(candidates, key=lambda c: (c[0], c[1], c[2]))
            return application, param, kind
    return None


# Timing


@dataclass
class Timed:
    page_ms: list[float] = field(default_factory=list)
    api_ms: list[float] = field(default_factory=list)
    page_bytes: int = 0
    page_total: int | None = None
    api_total: int | None = None


def _get(client: httpx.Client, path: str, params: dict[str, str], page: bool) -> httpx.Response:
    headers = PAGE_HEADERS if page else None
    answer = client.get(path, params=params, headers=headers)
    if answer.status_code != 200:
        raise RuntimeError(f"GET {path} {params}: {answer.status_code} {answer.text[:500]}")
    if page and not answer.headers.get("content-type", "").startswith("text/html"):
        raise RuntimeError(f"GET {path}: {answer.headers.get('content-type')}, not a page")
    return answer


def time_shape(client: httpx.Client, shape: PageShape, rounds: int) -> Timed:
    """One warm-up round, then `rounds` timed ones, each the page and then its API call."""
    timed = Timed()
    for number in range(rounds + 1):
        started = time.perf_counter()
        answer = _get(client, shape.path, shape.params, page=True)
        elapsed = 1000 * (time.perf_counter() - started)
        if number:
            timed.page_ms.append(elapsed)
        else:
            timed.page_bytes = len(answer.content)
            found = TOTAL.search(answer.text)
            timed.page_total = int(found.group(1).replace(",", "")) if found else None
        if shape.api_path is None:
            continue
        started = time.perf_counter()
        answer = _get(client, shape.api_path, shape.api_params or {}, page=False)
        elapsed = 1000 * (time.perf_counter() - started)
        if number:
            timed.api_ms.append(elapsed)
        else:
            body = answer.json()
            timed.api_total = body.get("total") if isinstance(body, dict) else None
    return timed


def _figures(ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(common.median(ms), 2),
        "p95_ms": round(common.percentile(ms, 0.95), 2),
        "max_ms": round(max(ms), 2),
    }


def measure(kind: str, client: httpx.Client, pages: list[PageShape], rounds: int) -> dict[str, Any]:
    login = PageShape("login", "/login", note="baseline: a page that reads no database")
    measured: dict[str, Any] = {}
    for shape in [login, *pages]:
        timed = time_shape(client, shape, rounds)
        result: dict[str, Any] = {"path": shape.path}
        if shape.params:
            result["params"] = shape.params
        result |= _figures(timed.page_ms)
        result["bytes"] = timed.page_bytes
        if shape.api_path is not None:
            result["api"] = {"path": shape.api_path, **_figures(timed.api_ms)}
            result["ratio_page_to_api_p50"] = round(
                common.median(timed.page_ms) / common.median(timed.api_ms), 2
            )
        if timed.page_total is not None and shape.name != "dashboard":
            result["total"] = timed.page_total
            result["api_total"] = timed.api_total
            result["exact"] = timed.page_total == timed.api_total
        if shape.fragment:
            result["fragment"] = True
        if shape.judged:
            result["target_p50_ms"] = TARGET_PAGE_P50_MS
        if shape.note:
            result["note"] = shape.note
        measured[shape.name] = result
        line = f"  {kind} page {shape.name}: p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms"
        if "api" in result:
            line += f"; API p50 {result['api']['p50_ms']} ms"
            line += f", ratio {result['ratio_page_to_api_p50']}"
        if "total" in result:
            line += f"; total {result['total']:,} (API {result['api_total']})"
        common.log(line)
    return measured


def targets(kind: str, measured: dict[str, Any]) -> dict[str, Any]:
    judged = {
        f"{kind}_page_{name}_p50_ms": common.below(page["p50_ms"], page["target_p50_ms"])
        for name, page in measured.items()
        if "target_p50_ms" in page
    }
    judged[f"{kind}_pages_inexact_totals"] = common.at_most(
        sum(not page["exact"] for page in measured.values() if "exact" in page), 0
    )
    return judged
