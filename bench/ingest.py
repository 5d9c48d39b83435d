"""Benchmark: ingest through HTTP, in records/s and latency, against baselines (issues 4 and 17).

The service runs as deployed (`audittrail serve`: uvicorn with uvloop and httptools, no access
log) on a scratch database of each kind, with one worker process and then with two, and wrk
drives it with bench/wrk/records.lua: single POSTs at 1 and 32 connections, batches of 100 and
1,000 records (JSON arrays) at a few connections; with two workers, single POSTs at 32
connections and batches of 1,000. Each record has a unique summary and names an application
whose typed params it is checked against.

Two baselines are measured in the same run, on the same machine:
  (a) the echo app of bench.ingest_support, served by uvicorn with as many workers: it validates
      the same body with the same RecordCreate and sends it back, with no database. Single POSTs
      are compared to it at the same connection count and the same number of workers.
  (b) raw driver inserts of the same rows into a scratch records table, no HTTP and no log
      (asyncpg COPY on PostgreSQL, sqlite3 executemany on SQLite), one transaction per batch of
      the same size. Batches are compared to it.
The scaling is each figure with two workers over the same with one. Every figure is the median
of --runs runs; the runs go round by round through every figure, so drift in the machine's load
falls on all of them alike. Afterwards, every server is shut down and checked: each
acknowledged record is in its database, once, and `audittrail verify` accepts the log. The
server's resident memory (its workers' summed) is sampled throughout.

With --million, instead: 1,000,000 records in batches of 1,000 into each database, reporting
throughput and the server's largest resident set.

    .venv/bin/python -m bench.ingest [--quick] [--million] [--databases postgresql,sqlite]
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import common
from bench import ingest_support as support
from bench.ingest_support import RawInserts, Server, WrkRun

BATCH_CONNECTIONS = 4
COMMIT_COUNTERS = ("commit_batches_total", "committed_records_total")
MILLION = 1_000_000
TARGET_SINGLE_RATIO = 0.6
TARGET_SINGLE_P99_MS = 50.0
TARGET_BATCH_RATIO = 0.6
TARGET_RSS_MIB = 300.0
SCALED_WORKERS = 2


@dataclass(frozen=True)
class Load:
    """One shape of traffic: records per request (0: single POST) and connections."""

    name: str
    per_request: int
    connections: int


SINGLE_1 = Load("single_c1", 0, 1)
SINGLE_32 = Load("single_c32", 0, 32)
LOADS = (
    SINGLE_1,
    SINGLE_32,
    Load("batch_100", 100, BATCH_CONNECTIONS),
    Load("batch_1000", 1000, BATCH_CONNECTIONS),
)
ECHO_LOADS = (SINGLE_1, SINGLE_32)
BATCH_1000 = LOADS[3]
SCALED_LOADS = (SINGLE_32, BATCH_1000)
SCALED_ECHO_LOADS = (SINGLE_32,)
MILLION_LOAD = Load("million", 1000, BATCH_CONNECTIONS)


@dataclass(frozen=True)
class Measured:
    """One run of a load: what wrk saw, the server's CPU time, the group commits it made."""

    wrk: WrkRun
    server_cpu_s: float
    commits: int | None
    committed: int | None

    @property
    def cpu_ms_per_record(self) -> float:
        return 1000 * self.server_cpu_s / max(1, self.wrk.acknowledged_records)


@dataclass
class Target:
    """A server under test and what was measured on it, load by load."""

    name: str
    server: Server
    loads: tuple[Load, ...]
    runs: dict[str, list[Measured]] = field(default_factory=dict)
    warm_up_records: int = 0

    @property
    def acknowledged(self) -> int:
        measured = sum(m.wrk.acknowledged_records for runs in self.runs.values() for m in runs)
        return measured + self.warm_up_records

    def drive(self, load: Load, seconds: int, tag: str, limit: int = 0) -> Measured:
        counting = not self.name.startswith("echo")
        before = support.commit_counters(self.server) if counting else {}
        cpu = self.server.cpu_seconds
        run = support.run_wrk(
            self.server.url,
            per_request=load.per_request,
            connections=load.connections,
            seconds=seconds,
            tag=tag,
            limit=limit,
        )
        cpu = self.server.cpu_seconds - cpu
        measured = Measured(run, cpu, None, None)
        if counting:
            after = support.commit_counters(self.server)
            commits, committed = (after[name] - before[name] for name in COMMIT_COUNTERS)
            measured = Measured(run, cpu, commits, committed)
        self.runs.setdefault(load.name, []).append(measured)
        failed = f", failed {run.failures}" if run.failures else ""
        common.log(
            f"  {self.name} {load.name}: {run.records_per_s:,.0f} records/s, "
            f"p50 {run.latency_ms['p50']:.1f} ms, p99 {run.latency_ms['p99']:.1f} ms, "
            f"server CPU {measured.cpu_ms_per_record:.3f} ms/record{failed}"
        )
        return measured

    def warm_up(self, seconds: int) -> None:
        """Connections, caches and the frontier warm; not measured, but counted as written."""
        for load in self.loads:
            run = support.run_wrk(
                self.server.url,
                per_request=load.per_request,
                connections=load.connections,
                seconds=seconds,
                tag=f"warm-{load.name}",
            )
            self.warm_up_records += run.acknowledged_records


