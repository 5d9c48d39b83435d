"""Evidence packs made with the integrity functions alone, as the server would make them."""

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audittrail.integrity.canonical import record_leaf_bytes
from audittrail.integrity.checkpoint import (
    checkpoint_body,
    public_key_bytes,
    sign_checkpoint,
    verifier_key,
)
from audittrail.integrity.hashing import leaf_hash
from audittrail.integrity.manifest import Manifest, manifest_body
from audittrail.integrity.pack import (
    CHECKPOINT,
    MANIFEST,
    PROOFS,
    RANGE_PROOF,
    RECORDS,
    VERIFIER_KEY,
)
from audittrail.integrity.tree import Frontier, inclusion_proof, range_proof, range_proof_ranges

ORIGIN = "audittrail.example/log"
EXPORTED_AT = "2025-01-02T03:04:05.678901Z"


def record(seq: int) -> dict[str, Any]:
    return {
        "id": f"0190f8a0-0000-7000-8000-{seq:012x}",
        "seq": seq,
        "created_at": "2025-01-01T00:00:00.000000Z",
        "event_type": "invoice.paid",
        "category": "billing",
        "summary": f"Invoice inv-{seq} paid by customer c-{seq % 97}",
        "severity": "info",
        "actor": "user:alice@example.com",
        "application_id": None,
        "application_key": "billing",
        "entity_type": "invoice",
        "entity_id": f"inv-{seq}",
        "params": {"amount": seq + 0.25, "currency": "EUR"},
        "metadata": {"request_id": f"req-{seq}"},
        "ip_address": "10.0.0.1",
        "source": "api",
    }


@dataclass
class Log:
    """A log of ``size`` records, every node of its tree kept, and its signing key."""

    size: int
    private_key: Ed25519PrivateKey

    @cached_property
    def lines(self) -> list[bytes]:
        return [record_leaf_bytes(record(seq)) for seq in range(self.size)]

    @cached_property
    def nodes(self) -> dict[tuple[int, int], bytes]:
        frontier = Frontier()
        created = frontier.append(leaf_hash(line) for line in self.lines)
        return {(level, index): digest for level, index, digest in created}

    @cached_property
    def root(self) -> bytes:
        frontier = Frontier()
        frontier.extend(leaf_hash(line) for line in self.lines)
        return frontier.root()

    @property
    def verifier_key(self) -> str:
        return verifier_key(ORIGIN, public_key_bytes(self.private_key.public_key()))

    def sign(self, body: str) -> bytes:
        return sign_checkpoint(body, ORIGIN, self.private_key).encode()

    def pack(self, seqs: list[int], seq_range: tuple[int, int] | None = None) -> dict[str, bytes]:
        """The members of a pack of these records; with a range, its seqs must be the range's."""
        records = b"".join(self.lines[seq] + b"\n" for seq in seqs)
        manifest = Manifest(
            origin=ORIGIN,
            format="pack",
            filters={"seq_from": "0"} if seq_range else {"actors": ["user:alice@example.com"]},
            records=len(seqs),
            first_seq=min(seqs, default=None),
            last_seq=max(seqs, default=None),
            range=seq_range,
            tree_size=self.size,
            root_hash=self.root,
            data_sha256=hashlib.sha256(records).hexdigest(),
            exported_at=EXPORTED_AT,
            exported_by="user:auditor@example.com",
        )
        members = {
            RECORDS: records,
            MANIFEST: self.sign(manifest_body(manifest)),
            CHECKPOINT: self.sign(checkpoint_body(ORIGIN, self.size, self.root)),
            VERIFIER_KEY: f"{self.verifier_key}\n".encode(),
        }
        if seq_range is None:
            members[PROOFS] = b"".join(self.proof_line(seq) + b"\n" for seq in seqs)
        else:
            members[RANGE_PROOF] = self.range_proof(*seq_range)
        return members

    def proof_line(self, seq: int) -> bytes:
        path = inclusion_proof(seq, self.size, self.nodes)
        return orjson.dumps(
            {
                "seq": seq,
                "leaf_hash": b64(leaf_hash(self.lines[seq])),
                "inclusion_path": [b64(digest) for digest in path],
            }
        )

    def range_proof(self, start: int, end: int) -> bytes:
        ranges = range_proof_ranges(start, end, self.size)
        hashes = range_proof(start, end, self.size, self.nodes)
        parts = [
            {"start": lo, "end": hi, "hash": b64(digest)}
            for (lo, hi), digest in zip(ranges, hashes, strict=True)
        ]
        leaves = [b64(leaf_hash(self.lines[seq])) for seq in range(start, end)]
        return orjson.dumps(
            {
                "tree_size": self.size,
                "start": start,
                "end": end,
                "hashes": parts,
                "leaf_hashes": leaves,
            }
        )


def new_log(size: int) -> Log:
    return Log(size, Ed25519PrivateKey.generate())


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def zipped(members: dict[str, bytes]) -> io.BytesIO:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as pack:
        for name, content in members.items():
            pack.writestr(name, content)
    archive.seek(0)
    return archive
