"""The verifier stays importable without the server's dependencies."""

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
SERVER_ONLY = ("fastapi", "starlette", "sqlalchemy", "pydantic", "rfc8785", "orjson")

CHECK = f"""
import sys
import audittrail.integrity.verify
import audittrail.integrity.pack
loaded = sorted(
    name for name in sys.modules
    if name.split(".")[0] in {SERVER_ONLY!r} or name == "audittrail.integrity.canonical"
)
print(" ".join(loaded))
"""


def test_verify_and_the_pack_checker_import_only_the_standard_library_and_cryptography() -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    result = subprocess.run(
        [sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == []
