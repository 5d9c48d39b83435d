"""The Prometheus instruments of this process: what the code counts as it works, and the gauges
metrics.py samples.

One set per process, as prometheus_client intends. With several workers (PROMETHEUS_MULTIPROC_DIR
set before this module is first imported: `audittrail serve --workers N` does it, metrics.py),
each process writes its values to files of its own there and a scrape adds them up; a gauge's
`multiprocess_mode` says how (a queue's depth is summed over the live workers, the log's size is
the most recent sample of any). Labels take only values from a fixed set, never from a request:
a route's template (its path with the `{id}` left in), the method if it is a standard one, the
status, an error code of ours.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics
from starlette.routing import Mount
from starlette.types import Scope

# A `_created` series per counter only doubles what a scrape reads (and multi-process mode has
# none): a restart shows as a counter reset, as Prometheus expects.
disable_created_metrics()  # type: ignore[no-untyped-call]

# The route label of a request no route answered: unknown paths (404), redirects to the path
# with or without its slash, and what the guards refuse before routing (a NUL in the URL).
UNMATCHED = "unmatched"
OTHER_METHOD = "other"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

http_requests = Counter(
    "audittrail_http_requests",
    "Requests answered, by route template, method and status (0: the client left first).",
    ["route", "method", "status"],
)
http_request_seconds = Histogram(
    "audittrail_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer.",
    ["route", "method", "status"],
    buckets=_SECONDS,
)
unavailable_responses = Counter(
    "audittrail_unavailable_responses",
    "503 answers, by error code (COMMIT_FAILED, OVERLOADED, DATABASE_UNAVAILABLE, NOT_READY...).",
    ["code"],
)

commit_batches = Counter("audittrail_commit_batches", "Group commits that succeeded.")
committed_records = Counter(
    "audittrail_committed_records", "Records committed by group commit (replays not counted)."
)
failed_batches = Counter(
    "audittrail_failed_batches", "Group commits that failed (each request of one answered 503)."
)
largest_batch = Gauge(
    "audittrail_largest_batch_records",
    "Most records in one group commit since the process started.",
    multiprocess_mode="max",
)
batch_records = Histogram(
    "audittrail_commit_batch_records",
    "Records per successful group commit.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048),
)
commit_wait_seconds = Histogram(
    "audittrail_commit_wait_seconds",
    "Time a request waited for the group commit that stored its records (queue and commit).",
    buckets=(0.0005, *_SECONDS),
)

# Sampled by metrics.py: at each scrape, and every few seconds where another process reads them.
write_queue = Gauge(
    "audittrail_write_queue_requests",
    "Requests waiting for a group commit.",
    multiprocess_mode="livesum",
)
pool_checked_out = Gauge(
    "audittrail_database_connections_checked_out",
    "Database connections in use, by pool (write, read, replica: metrics.pools).",
    ["pool"],
    multiprocess_mode="livesum",
)
pool_size = Gauge(
    "audittrail_database_pool_size",
    "Connections a pool keeps (it may open a quarter more on PostgreSQL under load).",
    ["pool"],
    multiprocess_mode="livesum",
)
log_records = Gauge(
    "audittrail_log_records",
    "Records in the log (its head's size).",
    multiprocess_mode="livemostrecent",
)
checkpoint_records = Gauge(
    "audittrail_checkpoint_records",
    "Records the latest signed checkpoint covers.",
    multiprocess_mode="livemostrecent",
)
checkpoint_age_seconds = Gauge(
    "audittrail_checkpoint_age_seconds",
    "Seconds since the latest checkpoint was signed (since the process started, if none was).",
    multiprocess_mode="livemostrecent",
)

_Children = tuple[Counter, Histogram]
_request_children: dict[tuple[str, str, str], _Children] = {}


def observe_request(scope: Scope, status: int, seconds: float) -> None:
    """Count one answered request under its route's template."""
    method = scope["method"] if scope["method"] in METHODS else OTHER_METHOD
    key = (route_template(scope), method, str(status))
    children = _request_children.get(key)
    if children is None:  # labels() takes a lock and builds the key: once per combination
        children = (http_requests.labels(*key), http_request_seconds.labels(*key))
        _request_children[key] = children
    children[0].inc()
    children[1].observe(seconds)


def route_template(scope: Scope) -> str:
    """The path of the route that answered (set by Starlette's router, and by the intake's
    records/ingest.py), never the request's own path: an id or a hostile URL is no label."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    return f"{path}/{{path}}" if isinstance(route, Mount) else path


def observe_commit(records: int, largest: int) -> None:
    """One successful group commit of this many new records; the process's largest so far."""
    commit_batches.inc()
    committed_records.inc(records)
    batch_records.observe(records)
    largest_batch.set(largest)
