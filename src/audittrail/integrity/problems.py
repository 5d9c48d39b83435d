"""What a check of the log or of a pack finds wrong, each named by the record it concerns.

Standard library only: the pack checker (integrity/pack.py) needs nothing but `cryptography`.
"""

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    CHANGED = "changed content"
    MISSING = "missing record"
    EXTRA = "extra record"
    REORDERED = "reordered records"
    ROOT_MISMATCH = "root mismatch"
    BAD_SIGNATURE = "bad signature"
    INCONSISTENT = "inconsistent checkpoints"
    MANIFEST_MISMATCH = "manifest mismatch"


EXACT = {Kind.CHANGED, Kind.MISSING, Kind.EXTRA, Kind.REORDERED}


@dataclass(frozen=True)
class Problem:
    kind: Kind
    seq: int | None
    message: str

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "log"
        return f"{where}: {self.kind.value}: {self.message}"
