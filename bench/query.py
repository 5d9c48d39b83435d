"""Benchmark: the record list through HTTP, shape by shape, on a seeded log (issue 13, item 5).

Each database gets an empty scratch database that `audittrail seed --records N --seed 1` fills
(1,000,000 records by default; its time is reported). The seed ends with `VACUUM ANALYZE`
(PostgreSQL) or `ANALYZE` (SQLite), as an operator would after a load; PostgreSQL's is repeated
here and timed (autovacuum would do the same on its own shortly after such a load; SQLite has no
such thing, and the service does not run ANALYZE: a log grown by ingest alone has no statistics
there). Then the service runs as deployed (uvicorn, one worker, as
bench.ingest_support starts it) with the bootstrap admin API key, the per-credential rate limits
counted but set out of reach, and one httpx client (keep-alive, one connection) asks
GET /api/audit-trail/records for each query shape: one warm-up call, then --rounds timed calls
(wall time from request to the whole body read); p50 and p95 of those (bench.common.percentile,
nearest rank as it rounds: with 20 calls, p95 is the slowest call).

The seed's values are not assumed: after seeding, each shape's values are picked by SQL on the
seeded database (the most common event type, category, actor and severity; the entity and the
application with most records; the day of the middle record, and the 30 days ending with it; a
value under 0.01% of rows; the value, or set of severities, nearest half the rows; words sampled
from records.search_text; params and metadata sampled the same way). Each shape in the output
has the query it sent, the `total` the API answered and `matching_rows` counted by plain SQL,
so a reader sees which shapes match over 100,000 rows and that the totals are exact.

Page 100: `page=100&page_size=50` is timed as any shape. By cursor, the benchmark first follows
next_cursor 99 times from page 1 (that walk's time is reported, not judged), then times the
100th page's request, with the cursor the walk ended on, like any other shape: keyset paging
costs the same whichever way the client got its cursor, and the log only grows at its end, so
the same cursor names the same page every time.

Targets, per shape's p95: on PostgreSQL every list shape < 50 ms with its exact total, < 200 ms
for shapes matching over 100,000 rows, and `search` < 150 ms; on SQLite every shape < 150 ms.

Ingest cost of the new indexes (migration 0007), measured in the same run after the queries:
the seeded database is cloned (PostgreSQL: CREATE DATABASE ... TEMPLATE; SQLite: a copy of the
file) and the clones lose the indexes:
  - "no_search": PostgreSQL drops ix_records_search; SQLite replaces the FTS5 table
    records_search, which the append itself writes (log/append.py), with a plain table of the
    same name and columns, `records_search(rowid INTEGER PRIMARY KEY, search_text TEXT)`, so
    the append still inserts a row there: SQLite's figure is FTS5's cost over a plain b-tree
    insert of the same text, not over nothing;
  - "none": also the other indexes 0007 adds to every write: ix_records_params and
    ix_records_metadata (GIN jsonb_path_ops, PostgreSQL), and on both databases the severity
    sort's b-tree ix_records_severity_rank_created_at_seq (0007's other sort indexes replace
    indexes of the same columns without seq, and stay): the indexes before and after 0007.
The variants' servers then take turns, round by round in rotating order, each round
posting --batches batches of 1,000 records (POST /records/batch, sequential, one client) and
then --singles single POSTs. The records replay a sample of seeded ones (their event types,
summaries, applications, entities, params and metadata), those the service accepted as single
POSTs before cloning. Reported: seconds per batch; the per-round ratios with/without
(seconds per batch of "all" over "no_search", and over "none"), their median the figure
judged (search index: at most 1.25); single POSTs' p99 over all rounds (< 50 ms, "all").

Sections (--sections, default list,stats): "list" is the above; "stats" is
bench/stats_shapes.py's (and the rollups' ingest cost); "export" bench/export_shapes.py's;
"pages" bench/page_shapes.py's (issue 16: the web viewer's pages, each against its API call and
/login, on the same seeded database and the list's picked values).

    .venv/bin/python -m bench.query [--records N] [--quick] [--rounds R] [--databases ...]
                                    [--sections list,stats,export,pages]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import combinations, pairwise
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from bench import common, export_shapes, page_shapes, stats_shapes
from bench import ingest_support as support
from bench.ingest_support import Server

RECORDS_PATH = "/api/audit-trail/records"
DEFAULT_RECORDS = 1_000_000
QUICK_RECORDS = 50_000
# Exports of the whole log, per format (bench/export_shapes.py): each takes tens of seconds.
EXPORT_ROUNDS = 3
SEED = 1
PAGE_SIZE = 50
CURSOR_PAGE = 100
LARGE_MATCH = 100_000
RARE_FRACTION = 0.0001
SAMPLE_ROWS = 20_000
BATCH = 1000
POOL_PAGES = 5

TARGET_POSTGRES_LIST_P95_MS = 50.0
TARGET_POSTGRES_LARGE_P95_MS = 200.0
TARGET_POSTGRES_SEARCH_P95_MS = 150.0
TARGET_SQLITE_P95_MS = 150.0
TARGET_SEARCH_INGEST_RATIO = 1.25
TARGET_SINGLE_P99_MS = 50.0
TARGET_ROLLUPS_INGEST_RATIO = 1.15

SEARCH_INDEX = "ix_records_search"
# What migration 0007 adds to each record's writes besides the search index: GIN indexes of
# params and metadata (PostgreSQL), and one more b-tree, the sort by severity's (both; the
# other sort indexes it makes replace indexes of the same columns but seq).
OTHER_NEW_INDEXES = {
    "postgresql": ("ix_records_params", "ix_records_metadata"),
    "sqlite": (),
}
NEW_SORT_INDEXES = ("ix_records_severity_rank_created_at_seq",)
SQLITE_PLAIN_SEARCH = "CREATE TABLE records_search(rowid INTEGER PRIMARY KEY, search_text TEXT)"
# Generous limits rather than none: the limiter's own work stays in every request.
RATE_LIMITS = {
    "AUDITTRAIL_RATE_LIMIT": "10000000/minute",
    "AUDITTRAIL_RATE_LIMIT_WRITES": "10000000/second",
}


# SQL on the seeded database: picking the shapes' values, counting their rows


class Sql:
    """Reads on one database, either kind, with `?` placeholders; one connection throughout."""

    def __init__(self, url: str) -> None:
        self.kind = make_url(url).get_backend_name()
        if self.kind == "postgresql":
            self.runner: asyncio.Runner | None = asyncio.Runner()
            self.postgres = self.runner.run(asyncpg.connect(asyncpg_dsn(url)))
        else:
            self.runner = None
            self.sqlite = sqlite3.connect(common.sqlite_path(url))

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        if self.runner is not None:
            parts = sql.split("?")
            numbered = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))
            return [tuple(row) for row in self.runner.run(self.postgres.fetch(numbered, *args))]
        return list(self.sqlite.execute(sql, args).fetchall())

    def value(self, sql: str, *args: Any) -> Any:
        rows = self.rows(sql, *args)
        return rows[0][0] if rows else None

    def count(self, where: str | None, args: Sequence[Any] = ()) -> int:
        return int(self.value(f"SELECT count(*) FROM records WHERE {where or 'TRUE'}", *args))

    def time(self, moment: datetime) -> Any:
        """A bound created_at: aware on PostgreSQL, SQLite's naive UTC text."""
        if self.kind == "postgresql":
            return moment
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

    def json_type(self, column: str, expected: str) -> str:
        """SQL: the column's value at key `?` is of JSON type `expected` (number, string)."""
        if self.kind == "postgresql":
            return f"jsonb_typeof({column} -> ?) = '{expected}'"
        kinds = {"number": "('integer', 'real')", "string": "('text')"}[expected]
        return f"json_type({column}, ?) IN {kinds}"

    def json_text(self, column: str) -> str:
        """SQL: the column's value at key `?` as text (compare with json_type's condition)."""
        if self.kind == "postgresql":
            return f"({column} ->> ?)"
        return f"json_extract({column}, ?)"

    def json_number(self, column: str) -> str:
        """SQL: the column's value at key `?` (given twice) if it is a JSON number, else NULL:
        a CASE, since PostgreSQL may cast before it checks the type if asked with AND."""
        if self.kind == "postgresql":
            value = f"({column} ->> ?)::float8"
        else:
            value = f"json_extract({column}, ?)"
        return f"(CASE WHEN {self.json_type(column, 'number')} THEN {value} END)"

    def json_key(self, key: str) -> str:
        """A key as the json_ methods take it: the key itself, or SQLite's JSON path."""
        return key if self.kind == "postgresql" else f'$."{key}"'

    def close(self) -> None:
        if self.runner is not None:
            self.runner.run(self.postgres.close())
            self.runner.close()
            self.runner = None
        else:
            self.sqlite.close()


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# Query shapes


