"""Evidence packs checked offline: records, their proofs and the signed notes of their log.

The pack is the zip of docs/export.md ("Evidence packs"); :func:`verify_pack` makes the checks
of "Checking a pack" and names every record that does not fit. Nothing in the pack is trusted
but what the verifier key signed: the proofs only have to lead to the signed root.
"""

import base64
import hashlib
import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from itertools import pairwise
from typing import IO, Any, TypeVar

from audittrail.integrity.hashing import leaf_hash
from audittrail.integrity.manifest import Manifest, verify_manifest
from audittrail.integrity.problems import Kind, Problem
from audittrail.integrity.verify import (
    Checkpoint,
    InclusionVerifier,
    VerificationError,
    decode_hash,
    parse_verifier_key,
    root_from_range,
    verify_checkpoint,
)

RECORDS = "records.ndjson"
MANIFEST = "manifest.txt"
CHECKPOINT = "checkpoint.txt"
VERIFIER_KEY = "verifier-key.txt"
PROOFS = "proofs.ndjson"
RANGE_PROOF = "range-proof.json"

_T = TypeVar("_T")

# What zipfile raises for a member that is corrupt, encrypted or compressed in an unknown way.
_UNREADABLE_MEMBER = (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError)


@dataclass
class PackReport:
    """What :func:`verify_pack` found. ``own_key``: the pack's own key was used, which proves
    nothing until its id is compared with the one the log publishes."""

    verifier_key: str
    key_id: str
    own_key: bool
    checkpoint: Checkpoint | None = None
    manifest: Manifest | None = None
    records: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: Kind, seq: int | None, message: str) -> None:
        self.problems.append(Problem(kind, seq, message))


@dataclass(frozen=True)
class _Line:
    """A record line of the pack: its seq, as the line states it, and its leaf hash."""

    seq: int
    leaf_hash: bytes


@dataclass(frozen=True)
class _Proof:
    leaf_hash: bytes
    inclusion_path: list[str]  # base64, decoded by the verifier as far as it needs them


@dataclass(frozen=True)
class _RangeProof:
    tree_size: int
    start: int
    end: int
    parts: list[tuple[int, int, bytes]]
    leaves: list[bytes]
    """The leaf hash of every seq of the range, in order."""


def verify_pack(
    pack: str | os.PathLike[str] | IO[bytes], verifier_key: str | None = None
) -> PackReport:
    """Check an evidence pack against ``verifier_key`` (the one the log publishes), or without it
    against the pack's own. VerificationError for a pack that cannot be read as one; everything
    that can be checked and does not fit is a problem of the report."""
    members = _members(pack)
    own_key = verifier_key is None
    if verifier_key is None:
        verifier_key = _text(members, VERIFIER_KEY).strip()
    try:
        key = parse_verifier_key(verifier_key)
    except VerificationError as error:
        whose = VERIFIER_KEY if own_key else "the verifier key given"
        raise VerificationError(f"{whose}: {error}") from None
    report = PackReport(verifier_key, f"{key.name}+{key.key_id.hex()}", own_key)
    try:
        report.checkpoint = verify_checkpoint(_member(members, CHECKPOINT), key)
    except VerificationError as error:
        report.add(Kind.BAD_SIGNATURE, None, f"{CHECKPOINT}: {error}")
    try:
        report.manifest = verify_manifest(_member(members, MANIFEST), key)
    except VerificationError as error:
        report.add(Kind.BAD_SIGNATURE, None, f"{MANIFEST}: {error}")
    if report.checkpoint is None:
        return report  # without a signed root, nothing else can be shown to hold
    if (PROOFS in members) == (RANGE_PROOF in members):
        raise VerificationError(f"a pack holds either {PROOFS} or {RANGE_PROOF}")
    range_proof = _range_proof(members[RANGE_PROOF]) if RANGE_PROOF in members else None
    data = _member(members, RECORDS)
    lines = _record_lines(data, report)
    if report.manifest is not None:
        _check_manifest(report.manifest, report.checkpoint, data, lines, range_proof, report)
    _check_order(lines, report)
    if range_proof is None:
        _check_proofs(lines, _proofs(members[PROOFS]), report.checkpoint, report)
    else:
        _check_range(lines, range_proof, report.checkpoint, report)
    return report