def figure(runs: list[Measured]) -> dict[str, Any]:
    """The medians of a load's runs, and the runs themselves."""
    figures = {
        "records_per_s": round(common.median([m.wrk.records_per_s for m in runs]), 1),
        "p50_ms": round(common.median([m.wrk.latency_ms["p50"] for m in runs]), 2),
        "p99_ms": round(common.median([m.wrk.latency_ms["p99"] for m in runs]), 2),
        "server_cpu_ms_per_record": round(common.median([m.cpu_ms_per_record for m in runs]), 4),
        "runs_records_per_s": [round(m.wrk.records_per_s, 1) for m in runs],
        "runs_p99_ms": [round(m.wrk.latency_ms["p99"], 2) for m in runs],
        "failed_answers": _merged([m.wrk.failures for m in runs]),
    }
    commits = sum(m.commits or 0 for m in runs)
    if commits:
        figures["records_per_commit"] = round(sum(m.committed or 0 for m in runs) / commits, 1)
    return figures


def _merged(counts: list[dict[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for count in counts:
        for key, value in count.items():
            merged[key] = merged.get(key, 0) + value
    return merged


def _ratio(value: float, baseline: float) -> float:
    return round(value / baseline, 3) if baseline else 0.0


# The full benchmark


@dataclass
class Options:
    seconds: int
    runs: int
    warm_up: int
    databases: tuple[str, ...]


def benchmark(options: Options) -> tuple[dict[str, Any], dict[str, Any]]:
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ingest-")))
        echoes = {
            workers: Target(name, _echo_server(name, folder, workers), loads)
            for name, workers, loads in (
                ("echo", 1, ECHO_LOADS),
                (_scaled("echo"), SCALED_WORKERS, SCALED_ECHO_LOADS),
            )
        }
        for echo in echoes.values():
            stack.enter_context(support.serving(echo.server))
        targets, raw, urls = {}, {}, {}
        for kind in options.databases:
            raw[kind] = RawInserts(stack.enter_context(common.scratch_database(kind)))
            for name, workers, loads in (
                (kind, 1, LOADS),
                (_scaled(kind), SCALED_WORKERS, SCALED_LOADS),
            ):
                urls[name] = stack.enter_context(common.scratch_database(kind))
                server = _audittrail_server(name, urls[name], folder, workers)
                targets[name] = Target(name, stack.enter_context(support.serving(server)), loads)
                support.register_application(server)
        raw_rates = _measure(options, list(echoes.values()), targets, raw)
        results: dict[str, Any] = {"settings": _settings(options, LOADS)}
        for echo in echoes.values():
            results[echo.name] = {load.name: figure(echo.runs[load.name]) for load in echo.loads}
            results[echo.name]["server_rss_max_mib"] = echo.server.max_rss_mib
        for name, target in targets.items():
            kind = name.split("_")[0]
            echo_name = "echo" if name == kind else _scaled("echo")
            results[name] = _results(kind, target, results[echo_name], raw_rates[kind], urls[name])
            results[name]["checks"] = _check(target, urls[name], folder)
        results["scaling"] = _scaling(results, ["echo", *options.databases])
        for echo in echoes.values():
            echo.server.stop()
    return results, _targets(results, options.databases)


def _scaled(name: str) -> str:
    return f"{name}_{SCALED_WORKERS}_workers"


def _scaling(results: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Records/s with two workers over one, for each load measured with both."""
    scaling: dict[str, Any] = {}
    for name in names:
        scaled = results[_scaled(name)]
        scaling[name] = {
            load: _ratio(scaled[load]["records_per_s"], results[name][load]["records_per_s"])
            for load in scaled
            if isinstance(scaled[load], dict) and "records_per_s" in scaled[load]
        }
    return scaling


def _echo_server(name: str, folder: Path, workers: int) -> Server:
    environment = support.plain_environment()
    app = "bench.ingest_support:create_echo_app"
    return Server(name, app, environment, folder / f"{name}.log", workers=workers)


def _audittrail_server(name: str, url: str, folder: Path, workers: int = 1) -> Server:
    environment = support.audittrail_environment(url, folder, name)
    return Server(name, None, environment, folder / f"{name}.log", workers=workers)


def _measure(
    options: Options,
    echoes: list[Target],
    targets: dict[str, Target],
    raw: dict[str, RawInserts],
) -> dict[str, dict[str, list[float]]]:
    """Round by round, every figure once; the raw insert rates by database and batch size."""
    common.log("warming up")
    for target in (*echoes, *targets.values()):
        target.warm_up(options.warm_up)
    raw_rates: dict[str, dict[str, list[float]]] = {kind: {} for kind in raw}
    batch_loads = [load for load in LOADS if load.per_request]
    for number in range(1, options.runs + 1):
        common.log(f"round {number}/{options.runs}")
        for target in (*echoes, *targets.values()):
            for load in target.loads:
                target.drive(load, options.seconds, f"r{number}-{load.name}")
        for kind, inserts in raw.items():
            for load in batch_loads:
                rate = inserts.rows_per_s(load.per_request, options.seconds, f"raw{number}")
                raw_rates[kind].setdefault(load.name, []).append(rate)
                common.log(f"  {kind} raw inserts {load.name}: {rate:,.0f} rows/s")
    return raw_rates


def _settings(options: Options, loads: tuple[Load, ...]) -> dict[str, Any]:
    return {
        "seconds_per_run": options.seconds,
        "runs": options.runs,
        "warm_up_seconds": options.warm_up,
        "loads": {load.name: [load.per_request or 1, load.connections] for load in loads},
        "loads_meaning": "[records per request, connections]",
        "server": "audittrail serve (uvicorn, uvloop, httptools, no access log), 1 worker and "
        f"{SCALED_WORKERS}; AUDITTRAIL_* defaults (batch_max 500, batch_wait_ms 2, "
        "sqlite_synchronous NORMAL)",
        "scaled_loads": [load.name for load in SCALED_LOADS],
        "client": "wrk -t1, bench/wrk/records.lua",
        "baseline_echo": "bench.ingest_support.create_echo_app: RecordCreate in, same out; "
        "uvicorn with as many workers as the server it is compared to",
        "baseline_raw": {
            "postgresql": "asyncpg copy_records_to_table, one transaction per batch",
            "sqlite": "sqlite3 executemany, BEGIN IMMEDIATE per batch, WAL, synchronous NORMAL",
        },
    }


def _results(
    kind: str,
    target: Target,
    echo: dict[str, Any],
    raw_rates: dict[str, list[float]],
    url: str,
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if kind == "postgresql":
        results["synchronous_commit"] = support.synchronous_commit(url)
    for load in target.loads:
        measured = figure(target.runs[load.name])
        if load.per_request:
            baseline = common.median(raw_rates[load.name])
            measured["baseline_raw_rows_per_s"] = round(baseline, 1)
            measured["runs_baseline_raw_rows_per_s"] = [round(r, 1) for r in raw_rates[load.name]]
        else:
            baseline = echo[load.name]["records_per_s"]
            measured["baseline_echo_records_per_s"] = baseline
        measured["ratio_to_baseline"] = _ratio(measured["records_per_s"], baseline)
        results[load.name] = measured
    results["server_rss_start_mib"] = round(target.server.started_kib / 1024, 1)
    results["server_rss_max_mib"] = target.server.max_rss_mib
    return results


def _check(target: Target, url: str, folder: Path) -> dict[str, Any]:
    """After a clean shutdown: every acknowledged record stored once; the log verifies."""
    key_file = support.verifier_key(target.server, folder / f"{target.name}.pub")
    exit_code = target.server.stop()
    stored = support.stored_manual_records(url)
    common.log(f"{target.name}: verifying the log of {stored['stored']:,} manual records")
    verified = support.verify_log(url, key_file)
    common.log(f"{target.name}: verify exit {verified['exit_code']}: {verified['output']}")
    return {
        "server_exit_code": exit_code,
        "acknowledged_records": target.acknowledged,
        **stored,
        "verify": verified,
    }


def _targets(results: dict[str, Any], databases: tuple[str, ...]) -> dict[str, Any]:
    targets: dict[str, Any] = {}
    if "postgresql" in databases:
        targets["postgresql_single_c32_p99_ms"] = common.below(
            results["postgresql"]["single_c32"]["p99_ms"], TARGET_SINGLE_P99_MS
        )
    for kind in databases:
        scaled = results[_scaled(kind)]
        targets[f"{kind}_{SCALED_WORKERS}_workers_single_c32_vs_echo"] = common.at_least(
            scaled["single_c32"]["ratio_to_baseline"], TARGET_SINGLE_RATIO
        )
        for name in (kind, _scaled(kind)):
            targets[f"{name}_batch_1000_vs_raw"] = common.at_least(
                results[name]["batch_1000"]["ratio_to_baseline"], TARGET_BATCH_RATIO
            )
    # A process's resident set; with two workers the figure is three processes' sum (the
    # parent's too), reported beside it but not held to the one-process target.
    targets["server_rss_max_mib"] = common.below(
        max(results[kind]["server_rss_max_mib"] for kind in databases), TARGET_RSS_MIB
    )
    names = [name for kind in databases for name in (kind, _scaled(kind))]
    for name in names:
        targets.update(_check_targets(name, results[name]["checks"]))
    return targets


def _check_targets(kind: str, checks: dict[str, Any]) -> dict[str, Any]:
    """The correctness checks, in the targets' form, so a lost record fails the run."""
    return {
        f"{kind}_stored_records_vs_acknowledged": common.at_least(
            checks["stored"], checks["acknowledged_records"]
        ),
        f"{kind}_duplicate_summaries": common.at_most(
            checks["stored"] - checks["distinct_summaries"], 0
        ),
        f"{kind}_verify_exit_code": common.at_most(checks["verify"]["exit_code"], 0),
        f"{kind}_server_exit_code": common.at_most(checks["server_exit_code"], 0),
    }


# --million


def million(options: Options) -> tuple[dict[str, Any], dict[str, Any]]:
    """A million records in batches of 1,000 per database: throughput and resident memory."""
    results: dict[str, Any] = {"settings": _settings(options, (MILLION_LOAD,))}
    results["settings"].update(records=MILLION, seconds_per_run=None, runs=1, warm_up_seconds=0)
    targets: dict[str, Any] = {}
    for kind in options.databases:
        with _million_target(kind) as (target, url, folder):
            measured = _drive_million(target)
            results[kind] = figure([measured]) | {
                "seconds": round(measured.wrk.seconds, 1),
                "server_rss_start_mib": round(target.server.started_kib / 1024, 1),
                "server_rss_max_mib": target.server.max_rss_mib,
            }
            results[kind]["checks"] = _check(target, url, folder)
        targets[f"{kind}_server_rss_max_mib"] = common.below(
            results[kind]["server_rss_max_mib"], TARGET_RSS_MIB
        )
        targets.update(_check_targets(kind, results[kind]["checks"]))
    return results, targets


@contextlib.contextmanager
def _million_target(kind: str) -> Iterator[tuple[Target, str, Path]]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder,
        common.scratch_database(kind) as url,
    ):
        server = _audittrail_server(kind, url, Path(folder))
        with support.serving(server):
            support.register_application(server)
            yield Target(kind, server, ()), url, Path(folder)


def _drive_million(target: Target) -> Measured:
    """wrk until the million is acknowledged: its one thread stops after that many answers."""
    requests = MILLION // MILLION_LOAD.per_request
    common.log(f"{target.name}: {MILLION:,} records in {requests:,} batches")
    measured = target.drive(MILLION_LOAD, 4 * 3600, "million", limit=requests)
    common.log(f"  {target.name}: max RSS {target.server.max_rss_mib} MiB")
    return measured


# Command line


def _databases(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names or any(name not in common.DATABASES for name in names):
        raise argparse.ArgumentTypeError(f"choose from {', '.join(common.DATABASES)}")
    return names


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--quick", action="store_true", help="a smoke run of about 2 minutes")
    arguments.add_argument(
        "--million", action="store_true", help="ingest 1,000,000 records in batches of 1,000"
    )
    arguments.add_argument("--seconds", type=int, help="per run (default 10, quick 2)")
    arguments.add_argument("--runs", type=int, help="per figure (default 3)")
    arguments.add_argument(
        "--databases",
        type=_databases,
        default=common.DATABASES,
        help="comma-separated, of: postgresql, sqlite (default both)",
    )
    parsed = arguments.parse_args()
    options = Options(
        seconds=parsed.seconds or (2 if parsed.quick else 10),
        runs=parsed.runs or 3,
        warm_up=1 if parsed.quick else 3,
        databases=parsed.databases,
    )
    if parsed.million:
        common.run("ingest_million", lambda: million(options))
    else:
        common.run("ingest", lambda: benchmark(options))


if __name__ == "__main__":
    main()