@dataclass
class Shape:
    """One request of the record list, and the SQL that counts the records it should find."""

    name: str
    params: dict[str, str]
    where: str | None = None
    args: list[Any] = field(default_factory=list)
    search: bool = False
    note: str | None = None


@dataclass
class Picked:
    """What picking learnt of the seeded data, besides the shapes."""

    rows: int
    notes: dict[str, Any] = field(default_factory=dict)


def top(sql: Sql, column: str, where: str = "TRUE", limit: int = 50) -> list[tuple[Any, int]]:
    return [
        (value, int(count))
        for value, count in sql.rows(
            f"SELECT {column}, count(*) FROM records WHERE {column} IS NOT NULL AND {where} "
            f"GROUP BY {column} ORDER BY count(*) DESC, {column} LIMIT {limit}"
        )
    ]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def pick_shapes(sql: Sql) -> tuple[list[Shape], Picked]:
    """Every shape, its values picked from the seeded database."""
    rows = sql.count(None)
    picked = Picked(rows)
    shapes = [Shape("page_1", {})]
    shapes += _single_filters(sql, picked)
    shapes += _rare_and_half(sql, picked)
    shapes += _search_shapes(sql, picked)
    shapes += _param_shapes(sql, picked)
    shapes.append(Shape("page_100_by_page", {"page": str(CURSOR_PAGE)}))
    shapes.append(Shape("sort_created_at_asc", {"sort_by": "created_at", "sort_dir": "asc"}))
    for sort_by in ("severity", "event_type", "actor", "category"):
        shapes.append(Shape(f"sort_{sort_by}_desc", {"sort_by": sort_by, "sort_dir": "desc"}))
    return shapes, picked


