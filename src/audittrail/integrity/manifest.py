"""Export manifests: the signed note that says what an export holds and which tree it is from.

The text is the one of docs/export.md ("The manifest"). The log's key signs it as it signs
checkpoints (``checkpoint.sign_checkpoint`` signs any body of lines); its first line is no
origin and its second no tree size, so it never reads as a checkpoint.
"""

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from audittrail.integrity.hashing import HASH_SIZE
from audittrail.integrity.verify import (
    VerificationError,
    VerifierKey,
    decode_hash,
    verify_checkpoint,
    verify_note,
)

HEADER = "audittrail export manifest v1"
FORMATS = ("ndjson", "csv", "pack")

_NAMES = (
    "origin",
    "format",
    "filters",
    "records",
    "first_seq",
    "last_seq",
    "range",
    "tree_size",
    "root_hash",
    "data_sha256",
    "exported_at",
    "exported_by",
)
_ABSENT = "-"
# Decimal without leading zeros; 20 digits hold any uint64 and keep int() cheap.
_NUMBER = re.compile(r"0|[1-9][0-9]{0,19}")
_RANGE = re.compile(r"(?P<start>0|[1-9][0-9]{0,19}) (?P<end>0|[1-9][0-9]{0,19})")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f]")


@dataclass(frozen=True)
class Manifest:
    """What a manifest states about an export and the checkpoint it was taken against."""

    origin: str
    format: str
    filters: dict[str, Any]
    records: int
    first_seq: int | None
    last_seq: int | None
    range: tuple[int, int] | None
    tree_size: int
    root_hash: bytes
    data_sha256: str
    exported_at: str
    exported_by: str


def manifest_body(manifest: Manifest) -> str:
    """The note text to sign. ValueError for a manifest that would not read back as itself."""
    _check(manifest)
    return "".join(f"{line}\n" for line in _lines(manifest))


def verify_manifest(note: str | bytes, verifier_key: str | VerifierKey) -> Manifest:
    """Verify a signed manifest against the log's key and return what it states."""
    return parse_manifest_body(verify_note(note, verifier_key))


def verify_export(
    data: bytes, verifier_key: str | VerifierKey, manifest_note: str | None = None
) -> Manifest:
    """Check an NDJSON or CSV export against its signed manifest: the manifest's signature, and
    that it states the data's SHA-256. NDJSON carries its manifest (and the checkpoint, whose
    signature, size and root are checked too) as its last line; a CSV's comes beside it."""
    if manifest_note is None:
        data, manifest_note, checkpoint_note = _ndjson_trailer(data)
    else:
        checkpoint_note = None
    manifest = verify_manifest(manifest_note, verifier_key)
    digest = hashlib.sha256(data).hexdigest()
    if digest != manifest.data_sha256:
        raise VerificationError(
            f"the data's SHA-256 is {digest}, the manifest states {manifest.data_sha256}: "
            "the data are not what was exported"
        )
    if checkpoint_note is not None:
        checkpoint = verify_checkpoint(checkpoint_note, verifier_key, manifest.origin)
        if (checkpoint.size, checkpoint.root_hash) != (manifest.tree_size, manifest.root_hash):
            raise VerificationError("the checkpoint is not the one the manifest states")
        if data.count(b"\n") != manifest.records:
            raise VerificationError(f"the manifest states {manifest.records} records")
    return manifest


def _ndjson_trailer(content: bytes) -> tuple[bytes, str, str]:
    """The records' lines, and the manifest and checkpoint of the last line."""
    end = content.rstrip(b"\n").rfind(b"\n") + 1
    try:
        trailer = json.loads(content[end:])
        manifest, checkpoint = trailer["manifest"], trailer["checkpoint"]
    except (ValueError, TypeError, KeyError):
        raise VerificationError(
            "the last line is not an export's manifest line: a CSV's manifest comes beside it"
        ) from None
    if not isinstance(manifest, str) or not isinstance(checkpoint, str):
        raise VerificationError("the last line's manifest and checkpoint are not text")
    return content[:end], manifest, checkpoint


def parse_manifest_body(text: str) -> Manifest:
    """Parse manifest note text: only what :func:`manifest_body` writes parses. It is only
    trustworthy once its signature has verified."""
    *lines, after_last_newline = text.split("\n")
    if after_last_newline:
        raise VerificationError("manifest must end with a newline")
    if not lines or lines[0] != HEADER:
        raise VerificationError(f"manifest must start with {HEADER!r}")
    if len(lines) != 1 + len(_NAMES):
        raise VerificationError(f"manifest has {len(lines)} lines, expected {1 + len(_NAMES)}")
    values: dict[str, str] = {}
    for name, line in zip(_NAMES, lines[1:], strict=True):
        found, space, value = line.partition(" ")
        if found != name or not space:
            raise VerificationError(f"expected the manifest's {name} line, found {line!r}")
        values[name] = value
    manifest = _parsed(values)
    try:
        _check(manifest)
    except ValueError as error:
        raise VerificationError(f"manifest does not hold together: {error}") from None
    # Leading zeros, non-canonical JSON or base64: one manifest has one text, its signed one.
    for name, line, canonical in zip(_NAMES, lines[1:], _lines(manifest)[1:], strict=True):
        if line != canonical:
            raise VerificationError(f"manifest {name} is not in its canonical form: {line!r}")
    return manifest