def _members(pack: str | os.PathLike[str] | IO[bytes]) -> dict[str, bytes]:
    names = (RECORDS, MANIFEST, CHECKPOINT, VERIFIER_KEY, PROOFS, RANGE_PROOF)
    try:
        with zipfile.ZipFile(pack) as archive:
            present = set(archive.namelist())
            return {name: _read_member(archive, name) for name in names if name in present}
    except zipfile.BadZipFile as error:
        raise VerificationError(f"not an evidence pack: {error}") from None


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        return archive.read(name)
    except _UNREADABLE_MEMBER as error:
        raise VerificationError(f"{name} cannot be read from the pack: {error}") from None


def _member(members: dict[str, bytes], name: str) -> bytes:
    try:
        return members[name]
    except KeyError:
        raise VerificationError(f"the pack has no {name}") from None


def _text(members: dict[str, bytes], name: str) -> str:
    try:
        return _member(members, name).decode("utf-8")
    except UnicodeDecodeError:
        raise VerificationError(f"{name} is not UTF-8") from None


def _lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the newline that ends the last line
    return lines


def _record_lines(data: bytes, report: PackReport) -> list[_Line]:
    """Each line that states its seq; a problem for each other one."""
    raw_lines = _lines(data)
    report.records = len(raw_lines)
    lines: list[_Line] = []
    for number, line in enumerate(raw_lines, start=1):
        seq = _seq(line)
        if seq is None:
            report.add(Kind.CHANGED, None, f"{RECORDS} line {number} is not a record")
        else:
            lines.append(_Line(seq, leaf_hash(line)))
    return lines


def _seq(line: bytes) -> int | None:
    try:
        record = json.loads(line)
    except ValueError:  # json.JSONDecodeError, or bytes that are not UTF-8
        return None
    seq = record.get("seq") if isinstance(record, dict) else None
    return seq if type(seq) is int else None  # bool is an int to Python: not a seq


def _check_manifest(
    manifest: Manifest,
    checkpoint: Checkpoint,
    data: bytes,
    lines: list[_Line],
    range_proof: _RangeProof | None,
    report: PackReport,
) -> None:
    """That the manifest states this pack: its checkpoint, and the records it holds."""
    seqs = [line.seq for line in lines]
    proven_range = None if range_proof is None else (range_proof.start, range_proof.end)
    stated: list[tuple[str, object, object, str]] = [
        ("origin", manifest.origin, checkpoint.origin, "the checkpoint"),
        ("tree_size", manifest.tree_size, checkpoint.size, "the checkpoint"),
        ("root_hash", manifest.root_hash, checkpoint.root_hash, "the checkpoint"),
        ("format", manifest.format, "pack", "a pack"),
        ("records", manifest.records, report.records, RECORDS),
        ("first_seq", manifest.first_seq, min(seqs, default=None), RECORDS),
        ("last_seq", manifest.last_seq, max(seqs, default=None), RECORDS),
        ("data_sha256", manifest.data_sha256, hashlib.sha256(data).hexdigest(), RECORDS),
        ("range", manifest.range, proven_range, PROOFS if range_proof is None else RANGE_PROOF),
    ]
    for name, states, holds, source in stated:
        if states != holds:
            report.add(
                Kind.MANIFEST_MISMATCH,
                None,
                f"{MANIFEST} states {name} {_shown(states)}, {source} has {_shown(holds)}",
            )


def _shown(value: object) -> str:
    """As the manifest spells it."""
    if value is None:
        return "-"
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, tuple):
        return " ".join(map(str, value))
    return str(value)


def _check_order(lines: list[_Line], report: PackReport) -> None:
    """Seqs ascend: each one out of place is named once, not every one after it."""
    for previous, line in pairwise(lines):
        if line.seq <= previous.seq:
            report.add(Kind.REORDERED, line.seq, f"it comes after seq {previous.seq}")


def _proofs(data: bytes) -> dict[int, _Proof]:
    proofs: dict[int, _Proof] = {}
    for number, line in enumerate(_lines(data), start=1):
        where = f"{PROOFS} line {number}"
        proof = _json(where, line)
        seq = _field(where, proof, "seq", int)
        if seq in proofs:
            raise VerificationError(f"{where}: a second proof of seq {seq}")
        path = _field(where, proof, "inclusion_path", list)
        if not all(type(digest) is str for digest in path):
            raise VerificationError(f"{where}: inclusion_path is not a list of strings")
        proofs[seq] = _Proof(_hash(where, _field(where, proof, "leaf_hash", str)), path)
    return proofs