def _single_filters(sql: Sql, picked: Picked) -> list[Shape]:
    shapes = []
    for name, column in (
        ("event_types", "event_type"),
        ("categories", "category"),
        ("actors", "actor"),
        ("severities", "severity"),
    ):
        [(value, _count)] = top(sql, column, limit=1)
        shapes.append(Shape(name, {name: value}, f"{column} = ?", [value], note="most common"))
    entity = sql.rows(
        "SELECT entity_type, entity_id, count(*) FROM records WHERE entity_id IS NOT NULL "
        "GROUP BY entity_type, entity_id ORDER BY count(*) DESC, entity_type, entity_id LIMIT 1"
    )
    if entity:
        entity_type, entity_id, _count = entity[0]
        if entity_type is None:
            shapes.append(Shape("entity", {"entity_id": entity_id}, "entity_id = ?", [entity_id]))
        else:
            shapes.append(
                Shape(
                    "entity",
                    {"entity_type": entity_type, "entity_id": entity_id},
                    "entity_type = ? AND entity_id = ?",
                    [entity_type, entity_id],
                    note="the entity with most records",
                )
            )
    [(application_id, _count)] = top(sql, "application_id", limit=1)
    shapes.append(
        Shape(
            "application",
            {"application_id": application_id},
            "application_id = ?",
            [application_id],
            note="the application with most records",
        )
    )
    middle = sql.value(
        "SELECT created_at FROM records WHERE seq >= (SELECT max(seq) FROM records) / 2 "
        "ORDER BY seq LIMIT 1"
    )
    if isinstance(middle, str):
        middle = datetime.fromisoformat(middle).replace(tzinfo=UTC)
    day = middle.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day_end = day + timedelta(days=1) - timedelta(microseconds=1)
    month = day - timedelta(days=29)
    picked.notes["day"] = day.date().isoformat()
    for name, start in (("date_1_day", day), ("date_30_days", month)):
        shapes.append(
            Shape(
                name,
                {"date_from": iso(start), "date_to": iso(day_end)},
                "created_at >= ? AND created_at <= ?",
                [sql.time(start), sql.time(day_end)],
                note="ending with the day of the middle record",
            )
        )
    event_type, _count = top_in(sql, "event_type", "application_id = ?", [application_id])
    shapes.append(
        Shape(
            "three_filters",
            {
                "application_id": application_id,
                "event_types": event_type,
                "date_from": iso(month),
                "date_to": iso(day_end),
            },
            "application_id = ? AND event_type = ? AND created_at >= ? AND created_at <= ?",
            [application_id, event_type, sql.time(month), sql.time(day_end)],
            note="the application with most records, its most common event type, 30 days",
        )
    )
    return shapes


def top_in(sql: Sql, column: str, where: str, args: list[Any]) -> tuple[Any, int]:
    """The most common value of `column` among the rows `where` selects."""
    value, count = sql.rows(
        f"SELECT {column}, count(*) FROM records WHERE {column} IS NOT NULL AND {where} "
        f"GROUP BY {column} ORDER BY count(*) DESC, {column} LIMIT 1",
        *args,
    )[0]
    return value, int(count)


# The filter each candidate column goes through, for the rare value and the half.
FILTERS = {
    "actor": "actors",
    "event_type": "event_types",
    "category": "categories",
    "entity_id": "entity_id",
    "application_key": "application_key",
    "severity": "severities",
}


def _rare_and_half(sql: Sql, picked: Picked) -> list[Shape]:
    rows = picked.rows
    # Rare: of the values under 0.01% of rows, in any of these columns, the most common one.
    threshold = max(1, int(rows * RARE_FRACTION))
    rare: tuple[int, str, Any] | None = None
    for column in ("actor", "event_type", "category", "entity_id"):
        found = sql.rows(
            f"SELECT {column}, count(*) FROM records WHERE {column} IS NOT NULL "
            f"GROUP BY {column} HAVING count(*) < ? ORDER BY count(*) DESC, {column} LIMIT 1",
            threshold,
        )
        if found and (rare is None or int(found[0][1]) > rare[0]):
            rare = (int(found[0][1]), column, found[0][0])
    under = rare is not None
    if rare is None:  # none that rare: the least common actor, and the output says so
        value, count = sql.rows(
            "SELECT actor, count(*) FROM records WHERE actor IS NOT NULL "
            "GROUP BY actor ORDER BY count(*), actor LIMIT 1"
        )[0]
        rare = (int(count), "actor", value)
    _count, column, value = rare
    picked.notes["rare_value_under_0.01_percent"] = under
    shapes = [
        Shape(
            "rare_value",
            {FILTERS[column]: value},
            f"{column} = ?",
            [value],
            note=f"{column}: under 0.01% of rows" if under else f"{column}: none under 0.01%",
        )
    ]
    # Half: the single value, or set of severities, whose count is nearest half the rows.
    candidates: list[tuple[int, str, list[Any]]] = []
    for column in ("event_type", "category", "actor", "application_key"):
        candidates += [(count, column, [value]) for value, count in top(sql, column)]
    severities = top(sql, "severity")
    for size in range(1, len(severities)):
        for chosen in combinations(severities, size):
            candidates.append((sum(c for _, c in chosen), "severity", [v for v, _ in chosen]))
    count, column, values = min(candidates, key=lambda c: (abs(c[0] - rows / 2), len(c[2])))
    marks = ", ".join("?" for _ in values)
    if column in ("event_type", "category", "actor", "severity"):
        query = {FILTERS[column]: ",".join(values)}
    else:
        query = {FILTERS[column]: values[0]}
    note = "the value, or set of severities, nearest half the rows"
    shapes.append(Shape("half_of_rows", query, f"{column} IN ({marks})", list(values), note=note))
    return shapes


