"""Every RFC 6962 proof vector of transparency-dev/merkle, through the verifier."""

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from audittrail.integrity.verify import VerificationError, verify_consistency, verify_inclusion

DATA = Path(__file__).parent / "data" / "rfc6962"
CASES = sorted(DATA.glob("*/**/*.json"))


def decode(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def proof_of(case: dict[str, Any]) -> list[bytes]:
    return [decode(element) for element in case.get("proof") or []]


def verify_case(case: dict[str, Any]) -> None:
    if "leafIdx" in case:
        verify_inclusion(
            case["leafIdx"],
            case["treeSize"],
            decode(case["leafHash"]),
            proof_of(case),
            decode(case["root"]),
        )
    else:
        verify_consistency(
            case["size1"],
            case["size2"],
            proof_of(case),
            decode(case["root1"]),
            decode(case["root2"]),
        )


def test_every_vector_is_here() -> None:
    kinds = {path.relative_to(DATA).parts[0] for path in CASES}
    assert kinds == {"inclusion", "consistency"}
    assert len(CASES) >= 196


@pytest.mark.parametrize("path", CASES, ids=[str(path.relative_to(DATA)) for path in CASES])
def test_verifier_agrees_with_vector(path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    if case["wantErr"]:
        with pytest.raises(VerificationError):
            verify_case(case)
    else:
        verify_case(case)