def _check_proofs(
    lines: list[_Line], proofs: dict[int, _Proof], checkpoint: Checkpoint, report: PackReport
) -> None:
    """Each record's inclusion in the checkpoint's tree, by the proof of its seq."""
    verifier = InclusionVerifier(checkpoint.size, checkpoint.root_hash)
    for line in lines:
        proof = proofs.pop(line.seq, None)
        if proof is None:
            report.add(Kind.EXTRA, line.seq, f"{PROOFS} has no proof of it")
        elif proof.leaf_hash != line.leaf_hash:
            report.add(Kind.CHANGED, line.seq, "its line does not hash to its proof's leaf hash")
        else:
            try:
                verifier.verify(line.seq, line.leaf_hash, proof.inclusion_path)
            except VerificationError as error:
                report.add(Kind.CHANGED, line.seq, f"it is not in the log: {error}")
    for seq in sorted(proofs):
        report.add(Kind.MISSING, seq, f"{PROOFS} proves it, {RECORDS} does not hold it")


def _range_proof(data: bytes) -> _RangeProof:
    proof = _json(RANGE_PROOF, data)
    parts = []
    for position, part in enumerate(_field(RANGE_PROOF, proof, "hashes", list)):
        where = f"{RANGE_PROOF} hash {position}"
        parts.append(
            (
                _field(where, part, "start", int),
                _field(where, part, "end", int),
                _hash(where, _field(where, part, "hash", str)),
            )
        )
    leaves = [
        _hash(f"{RANGE_PROOF} leaf hash {position}", leaf)
        for position, leaf in enumerate(_field(RANGE_PROOF, proof, "leaf_hashes", list))
    ]
    return _RangeProof(
        _field(RANGE_PROOF, proof, "tree_size", int),
        _field(RANGE_PROOF, proof, "start", int),
        _field(RANGE_PROOF, proof, "end", int),
        parts,
        leaves,
    )


def _check_range(
    lines: list[_Line], proof: _RangeProof, checkpoint: Checkpoint, report: PackReport
) -> None:
    """The range's leaf hashes and the proof make the signed root, and the records are every
    seq of the range, each hashing to its leaf: a changed record is named by its seq."""
    start, end = proof.start, proof.end
    if proof.tree_size != checkpoint.size or not 0 <= start <= end <= checkpoint.size:
        report.add(
            Kind.ROOT_MISMATCH,
            None,
            f"{RANGE_PROOF} is for [{start}, {end}) of a tree of size {proof.tree_size}, "
            f"the checkpoint's tree has size {checkpoint.size}",
        )
        return
    try:
        root = root_from_range(start, end, checkpoint.size, proof.leaves, proof.parts)
    except VerificationError as error:
        report.add(Kind.ROOT_MISMATCH, None, f"{RANGE_PROOF}: {error}")
        return
    if root != checkpoint.root_hash:
        report.add(
            Kind.ROOT_MISMATCH,
            None,
            f"the leaf hashes of [{start}, {end}) and {RANGE_PROOF} do not lead to the "
            "checkpoint's root: the proof was changed",
        )
        return
    found = {line.seq: line.leaf_hash for line in lines}
    for seq in range(start, end):
        if seq not in found:
            report.add(Kind.MISSING, seq, f"the range [{start}, {end}) holds it")
        elif found[seq] != proof.leaves[seq - start]:
            report.add(Kind.CHANGED, seq, "its bytes do not hash to its leaf in the log")
    for seq in sorted(found):
        if not start <= seq < end:
            report.add(Kind.EXTRA, seq, f"it is outside the range [{start}, {end})")


def _json(where: str, text: bytes) -> Any:
    try:
        return json.loads(text)
    except ValueError:  # json.JSONDecodeError, or bytes that are not UTF-8
        raise VerificationError(f"{where} is not JSON") from None


def _field(where: str, value: Any, name: str, kind: type[_T]) -> _T:
    found = value.get(name) if isinstance(value, dict) else None
    if type(found) is not kind:
        raise VerificationError(f"{where}: {name} is not a JSON {kind.__name__}")
    return found


def _hash(where: str, text: Any) -> bytes:
    if type(text) is not str:
        raise VerificationError(f"{where}: a hash is not a base64 string")
    return decode_hash(where, text)
