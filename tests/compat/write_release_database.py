"""Write tests/compat/release-0.1.0.* with release 0.1.0 itself: a database of its schema
holding records, applications, params and signed checkpoints, for tests/ops/test_upgrade.py.

Not a test. Run from the repository's root with release 0.1.0's source unpacked beside it:

    git archive 15820b6 | tar -x -C /tmp/old
    .venv/bin/python -m tests.compat.write_release_database /tmp/old/src

It serves 0.1.0 (`audittrail serve` of that source, on this .venv's libraries, which include
0.1.0's) on a scratch SQLite file and on a scratch PostgreSQL database in turn, sends both the
same requests, and keeps: the SQLite file; the PostgreSQL database as plain SQL INSERTs
(pg_dump --inserts); the log's signing key (a test key, published only here) and its verifier
key; and what 0.1.0 answered for each record it created.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tests.conftest import ADMIN_EMAIL, ADMIN_KEY, ADMIN_PASSWORD, new_postgres_database
from tests.crash.support import free_port

HERE = Path(__file__).parent
RELEASE = "0.1.0"
RECORDS = "/api/audit-trail/records"
APPLICATIONS = "/api/audit-trail/applications"


def serve(source: Path, database_url: str, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    environment = {
        **os.environ,
        "PYTHONPATH": str(source),
        "AUDITTRAIL_DATABASE_URL": database_url,
        "AUDITTRAIL_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
        "AUDITTRAIL_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "AUDITTRAIL_BOOTSTRAP_API_KEY": ADMIN_KEY,
        "AUDITTRAIL_SECRET_KEY_FILE": str(folder / "secret"),
        "AUDITTRAIL_LOG_KEY_FILE": str(HERE / f"release-{RELEASE}-log.key"),
        "AUDITTRAIL_CHECKPOINT_INTERVAL": "0.2",
    }
    command = [sys.executable, "-c", "from audittrail.cli import app; app()"]
    process = subprocess.Popen([*command, "serve", "--port", str(port)], env=environment)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{url}/api/audit-trail/log/head").status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("release 0.1.0 did not start")


def requests(url: str) -> dict[str, Any]:
    """The same history on either database; what 0.1.0 answered for each record."""
    created: list[dict[str, Any]] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:

        def post(path: str, body: Any) -> Any:
            response = client.post(path, json=body)
            assert response.status_code == 201, response.text
            return response.json()

        post(APPLICATIONS, {"key": "billing", "name": "Billing"})
        post(f"{APPLICATIONS}/billing/params", {"key": "amount", "type": "number"})
        post(f"{APPLICATIONS}/billing/params", {"key": "card", "sensitive": True})
        for number in range(30):
            body = {
                "event_type": "invoice.refunded" if number % 3 else "invoice.paid",
                "summary": f"Refunded invoice INV-{1000 + number} (Zoë's order {number})",
                "severity": ("none", "low", "medium", "high", "critical")[number % 5],
                "category": ("billing", "security")[number % 2],
                "application_key": "billing",
                "entity_type": "invoice",
                "entity_id": f"INV-{1000 + number}",
                "params": {"amount": number * 12.5, "card": f"4111-{number:04d}"},
                "metadata": {"n": number, "tags": ["a", "ß"]},
            }
            created.append(post(RECORDS, body))
        batch = [{"event_type": "batch.item", "summary": f"item {n}"} for n in range(20)]
        created += post(f"{RECORDS}/batch", batch)["records"]
        time.sleep(1)  # the checkpointer covers everything
        key = client.get("/api/audit-trail/log/key").text
        checkpoint = client.get("/api/audit-trail/log/checkpoint").text
    return {"records": created, "verifier_key": key, "checkpoint": checkpoint}


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=30)


def main() -> None:
    source = Path(sys.argv[1])
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        sqlite_file = folder / "release.db"
        process, url = serve(source, f"sqlite:///{sqlite_file}", folder)
        try:
            answered = {"sqlite": requests(url)}
        finally:
            stop(process)
        shutil.copy(sqlite_file, HERE / f"release-{RELEASE}.sqlite")
        with new_postgres_database() as postgres_url:
            assert postgres_url is not None, "needs PostgreSQL"
            process, url = serve(source, postgres_url, folder)
            try:
                answered["postgresql"] = requests(url)
            finally:
                stop(process)
            dump = subprocess.run(
                ["pg_dump", "--inserts", "--no-owner", "--no-privileges", postgres_url],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        # Out: psql's meta-commands (lines from a backslash); a driver runs the statements.
        statements = [line for line in dump.splitlines() if not line.startswith("\\")]
        (HERE / f"release-{RELEASE}.sql").write_text("\n".join(statements) + "\n")
    (HERE / f"release-{RELEASE}-answers.json").write_text(json.dumps(answered, indent=1) + "\n")


if __name__ == "__main__":
    main()
