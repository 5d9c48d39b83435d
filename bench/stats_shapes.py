"""The statistics section of bench/query.py (issue 14): GET /stats and parameter analytics.

Ranges end at the seeded log's last record (the seed ends "now"), so none is aligned on hours
or days: each reads rollups for its whole days and hours and records for its ends. Stats are
timed over the last 1, 30 and 90 days, unfiltered, with one filter the rollups keep (the
application with most records), with an event type (the rollups keep it, but actors are then
counted from the records) and with a search (the records); parameter analytics over 90 days of
the demo's billing application, a number param (amount) and an enum param (currency). Every
stats answer's total is checked against the record list's total for the same filters, and
analytics' total against a count of the application's records in the range by SQL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench import common

STATS_PATH = "/api/audit-trail/stats"
RECORDS_PATH = "/api/audit-trail/records"
ANALYTICS_PATH = "/api/audit-trail/applications/{application}/params/{param}/analytics"
DAYS = (1, 30, 90)
ANALYTICS = (("billing", "amount"), ("billing", "currency"))

TARGET_POSTGRES_ROLLUPS_P95_MS = 100.0
TARGET_SQLITE_ROLLUPS_P95_MS = 200.0
TARGET_RECORDS_P95_MS = 1000.0
TARGET_POSTGRES_ANALYTICS_P95_MS = 500.0
TARGET_SQLITE_ANALYTICS_P95_MS = 1000.0


@dataclass
class StatsShape:
    name: str
    path: str
    params: dict[str, str]
    target_ms: float
    expected_total: int | None = None
    served_by_rollups: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def pick(kind: str, client: httpx.Client, sql: Any, search_word: str | None) -> list[StatsShape]:
    """The shapes, their values from the seeded database (`sql`: bench.query.Sql)."""
    last = sql.value("SELECT created_at FROM records ORDER BY seq DESC LIMIT 1")
    if isinstance(last, str):
        last = datetime.fromisoformat(last).replace(tzinfo=UTC)
    [(application_id, _n)] = sql.rows(
        "SELECT application_id, count(*) FROM records WHERE application_id IS NOT NULL "
        "GROUP BY application_id ORDER BY count(*) DESC LIMIT 1"
    )
    [(event_type, _m)] = sql.rows(
        "SELECT event_type, count(*) FROM records GROUP BY event_type "
        "ORDER BY count(*) DESC LIMIT 1"
    )
    rollups_ms = (
        TARGET_POSTGRES_ROLLUPS_P95_MS if kind == "postgresql" else (TARGET_SQLITE_ROLLUPS_P95_MS)
    )
    filters: list[tuple[str, dict[str, str], float, bool]] = [
        ("unfiltered", {}, rollups_ms, True),
        ("application", {"application_id": application_id}, rollups_ms, True),
        ("event_type", {"event_types": event_type}, rollups_ms, True),
    ]
    if search_word:
        filters.append(("search", {"search": search_word}, TARGET_RECORDS_P95_MS, False))
    shapes = []
    for days in DAYS:
        dates = {"date_from": _iso(last - timedelta(days=days)), "date_to": _iso(last)}
        for name, params, target, rollups in filters:
            query = {**params, **dates}
            shapes.append(
                StatsShape(
                    f"stats_{days}d_{name}",
                    STATS_PATH,
                    query,
                    target,
                    expected_total=_list_total(client, query),
                    served_by_rollups=rollups,
                )
            )
    analytics_ms = (
        TARGET_POSTGRES_ANALYTICS_P95_MS
        if kind == "postgresql"
        else (TARGET_SQLITE_ANALYTICS_P95_MS)
    )
    dates = {"date_from": _iso(last - timedelta(days=90)), "date_to": _iso(last)}
    for application, param in ANALYTICS:
        path = ANALYTICS_PATH.format(application=application, param=param)
        total = _list_total(client, {"application_key": application, **dates})
        shapes.append(StatsShape(f"analytics_90d_{param}", path, dict(dates), analytics_ms, total))
    return shapes


def _list_total(client: httpx.Client, params: dict[str, str]) -> int:
    answer = client.get(RECORDS_PATH, params={**params, "page_size": "1"})
    answer.raise_for_status()
    return int(answer.json()["total"])


def measure(
    kind: str, client: httpx.Client, shapes: list[StatsShape], rounds: int
) -> dict[str, Any]:
    measured: dict[str, Any] = {}
    for shape in shapes:
        ms: list[float] = []
        body: dict[str, Any] = {}
        for number in range(rounds + 1):
            started = time.perf_counter()
            answer = client.get(shape.path, params=shape.params)
            elapsed = 1000 * (time.perf_counter() - started)
            if answer.status_code != 200:
                raise RuntimeError(f"GET {shape.path} {shape.params}: {answer.text[:500]}")
            body = answer.json()
            if number:
                ms.append(elapsed)
        result: dict[str, Any] = {
            "params": shape.params,
            "total": body.get("total"),
            "expected_total": shape.expected_total,
            "exact": body.get("total") == shape.expected_total,
            "p50_ms": round(common.median(ms), 2),
            "p95_ms": round(common.percentile(ms, 0.95), 2),
            "max_ms": round(max(ms), 2),
            "target_p95_ms": shape.target_ms,
        }
        if "from_rollups" in body:
            result["from_rollups"] = body["from_rollups"]
            result["rollups_expected"] = shape.served_by_rollups
        measured[shape.name] = result
        common.log(
            f"  {kind} {shape.name}: p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
            f"total {result['total']} (expected {shape.expected_total})"
        )
    return measured


def targets(kind: str, measured: dict[str, Any]) -> dict[str, Any]:
    judged = {
        f"{kind}_{name}_p95_ms": common.below(shape["p95_ms"], shape["target_p95_ms"])
        for name, shape in measured.items()
    }
    judged[f"{kind}_stats_inexact_totals"] = common.at_most(
        sum(not shape["exact"] for shape in measured.values()), 0
    )
    return judged