def _sampled(sql: Sql, column: str) -> list[Any]:
    """The column's values on about SAMPLE_ROWS records spread along the log."""
    last = int(sql.value("SELECT max(seq) FROM records") or 0)
    step = max(1, last // SAMPLE_ROWS)
    return [
        value
        for (value,) in sql.rows(
            f"SELECT {column} FROM records WHERE seq % ? = 0 AND {column} IS NOT NULL", step
        )
    ]


def _search_shapes(sql: Sql, picked: Picked) -> list[Shape]:
    texts = _sampled(sql, "search_text")
    picked.notes["search_sample_records"] = len(texts)
    words: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for text in texts:
        split = text.split()
        words.update(set(split))
        pairs.update({(a, b) for a, b in pairwise(split) if a != b and _word(a) and _word(b)})
    lettered = {w: n for w, n in words.items() if any(c.isalpha() for c in w)}
    plain = sorted((w for w in lettered if _word(w)), key=lambda w: (-lettered[w], w))
    if not plain:
        return []
    shapes = []
    # Common: the most common word found in at most a fifth of the records (a product's own
    # words: "invoice", "login"); the commonest of all, which the seed's email domains put in
    # nine records of ten, is measured too, as the worst case a search can be.
    fifth = [w for w in plain if lettered[w] <= len(texts) / 5] or plain
    common_word, commonest_word = fifth[0], plain[0]
    # Rare: the least common word of three or more letters and nothing else (a name, say; not a
    # piece of a hexadecimal id), else of letters only.
    named = [w for w in plain if not set(w) <= set("abcdef")] or plain
    rare_word = min(named, key=lambda w: (lettered[w], w))
    # A prefix as someone typing a word would search: the first four letters of the most common
    # word of six or more found in 1% to 20% of the sampled records (not the common word's).
    middling = [w for w in plain if len(texts) / 100 <= lettered[w] <= len(texts) / 5]
    long_words = [w for w in middling if len(w) >= 6] or [w for w in plain if len(w) >= 4] or plain
    stem = long_words[0][: 4 if len(long_words[0]) >= 6 else 3]
    terms = [
        (
            "search_common_word",
            common_word,
            (common_word,),
            False,
            "the sample's most common word in at most 20% of it",
        ),
        (
            "search_commonest_word",
            commonest_word,
            (commonest_word,),
            False,
            "the sample's most common word of all",
        ),
        ("search_rare_word", rare_word, (rare_word,), False, "the sample's rarest plain word"),
        ("search_prefix", f"{stem}*", (stem,), True, "a 6+ letter word in 1-20% of the sample"),
    ]
    if pairs:
        # A phrase of two words neither everywhere nor nowhere: the most common pair found in
        # at most a tenth of the sampled records (else the most common of all).
        tenth = [p for p in pairs if pairs[p] <= len(texts) / 10] or list(pairs)
        first, second = max(tenth, key=lambda p: (pairs[p], p))
        note = "the sample's most common pair of words in at most 10% of it"
        terms.append(("search_phrase", f'"{first} {second}"', (first, second), False, note))
    for name, text, query, prefix, note in terms:
        where, args = search_condition(query, prefix)
        shapes.append(Shape(name, {"search": text}, where, args, search=True, note=note))
    return shapes


def search_condition(words: tuple[str, ...], prefix: bool) -> tuple[str, list[Any]]:
    """SQL for what records/search.py finds with one term (its words in order, the last a
    prefix if `prefix`), with neither database's full-text index: search_text is the record's
    words, lower case, one space apart (search_words.py), so a LIKE over it says the same."""
    pattern = "% " + " ".join(words) + ("%" if prefix else " %")
    return "(' ' || search_text || ' ') LIKE ?", [pattern]


def _word(word: str) -> bool:
    return len(word) >= 3 and word.isalpha()


def _json_objects(sql: Sql, column: str) -> list[dict[str, Any]]:
    cast = f"{column}::text" if sql.kind == "postgresql" else column
    return [json.loads(text) for text in _sampled(sql, cast) if text]


def _param_shapes(sql: Sql, picked: Picked) -> list[Shape]:
    shapes = []
    params = _json_objects(sql, "params")
    numbers: dict[str, list[float]] = {}
    strings: dict[str, Counter[str]] = {}
    for item in params:
        for key, value in item.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                numbers.setdefault(key, []).append(float(value))
            elif isinstance(value, str):
                strings.setdefault(key, Counter())[value] += 1
    if numbers:
        key = max(numbers, key=lambda k: (len(numbers[k]), k))
        values = sorted(numbers[key])
        low = values[len(values) // 4]
        high = values[3 * len(values) // 4]
        filters = [
            {"key": key, "operator": "gte", "value": low},
            {"key": key, "operator": "lte", "value": high},
        ]
        shapes.append(
            Shape(
                "param_number_range",
                {"param_filters": json.dumps(filters)},
                f"{sql.json_number('params')} >= ? AND {sql.json_number('params')} <= ?",
                [*(sql.json_key(key),) * 2, low, *(sql.json_key(key),) * 2, high],
                note="between the sample's quartiles of the most common numeric param",
            )
        )
    string_shape = None
    if strings:
        key = max(strings, key=lambda k: (sum(strings[k].values()), k))
        value = strings[key].most_common(1)[0][0]
        filters = [{"key": key, "operator": "eq", "value": value}]
        string_shape = Shape(
            "param_string_eq",
            {"param_filters": json.dumps(filters)},
            f"{sql.json_type('params', 'string')} AND {sql.json_text('params')} = ?",
            [sql.json_key(key), sql.json_key(key), value],
            note="the most common value of the most common string param",
        )
        shapes.append(string_shape)
    shapes.append(
        Shape(
            "registered_params_only",
            {"registered_params_only": "true"},
            note="no param filter: the same rows as page 1, only registered params shown",
        )
    )
    if string_shape is not None:
        registered = (
            "EXISTS (SELECT 1 FROM param_definitions d "
            "WHERE d.application_id = records.application_id AND d.key = ?)"
        )
        shapes.append(
            Shape(
                "registered_params_only_string_eq",
                {**string_shape.params, "registered_params_only": "true"},
                f"{string_shape.where} AND {registered}",
                [*string_shape.args, json.loads(string_shape.params["param_filters"])[0]["key"]],
            )
        )
    shapes += _metadata_shape(sql)
    return shapes


def _plain_text(key: str, value: Any) -> bool:
    """A metadata pair whose value is text that spells no JSON scalar (metadata=key:value also
    matches the number, true, false or null the text spells; the count here is of text)."""
    if not isinstance(value, str) or ":" in key:
        return False
    try:
        json.loads(value)
    except ValueError:
        return True
    return False


def _metadata_shape(sql: Sql) -> list[Shape]:
    pairs: Counter[tuple[str, str]] = Counter()
    for item in _json_objects(sql, "metadata"):
        pairs.update((k, v) for k, v in item.items() if _plain_text(k, v))
    if not pairs:
        return []
    (key, value), _count = pairs.most_common(1)[0]
    return [
        Shape(
            "metadata",
            {"metadata": f"{key}:{value}"},
            f"{sql.json_type('metadata', 'string')} AND {sql.json_text('metadata')} = ?",
            [sql.json_key(key), sql.json_key(key), value],
            note="the most common key:value of string metadata (counted as string equality)",
        )
    ]


# Timing


@dataclass
class Timed:
    ms: list[float]
    totals: set[int]

    def figures(self) -> dict[str, Any]:
        return {
            "p50_ms": round(common.median(self.ms), 2),
            "p95_ms": round(common.percentile(self.ms, 0.95), 2),
            "max_ms": round(max(self.ms), 2),
        }


def timed_get(client: httpx.Client, params: dict[str, str], calls: int) -> Timed:
    """One warm-up call, then `calls` timed ones; every answer a 200 with its total."""
    ms, totals = [], set()
    for number in range(calls + 1):
        started = time.perf_counter()
        answer = client.get(RECORDS_PATH, params=params)
        elapsed = 1000 * (time.perf_counter() - started)
        if answer.status_code != 200:
            raise RuntimeError(f"GET {params}: {answer.status_code} {answer.text[:500]}")
        totals.add(int(answer.json()["total"]))
        if number:
            ms.append(elapsed)
    return Timed(ms, totals)


def cursor_for_page(client: httpx.Client, page: int) -> tuple[str, dict[str, Any]]:
    """Follow next_cursor from page 1 to `page`: the cursor, and how long the walk took."""
    cursor, ms = None, []
    for _ in range(page - 1):
        params = {"page_size": str(PAGE_SIZE)} | ({"cursor": cursor} if cursor else {})
        started = time.perf_counter()
        answer = client.get(RECORDS_PATH, params=params)
        ms.append(1000 * (time.perf_counter() - started))
        answer.raise_for_status()
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            raise RuntimeError(f"the log ends before page {page}")
    walk = {
        "pages_followed": page - 1,
        "seconds": round(sum(ms) / 1000, 2),
        "p50_ms": round(common.median(ms), 2),
        "max_ms": round(max(ms), 2),
    }
    return cursor, walk


def measure_shapes(
    kind: str, client: httpx.Client, sql: Sql, shapes: list[Shape], rounds: int
) -> dict[str, Any]:
    measured: dict[str, Any] = {}
    for shape in shapes:
        shape.params.setdefault("page_size", str(PAGE_SIZE))
        measured[shape.name] = _measure(kind, client, sql, shape, rounds)
    cursor, walk = cursor_for_page(client, CURSOR_PAGE)
    shape = Shape("page_100_by_cursor", {"page_size": str(PAGE_SIZE), "cursor": cursor})
    measured[shape.name] = _measure(kind, client, sql, shape, rounds)
    measured[shape.name]["walk_to_page_100"] = walk
    return measured


def _measure(
    kind: str, client: httpx.Client, sql: Sql, shape: Shape, rounds: int
) -> dict[str, Any]:
    timed = timed_get(client, shape.params, rounds)
    matching = sql.count(shape.where, shape.args)
    [total] = timed.totals if len(timed.totals) == 1 else [-1]
    result: dict[str, Any] = {
        "params": shape.params,
        "total": total,
        "matching_rows": matching,
        "exact": total == matching,
        "over_100k": matching > LARGE_MATCH,
        "search": shape.search,
        **timed.figures(),
        "target_p95_ms": target_ms(kind, shape.search, matching),
    }
    if shape.note:
        result["note"] = shape.note
    common.log(
        f"  {kind} {shape.name}: p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
        f"total {total:,} (SQL {matching:,})"
    )
    return result


def target_ms(kind: str, search: bool, matching: int) -> float:
    if kind == "sqlite":
        return TARGET_SQLITE_P95_MS
    if search:
        return TARGET_POSTGRES_SEARCH_P95_MS
    return TARGET_POSTGRES_LARGE_P95_MS if matching > LARGE_MATCH else TARGET_POSTGRES_LIST_P95_MS


# Ingest cost of the new indexes


def sample_bodies(client: httpx.Client, total: int) -> list[dict[str, Any]]:
    """Seeded records as bodies to post again, from POOL_PAGES pages spread along the log."""
    pages = max(1, total // 200)
    numbers = sorted({1 + (pages - 1) * n // max(1, POOL_PAGES - 1) for n in range(POOL_PAGES)})
    bodies = []
    for number in numbers:
        answer = client.get(RECORDS_PATH, params={"page": number, "page_size": 200})
        answer.raise_for_status()
        for record in answer.json()["records"]:
            body = {
                name: record[name]
                for name in (
                    "event_type",
                    "summary",
                    "category",
                    "severity",
                    "application_key",
                    "entity_type",
                    "entity_id",
                    "params",
                    "metadata",
                )
                if record.get(name) is not None
            }
            bodies.append(body)
    return bodies


def accepted(client: httpx.Client, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The bodies the service takes as single POSTs (posting them warms the server up)."""
    kept, refused = [], Counter[str]()
    for body in bodies:
        answer = client.post(RECORDS_PATH, json=body)
        if answer.status_code in (200, 201):
            kept.append(body)
        else:
            refused[f"{answer.status_code} {answer.text[:200]}"] += 1
    if refused:
        common.log(f"  {len(bodies) - len(kept)} sampled records refused: {refused.most_common(3)}")
    if not kept:
        raise RuntimeError("the service accepted none of the sampled records")
    return kept


def batch_payloads(bodies: list[dict[str, Any]], count: int) -> list[bytes]:
    """`count` batches of BATCH records, the pool cycled from a different place in each."""
    payloads = []
    for number in range(count):
        start = number * len(bodies) // count
        batch = [bodies[(start + i) % len(bodies)] for i in range(BATCH)]
        payloads.append(json.dumps(batch).encode())
    return payloads


@dataclass
class IngestRuns:
    batch_s: dict[str, list[float]] = field(default_factory=dict)  # per round: s per batch
    single_ms: dict[str, list[float]] = field(default_factory=dict)  # every single POST


def measure_ingest(
    servers: dict[str, Server],
    bodies: list[dict[str, Any]],
    rounds: int,
    batches: int,
    singles: int,
) -> IngestRuns:
    """Round by round, each server in turn (the order rotating): batches, then singles."""
    payloads = batch_payloads(bodies, batches)
    headers = {"Content-Type": "application/json"}
    runs = IngestRuns()
    with contextlib.ExitStack() as stack:
        clients = {
            name: stack.enter_context(support.admin_client(s)) for name, s in servers.items()
        }
        for client in clients.values():  # warm-up: a batch and a few singles each
            _post(client, "/batch", payloads[0], headers)
            for body in bodies[:5]:
                _post(client, "", json.dumps(body).encode(), headers)
        names = list(servers)
        for number in range(rounds):
            order = names[number % len(names) :] + names[: number % len(names)]
            for name in order:
                client = clients[name]
                spent = [_post(client, "/batch", payload, headers) for payload in payloads]
                runs.batch_s.setdefault(name, []).append(sum(spent) / len(spent))
                for i in range(singles):
                    body = bodies[(number * singles + i) % len(bodies)]
                    seconds = _post(client, "", json.dumps(body).encode(), headers)
                    runs.single_ms.setdefault(name, []).append(1000 * seconds)
            common.log(
                f"  ingest round {number + 1}/{rounds}: "
                + ", ".join(
                    f"{name} {1000 * runs.batch_s[name][-1]:.0f} ms/batch" for name in names
                )
            )
    return runs


def _post(client: httpx.Client, path: str, payload: bytes, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    answer = client.post(RECORDS_PATH + path, content=payload, headers=headers)
    seconds = time.perf_counter() - started
    if answer.status_code not in (200, 201):
        raise RuntimeError(f"POST {path or '/records'}: {answer.status_code} {answer.text[:500]}")
    return seconds


def ingest_figures(runs: IngestRuns) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name, per_round in runs.batch_s.items():
        singles = runs.single_ms[name]
        figures[name] = {
            "batch_ms": round(1000 * common.median(per_round), 1),
            "batch_records_per_s": round(BATCH / common.median(per_round), 1),
            "runs_batch_ms": [round(1000 * s, 1) for s in per_round],
            "single_posts": len(singles),
            "single_p50_ms": round(common.median(singles), 2),
            "single_p99_ms": round(common.percentile(singles, 0.99), 2),
        }
    for baseline, label in (
        ("no_search", "search_index"),
        ("none", "all_new_indexes"),
        ("no_rollups", "rollups"),
    ):
        if baseline in runs.batch_s:
            ratios = [
                with_ / without
                for with_, without in zip(runs.batch_s["all"], runs.batch_s[baseline], strict=True)
            ]
            figures[f"ratio_{label}"] = {
                "median_of_round_ratios": round(common.median(ratios), 3),
                "ratio_of_medians": round(
                    common.median(runs.batch_s["all"]) / common.median(runs.batch_s[baseline]), 3
                ),
                "runs": [round(r, 3) for r in ratios],
                "meaning": f"seconds per batch of 1,000, all indexes / {baseline}",
            }
    return figures


# Databases: empty ones for the seed, clones for the ingest comparison


@contextlib.contextmanager
def empty_database(kind: str) -> Iterator[str]:
    """A new, empty (unmigrated) scratch database of this kind, dropped afterwards; its URL."""
    if kind == "postgresql":
        name = f"audittrail_bench_{uuid.uuid4().hex[:12]}"
        postgres_admin(f'CREATE DATABASE "{name}"')
        try:
            yield database_url(name)
        finally:
            postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        folder = Path(tempfile.mkdtemp(prefix="audittrail-bench-query-"))
        try:
            yield f"sqlite:///{folder / 'audittrail.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def database_url(name: str) -> str:
    return make_url(common.POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def postgres_admin(sql: str) -> None:
    async def execute() -> None:
        connection = await asyncpg.connect(asyncpg_dsn(common.POSTGRES_URL), timeout=10)
        try:
            await connection.execute(sql, timeout=3600)
        finally:
            await connection.close()

    asyncio.run(execute())


def database_bytes(url: str) -> int:
    if make_url(url).get_backend_name() == "postgresql":
        sql = Sql(url)
        try:
            return int(sql.value("SELECT pg_database_size(current_database())"))
        finally:
            sql.close()
    path = Path(common.sqlite_path(url))
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


@contextlib.contextmanager
def clone(url: str, suffix: str) -> Iterator[str]:
    """A copy of the (idle) database at `url`, dropped afterwards."""
    if make_url(url).get_backend_name() == "postgresql":
        source = make_url(url).database
        name = f"{source}_{suffix}"
        postgres_admin(f'CREATE DATABASE "{name}" TEMPLATE "{source}" STRATEGY FILE_COPY')
        try:
            yield database_url(name)
        finally:
            postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    path = Path(common.sqlite_path(url))
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    copy = path.with_name(f"{path.stem}-{suffix}.db")
    shutil.copyfile(path, copy)
    try:
        yield f"sqlite:///{copy}"
    finally:
        for leftover in copy.parent.glob(copy.name + "*"):
            leftover.unlink(missing_ok=True)


def drop_indexes(url: str, variant: str) -> list[str]:
    """Take the variant's indexes away from a clone (see the module's docstring); what went."""
    kind = make_url(url).get_backend_name()
    others = (*OTHER_NEW_INDEXES[kind], *NEW_SORT_INDEXES) if variant == "none" else ()
    if kind == "postgresql":
        sql = Sql(url)
        try:
            present = {name for (name,) in sql.rows("SELECT indexname FROM pg_indexes")}
            dropped = [name for name in (SEARCH_INDEX, *others) if name in present]
            for index in dropped:
                sql.rows(f"DROP INDEX {index}")
        finally:
            sql.close()
        return dropped
    with contextlib.closing(sqlite3.connect(common.sqlite_path(url))) as connection:
        present = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
        dropped = [name for name in others if name in present]
        connection.execute("DROP TABLE records_search")
        connection.execute(SQLITE_PLAIN_SEARCH)
        for index in dropped:
            connection.execute(f"DROP INDEX {index}")
        connection.commit()
    return ["records_search (FTS5, replaced by a plain table)", *dropped]


def check_disk(url: str, copies: int) -> None:
    """Fail before cloning rather than fill the disk: `copies` more of the database must fit.
    No check where the database's folder is out of sight (not allowed to ask, another host)."""
    needed = database_bytes(url) * copies * 1.1
    if make_url(url).get_backend_name() == "postgresql":
        sql = Sql(url)
        try:
            folder = str(sql.value("SHOW data_directory"))
        except asyncpg.PostgresError:
            return
        finally:
            sql.close()
    else:
        folder = str(Path(common.sqlite_path(url)).parent)
    with contextlib.suppress(OSError):
        free = shutil.disk_usage(folder).free
        if free < needed:
            raise RuntimeError(
                f"cloning needs {needed / 2**30:.1f} GiB free at {folder}, has {free / 2**30:.1f}"
            )


# One database


@dataclass
class Options:
    records: int
    rounds: int
    batches: int
    singles: int
    databases: tuple[str, ...]
    sections: tuple[str, ...] = ("list", "stats")


def seed(url: str, records: int, environment: dict[str, str]) -> None:
    """`audittrail seed` on the empty database, as an operator would run it."""
    command = [
        str(Path(sys.executable).parent / "audittrail"),
        *("seed", "--records", str(records), "--seed", str(SEED)),
    ]
    environment = {**environment, "AUDITTRAIL_DATABASE_URL": url}
    subprocess.run(command, env=environment, stdout=sys.stderr, stderr=sys.stderr, check=True)


def server_for(kind: str, name: str, url: str, folder: Path) -> Server:
    environment = support.audittrail_environment(url, folder, kind) | RATE_LIMITS
    # The "no_rollups" variant: the same service but for the rollups' upkeep.
    factory = (
        "bench.no_rollups_app:create_app" if name == "no_rollups" else "audittrail.app:create_app"
    )
    return Server(f"{kind}-{name}", factory, environment, folder / f"{name}.log")


def one_database(kind: str, options: Options) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-query-") as scratch,
        empty_database(kind) as url,
    ):
        folder = Path(scratch)
        server = server_for(kind, "all", url, folder)
        common.log(f"{kind}: seeding {options.records:,} records")
        started = time.perf_counter()
        seed(url, options.records, server.environment)
        results["seed_seconds"] = round(time.perf_counter() - started, 1)
        common.log(f"{kind}: seeded in {results['seed_seconds']} s")
        if kind == "postgresql":
            started = time.perf_counter()
            postgres_on(url, "VACUUM ANALYZE records")
            results["vacuum_analyze_seconds"] = round(time.perf_counter() - started, 1)
        results["database_mib"] = round(database_bytes(url) / 2**20, 1)
        with support.serving(server), support.admin_client(server) as client:
            client.get(RECORDS_PATH, params={"page_size": 1}).raise_for_status()
            sql = Sql(url)
            try:
                common.log(f"{kind}: picking the shapes' values")
                started = time.perf_counter()
                shapes, picked = pick_shapes(sql)
                results["records"] = picked.rows
                results["picked"] = picked.notes | {
                    "seconds": round(time.perf_counter() - started, 1)
                }
                if "list" in options.sections:
                    results["shapes"] = measure_shapes(kind, client, sql, shapes, options.rounds)
                if "stats" in options.sections:
                    results["stats"] = measure_stats(kind, client, sql, shapes, options.rounds)
                if "export" in options.sections:
                    results["export"] = export_shapes.measure(
                        client, server, sql, folder, EXPORT_ROUNDS
                    )
                if "pages" in options.sections:
                    results["pages"] = measure_pages(kind, client, sql, shapes, options.rounds)
            finally:
                sql.close()
            measures_ingest = bool({"list", "stats"} & set(options.sections))
            if measures_ingest:
                bodies = accepted(client, sample_bodies(client, picked.rows))
        if "export" in options.sections:
            with clone(url, "import") as target:
                results["export"]["import"] = export_shapes.import_rate(
                    folder / "export.ndjson", target, server.environment
                )
        if measures_ingest:
            results["ingest"] = ingest_cost(kind, url, folder, bodies, options)
    return results


def measure_stats(
    kind: str, client: httpx.Client, sql: Sql, shapes: list[Shape], rounds: int
) -> dict[str, Any]:
    """bench/stats_shapes.py's shapes; their search, the list's common word."""
    words = [s.params["search"] for s in shapes if s.name == "search_common_word"]
    stats = stats_shapes.pick(kind, client, sql, words[0] if words else None)
    return stats_shapes.measure(kind, client, stats, rounds)


def measure_pages(
    kind: str, client: httpx.Client, sql: Sql, shapes: list[Shape], rounds: int
) -> dict[str, Any]:
    """bench/page_shapes.py's pages; the records pages' values, the list's shapes'."""
    common.log(f"{kind}: picking the pages")
    pages = page_shapes.pick(client, sql, shapes)
    return page_shapes.measure(kind, client, pages, rounds)


def postgres_on(url: str, sql_text: str) -> None:
    sql = Sql(url)
    try:
        sql.rows(sql_text)
    finally:
        sql.close()


def ingest_cost(
    kind: str, url: str, folder: Path, bodies: list[dict[str, Any]], options: Options
) -> dict[str, Any]:
    variants = ()
    if "list" in options.sections:
        variants += ("no_search", "none")
    if "stats" in options.sections:
        variants += ("no_rollups",)
    check_disk(url, len(variants))
    dropped = {}
    with contextlib.ExitStack() as stack:
        urls = {"all": url}
        for variant in variants:
            common.log(f"{kind}: cloning the seeded database ({variant})")
            urls[variant] = stack.enter_context(clone(url, variant))
            if variant != "no_rollups":
                dropped[variant] = drop_indexes(urls[variant], variant)
        servers = {
            name: stack.enter_context(support.serving(server_for(kind, name, u, folder)))
            for name, u in urls.items()
        }
        common.log(
            f"{kind}: ingest, {options.rounds} rounds of {options.batches} batches of {BATCH:,} "
            f"and {options.singles} single POSTs on each of {', '.join(servers)}"
        )
        runs = measure_ingest(servers, bodies, options.rounds, options.batches, options.singles)
    figures = ingest_figures(runs)
    figures["settings"] = {
        "rounds": options.rounds,
        "batches_per_round": options.batches,
        "singles_per_round": options.singles,
        "replayed_records": len(bodies),
        "databases": "clones of the seeded database, after the queries",
        "variants": {"all": "as migrated"}
        | {variant: "without " + ", ".join(names) for variant, names in dropped.items()}
        | ({"no_rollups": "the rollups' upkeep switched off"} if "no_rollups" in urls else {}),
    }
    return figures


# The run


def benchmark(options: Options) -> tuple[dict[str, Any], dict[str, Any]]:
    results: dict[str, Any] = {
        "settings": {
            "records": options.records,
            "seed": SEED,
            "rounds": options.rounds,
            "page_size": PAGE_SIZE,
            "client": "httpx, one keep-alive connection, sequential; wall time per request",
            "server": "uvicorn, 1 worker, uvloop, httptools, no access log; rate limits "
            "counted but out of reach",
            "percentiles": "bench.common.percentile (nearest rank, rounded) of the timed calls "
            "after one warm-up call: with 20 calls, p95 is the slowest",
        }
    }
    for kind in options.databases:
        results[kind] = one_database(kind, options)
    return results, targets(results, options.databases)


def targets(results: dict[str, Any], databases: Sequence[str]) -> dict[str, Any]:
    judged: dict[str, Any] = {}
    for kind in databases:
        if "shapes" in results[kind]:
            shapes = results[kind]["shapes"]
            for name, shape in shapes.items():
                judged[f"{kind}_{name}_p95_ms"] = common.below(
                    shape["p95_ms"], shape["target_p95_ms"]
                )
            judged[f"{kind}_inexact_totals"] = common.at_most(
                sum(not shape["exact"] for shape in shapes.values()), 0
            )
        if "stats" in results[kind]:
            judged |= stats_shapes.targets(kind, results[kind]["stats"])
        if "export" in results[kind]:
            judged |= export_shapes.targets(kind, results[kind]["export"])
        if "pages" in results[kind]:
            judged |= page_shapes.targets(kind, results[kind]["pages"])
        ingest = results[kind].get("ingest")
        if ingest is None:
            continue
        if "ratio_search_index" in ingest:
            judged[f"{kind}_search_index_batch_ingest_ratio"] = common.at_most(
                ingest["ratio_search_index"]["median_of_round_ratios"], TARGET_SEARCH_INGEST_RATIO
            )
        if "ratio_rollups" in ingest:
            judged[f"{kind}_rollups_batch_ingest_ratio"] = common.at_most(
                ingest["ratio_rollups"]["median_of_round_ratios"], TARGET_ROLLUPS_INGEST_RATIO
            )
        judged[f"{kind}_single_post_p99_ms"] = common.below(
            ingest["all"]["single_p99_ms"], TARGET_SINGLE_P99_MS
        )
    return judged


def main() -> None:
    arguments = common.parser(__doc__.splitlines()[0], records=DEFAULT_RECORDS, meaning="records")
    arguments.add_argument(
        "--quick", action="store_true", help=f"a smoke run: {QUICK_RECORDS:,} records"
    )
    arguments.add_argument(
        "--rounds",
        type=int,
        default=20,
        help="timed calls per shape, and ingest rounds (default 20)",
    )
    arguments.add_argument(
        "--batches",
        type=int,
        default=5,
        help="batches of 1,000 per server per ingest round (default 5)",
    )
    arguments.add_argument(
        "--singles",
        type=int,
        default=20,
        help="single POSTs per server per ingest round (default 20)",
    )
    arguments.add_argument(
        "--sections",
        default="list,stats",
        help="what to measure: list (the record list's shapes, and its indexes' ingest cost), "
        "stats (statistics and analytics, and the rollups' ingest cost), export (exports, packs "
        "and import: bench/export_shapes.py), pages (the web viewer's pages against their API "
        "calls: bench/page_shapes.py); default list,stats",
    )
    parsed = arguments.parse_args()
    sections = tuple(part.strip() for part in parsed.sections.split(",") if part.strip())
    if not sections or not set(sections) <= {"list", "stats", "export", "pages"}:
        arguments.error("--sections takes list, stats, export, pages or several, comma-separated")
    records = parsed.records
    if parsed.quick and records == DEFAULT_RECORDS:
        records = QUICK_RECORDS
    options = Options(
        records, parsed.rounds, parsed.batches, parsed.singles, parsed.databases, sections
    )
    common.run("query", lambda: benchmark(options))


if __name__ == "__main__":
    main()
