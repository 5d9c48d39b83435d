"""The export section of bench/query.py (issue 15): exports streamed, packs verified, imports.

On the seeded database: the whole log exported as NDJSON and as CSV through HTTP, read chunk by
chunk (records per second, and how far the server's resident set grew above where it was
before the export); an evidence pack of the last 100,000 records (one range proof) and one of
100,000 records of one application (an inclusion proof each), each downloaded and then verified
offline in this process, as an auditor would; and the NDJSON export imported into an empty
database by `audittrail import` (records per second).
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from audittrail.integrity.pack import verify_pack
from bench import common
from bench import ingest_support as support

EXPORT_PATH = "/api/audit-trail/export"
PACK_RECORDS = 100_000
CHUNK = 1 << 16
# Imported from the export's start: the rate, without a million records' wait.
IMPORT_RECORDS = 200_000

TARGET_POSTGRES_EXPORT_RECORDS_PER_SECOND = 50_000.0
TARGET_EXPORT_RSS_GROWTH_MIB = 50.0
TARGET_PACK_VERIFY_SECONDS = 5.0
TARGET_POSTGRES_IMPORT_RECORDS_PER_SECOND = 20_000.0


def stream(
    client: httpx.Client, server: support.Server, params: dict[str, str], out: Path | None
) -> dict[str, Any]:
    """One export read to its end (kept in `out` if given): its rate and the server's growth."""
    assert server.process is not None
    before = support.resident_kib(server.process.pid) or 0
    sampler = support.RssSampler(server.process.pid, interval=0.05)
    sampler.start()
    lines = 0
    started = time.perf_counter()
    try:
        with (
            client.stream("GET", EXPORT_PATH, params=params, timeout=3600) as response,
            out.open("wb") if out else io.BytesIO() as sink,
        ):
            response.raise_for_status()
            for chunk in response.iter_bytes(CHUNK):
                lines += chunk.count(b"\n")
                sink.write(chunk)
    finally:
        sampler.stop()
    seconds = time.perf_counter() - started
    records = lines - 1  # NDJSON's manifest line; CSV's header
    return {
        "records": records,
        "seconds": round(seconds, 2),
        "records_per_second": round(records / seconds),
        "rss_growth_mib": round((sampler.max_kib - before) / 1024, 1),
    }


def exports(
    client: httpx.Client, server: support.Server, folder: Path, rounds: int
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for export_format in ("ndjson", "csv"):
        runs = []
        for round_number in range(rounds):
            keep = (
                folder / "export.ndjson"
                if export_format == "ndjson" and round_number == 0
                else None
            )
            common.log(f"export {export_format}, round {round_number + 1} of {rounds}")
            runs.append(stream(client, server, {"format": export_format}, keep))
        results[export_format] = {
            "runs": runs,
            "median_records_per_second": round(
                common.median([run["records_per_second"] for run in runs])
            ),
            "max_rss_growth_mib": max(run["rss_growth_mib"] for run in runs),
        }
    return results


def packs(client: httpx.Client, sql: Any, folder: Path, rounds: int) -> dict[str, Any]:
    """The two packs of 100,000 records: downloaded once, verified `rounds` times."""
    size = sql.value("SELECT size FROM log_head")
    [(application_id, _count)] = sql.rows(
        "SELECT application_id, count(*) FROM records WHERE application_id IS NOT NULL "
        "GROUP BY application_id ORDER BY count(*) DESC LIMIT 1"
    )
    start = sql.value(
        "SELECT seq FROM records WHERE application_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?",
        application_id,
        PACK_RECORDS - 1,
    )
    key = client.get("/api/audit-trail/log/key").text.strip()
    shapes = {
        "range": {"format": "pack", "seq_from": str(max(0, size - PACK_RECORDS))},
        "per_record_proofs": {
            "format": "pack",
            "application_id": application_id,
            "seq_from": str(start or 0),
        },
    }
    results: dict[str, Any] = {}
    for name, params in shapes.items():
        path = folder / f"{name}.zip"
        common.log(f"pack {name}: downloading")
        started = time.perf_counter()
        with client.stream("GET", EXPORT_PATH, params=params, timeout=3600) as response:
            response.raise_for_status()
            with path.open("wb") as out:
                for chunk in response.iter_bytes(CHUNK):
                    out.write(chunk)
        download = time.perf_counter() - started
        times = []
        report = None
        for _ in range(rounds):
            started = time.perf_counter()
            report = verify_pack(path, key)
            times.append(time.perf_counter() - started)
        assert report is not None and report.ok, report.problems if report else None
        results[name] = {
            "records": report.records,
            "zip_mib": round(path.stat().st_size / 2**20, 1),
            "download_seconds": round(download, 2),
            "verify_seconds": [round(t, 2) for t in times],
            "median_verify_seconds": round(common.median(times), 2),
        }
    return results


def import_rate(export_file: Path, target_url: str, environment: dict[str, str]) -> dict[str, Any]:
    """`audittrail import` of the export's first IMPORT_RECORDS lines into `target_url` (a
    clone of the seeded database: the applications its records name are registered there)."""
    part = export_file.with_name("import.ndjson")
    with export_file.open("rb") as source, part.open("wb") as out:
        for number, line in enumerate(source):
            if number == IMPORT_RECORDS or line.startswith(b'{"checkpoint"'):
                break
            out.write(line)
    lines = sum(1 for _ in part.open("rb"))
    common.log(f"importing {lines:,} records")
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "audittrail"), "import", str(part)],
        env={**environment, "AUDITTRAIL_DATABASE_URL": target_url},
        check=True,
        stdout=sys.stderr,
        stderr=sys.stderr,
    )
    seconds = time.perf_counter() - started
    return {
        "records": lines,
        "seconds": round(seconds, 1),
        "records_per_second": round(lines / seconds),
        "into": "a clone of the seeded database",
    }


def measure(
    client: httpx.Client,
    server: support.Server,
    sql: Any,
    folder: Path,
    rounds: int,
) -> dict[str, Any]:
    return {
        "exports": exports(client, server, folder, rounds),
        "packs": packs(client, sql, folder, rounds),
    }


def targets(kind: str, results: dict[str, Any]) -> dict[str, Any]:
    judged: dict[str, Any] = {}
    for export_format, figures in results["exports"].items():
        if kind == "postgresql":
            judged[f"{kind}_export_{export_format}_records_per_second"] = common.at_least(
                figures["median_records_per_second"], TARGET_POSTGRES_EXPORT_RECORDS_PER_SECOND
            )
        judged[f"{kind}_export_{export_format}_rss_growth_mib"] = common.below(
            figures["max_rss_growth_mib"], TARGET_EXPORT_RSS_GROWTH_MIB
        )
    for name, figures in results["packs"].items():
        judged[f"{kind}_pack_{name}_verify_seconds"] = common.below(
            figures["median_verify_seconds"], TARGET_PACK_VERIFY_SECONDS
        )
    if kind == "postgresql" and "import" in results:
        judged[f"{kind}_import_records_per_second"] = common.at_least(
            results["import"]["records_per_second"], TARGET_POSTGRES_IMPORT_RECORDS_PER_SECOND
        )
    return judged