def _lines(manifest: Manifest) -> list[str]:
    values = (
        manifest.origin,
        manifest.format,
        _canonical(manifest.filters),
        str(manifest.records),
        _optional(manifest.first_seq),
        _optional(manifest.last_seq),
        _ABSENT if manifest.range is None else f"{manifest.range[0]} {manifest.range[1]}",
        str(manifest.tree_size),
        base64.b64encode(manifest.root_hash).decode("ascii"),
        manifest.data_sha256,
        manifest.exported_at,
        _canonical(manifest.exported_by),
    )
    return [HEADER, *(f"{name} {value}" for name, value in zip(_NAMES, values, strict=True))]


def _canonical(value: Any) -> str:
    """RFC 8785 JSON of what a manifest holds: text, lists of text and objects of them, with
    BMP keys (`_check`), for which the standard library's sorted, compact JSON is the same
    text: the pack checker needs no more than the standard library and `cryptography`."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _optional(number: int | None) -> str:
    return _ABSENT if number is None else str(number)


def _parsed(values: dict[str, str]) -> Manifest:
    filters = _json("filters", values["filters"])
    if not isinstance(filters, dict):
        raise VerificationError("manifest filters are not a JSON object")
    exported_by = _json("exported_by", values["exported_by"])
    if not isinstance(exported_by, str):
        raise VerificationError("manifest exported_by is not a JSON string")
    return Manifest(
        origin=values["origin"],
        format=values["format"],
        filters=filters,
        records=_number("records", values["records"]),
        first_seq=_optional_number("first_seq", values["first_seq"]),
        last_seq=_optional_number("last_seq", values["last_seq"]),
        range=_range(values["range"]),
        tree_size=_number("tree_size", values["tree_size"]),
        root_hash=decode_hash("manifest root_hash", values["root_hash"]),
        data_sha256=values["data_sha256"],
        exported_at=values["exported_at"],
        exported_by=exported_by,
    )


def _json(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise VerificationError(f"manifest {name} is not JSON: {text!r}") from None


def _number(name: str, text: str) -> int:
    if not _NUMBER.fullmatch(text):
        raise VerificationError(f"manifest {name} is not a number: {text!r}")
    return int(text)


def _optional_number(name: str, text: str) -> int | None:
    return None if text == _ABSENT else _number(name, text)


def _range(text: str) -> tuple[int, int] | None:
    if text == _ABSENT:
        return None
    match = _RANGE.fullmatch(text)
    if match is None:
        raise VerificationError(f"manifest range is neither '<start> <end>' nor '-': {text!r}")
    return int(match["start"]), int(match["end"])


def _check(manifest: Manifest) -> None:
    """ValueError for what the text cannot carry, or what the manifest states against itself."""
    if not manifest.origin or _CONTROL_CHARACTER.search(manifest.origin):
        raise ValueError(f"an origin is one non-empty line, got {manifest.origin!r}")
    if not _texts(manifest.filters):
        raise ValueError(f"filters are text, or lists of text, by name: {manifest.filters!r}")
    if manifest.format not in FORMATS:
        raise ValueError(f"format is one of {', '.join(FORMATS)}, got {manifest.format!r}")
    _check_seqs(manifest)
    if len(manifest.root_hash) != HASH_SIZE:
        raise ValueError(f"a root hash has {HASH_SIZE} bytes, got {len(manifest.root_hash)}")
    if not _SHA256_HEX.fullmatch(manifest.data_sha256):
        raise ValueError(f"data_sha256 is 64 lowercase hex digits, got {manifest.data_sha256!r}")
    if not _TIMESTAMP.fullmatch(manifest.exported_at):
        raise ValueError(
            f"exported_at is RFC 3339 in UTC with microseconds and a Z, got "
            f"{manifest.exported_at!r}"
        )
    try:
        datetime.fromisoformat(manifest.exported_at)
    except ValueError:
        raise ValueError(f"exported_at is no real time: {manifest.exported_at!r}") from None


def _texts(filters: Any) -> bool:
    """Query parameters as given: names (BMP only: RFC 8785 sorts keys by UTF-16 units, Python
    by code points, and they agree below U+10000) with text, or lists of text."""
    return isinstance(filters, dict) and all(
        isinstance(name, str)
        and all(ord(character) <= 0xFFFF for character in name)
        and (
            isinstance(value, str)
            or (isinstance(value, list) and all(isinstance(item, str) for item in value))
        )
        for name, value in filters.items()
    )


def _check_seqs(manifest: Manifest) -> None:
    records, first, last, size = (
        manifest.records,
        manifest.first_seq,
        manifest.last_seq,
        manifest.tree_size,
    )
    if records < 0 or size < 0:
        raise ValueError("records and tree_size must not be negative")
    if first is None or last is None:
        if first is not None or last is not None or records:
            raise ValueError("first_seq and last_seq are '-' exactly when there are no records")
    elif not (0 <= first <= last < size and 0 < records <= last - first + 1):
        raise ValueError(
            f"{records} records cannot run from seq {first} to {last} in a tree of size {size}"
        )
    if manifest.range is not None:
        start, end = manifest.range
        if not 0 <= start <= end <= size:
            raise ValueError(f"range [{start}, {end}) is not within a tree of size {size}")
        if records != end - start or (records and (first, last) != (start, end - 1)):
            raise ValueError(f"range [{start}, {end}) holds every seq in it, not {records}")
