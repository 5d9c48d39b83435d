"""A served app freezes its start-up heap and collects garbage in larger rounds (runtime.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from audittrail import runtime

# In a process of its own: the collector's settings are the whole process's.
SERVE = """
import asyncio, gc, json, sys
from audittrail.app import create_app
from audittrail.config import Settings

async def main():
    folder = sys.argv[1]
    settings = Settings(
        database_url=f"sqlite:///{folder}/gc.db",
        secret_key="runtime-test-secret-" + "s" * 40,
        log_key_file=f"{folder}/log.key",
        **json.loads(sys.argv[2]),
    )
    before = gc.get_threshold()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        print(json.dumps([before, gc.get_threshold(), gc.get_freeze_count()]))

asyncio.run(main())
"""


def served(tmp_path: Path, **settings: object) -> tuple[list[int], list[int], int]:
    answer = subprocess.run(
        [sys.executable, "-c", SERVE, str(tmp_path), json.dumps(settings)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    before, during, frozen = json.loads(answer.stdout.splitlines()[-1])
    return before, during, frozen


def test_by_default_the_start_up_heap_is_frozen(tmp_path: Path) -> None:
    before, during, frozen = served(tmp_path)
    assert during == [runtime.YOUNG_THRESHOLD, runtime.MIDDLE_THRESHOLD, runtime.OLD_THRESHOLD]
    assert during != before
    assert frozen > 10_000  # modules, models, schemas: everything start-up made


def test_tune_gc_off_leaves_the_collector_alone(tmp_path: Path) -> None:
    before, during, frozen = served(tmp_path, tune_gc=False)
    assert during == before
    assert frozen == 0
