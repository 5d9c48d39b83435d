"""Export manifests: the text of docs/export.md, signed as checkpoints are, read back strictly."""

import base64
import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audittrail.integrity.checkpoint import (
    checkpoint_body,
    public_key_bytes,
    sign_checkpoint,
    verifier_key,
)
from audittrail.integrity.manifest import (
    Manifest,
    manifest_body,
    parse_manifest_body,
    verify_manifest,
)
from audittrail.integrity.verify import VerificationError, verify_checkpoint

ROOT = bytes(range(32))
MANIFEST = Manifest(
    origin="audittrail.example/log",
    format="ndjson",
    filters={"sort_by": "created_at", "actors": ["user:alice@example.com"], "seq_from": "3"},
    records=2,
    first_seq=3,
    last_seq=7,
    range=None,
    tree_size=10,
    root_hash=ROOT,
    data_sha256="ab" * 32,
    exported_at="2025-01-02T03:04:05.678901Z",
    exported_by="user:auditor@example.com \u00e9\n",
)
BODY = (
    "audittrail export manifest v1\n"
    "origin audittrail.example/log\n"
    "format ndjson\n"
    'filters {"actors":["user:alice@example.com"],"seq_from":"3","sort_by":"created_at"}\n'
    "records 2\n"
    "first_seq 3\n"
    "last_seq 7\n"
    "range -\n"
    "tree_size 10\n"
    f"root_hash {base64.b64encode(ROOT).decode()}\n"
    f"data_sha256 {'ab' * 32}\n"
    "exported_at 2025-01-02T03:04:05.678901Z\n"
    'exported_by "user:auditor@example.com \u00e9\\n"\n'
)
KEY = Ed25519PrivateKey.generate()
VERIFIER_KEY = verifier_key(MANIFEST.origin, public_key_bytes(KEY.public_key()))


def test_the_body_is_the_documented_text_and_reads_back() -> None:
    assert manifest_body(MANIFEST) == BODY
    assert parse_manifest_body(BODY) == MANIFEST


def test_a_range_and_an_empty_export() -> None:
    ranged = dataclasses.replace(MANIFEST, records=5, range=(3, 8))
    assert "\nrange 3 8\n" in manifest_body(ranged)
    assert parse_manifest_body(manifest_body(ranged)) == ranged
    empty = dataclasses.replace(MANIFEST, records=0, first_seq=None, last_seq=None, range=(4, 4))
    assert "\nfirst_seq -\nlast_seq -\nrange 4 4\n" in manifest_body(empty)
    assert parse_manifest_body(manifest_body(empty)) == empty


def test_signed_with_the_logs_key_it_verifies() -> None:
    note = sign_checkpoint(manifest_body(MANIFEST), MANIFEST.origin, KEY)
    assert verify_manifest(note, VERIFIER_KEY) == MANIFEST
    other = Ed25519PrivateKey.generate()
    with pytest.raises(VerificationError, match="no signature by"):
        verify_manifest(note, verifier_key(MANIFEST.origin, public_key_bytes(other.public_key())))
    tampered = note.replace("records 2", "records 3")
    with pytest.raises(VerificationError, match="does not verify"):
        verify_manifest(tampered, VERIFIER_KEY)


def test_a_manifest_is_never_a_checkpoint_and_a_checkpoint_never_a_manifest() -> None:
    manifest = sign_checkpoint(manifest_body(MANIFEST), MANIFEST.origin, KEY)
    with pytest.raises(VerificationError, match="tree size"):
        verify_checkpoint(manifest, VERIFIER_KEY)
    checkpoint = sign_checkpoint(checkpoint_body(MANIFEST.origin, 10, ROOT), MANIFEST.origin, KEY)
    with pytest.raises(VerificationError, match="must start with"):
        verify_manifest(checkpoint, VERIFIER_KEY)


def replaced(line: str, by: str) -> str:
    assert f"\n{line}\n" in BODY
    return BODY.replace(f"\n{line}\n", f"\n{by}\n")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (BODY[:-1], "end with a newline"),
        (BODY.replace("v1", "v2"), "must start with"),
        (BODY + "extra line\n", "has 14 lines, expected 13"),
        (replaced("records 2", "count 2"), "expected the manifest's records line"),
        (replaced("format ndjson", "format xml"), "format is one of"),
        (replaced("records 2", "records 02"), "records is not a number"),
        (replaced("tree_size 10", "tree_size -1"), "tree_size is not a number"),
        (replaced("range -", "range 3"), "range is neither"),
        (replaced("first_seq 3", "first_seq -"), "exactly when there are no records"),
        (replaced("last_seq 7", "last_seq 10"), "cannot run from seq 3 to 10"),
        (replaced("records 2", "records 6"), "cannot run from seq 3 to 7"),
        (replaced("range -", "range 3 9"), "holds every seq in it"),
        (
            BODY.replace(
                '"actors":["user:alice@example.com"],"seq_from":"3"',
                '"seq_from":"3","actors":["user:alice@example.com"]',
            ),
            "filters is not in its canonical form",
        ),
        (BODY.replace('"seq_from":"3"', '"seq_from": "3"'), "filters is not in its canonical form"),
        (BODY.replace('"seq_from":"3"', '"seq_from":3'), "filters are text"),
        (BODY.replace('filters {"actors"', 'filters ["actors"'), "filters is not JSON"),
        (replaced("records 2", "records 2 "), "records is not a number"),
        (BODY.replace('exported_by "user', "exported_by user"), "exported_by is not JSON"),
        (BODY.replace("root_hash AAEC", "root_hash AAE"), "canonical base64"),
        (BODY.replace(f"data_sha256 {'ab' * 32}", "data_sha256 AB"), "64 lowercase hex"),
        (BODY.replace("05.678901Z", "05Z"), "microseconds"),
        (BODY.replace("2025-01-02", "2025-02-30"), "no real time"),
    ],
)
def test_anything_but_the_one_text_is_refused(body: str, error: str) -> None:
    with pytest.raises(VerificationError, match=error):
        parse_manifest_body(body)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"origin": "two\nlines"}, "one non-empty line"),
        ({"origin": ""}, "one non-empty line"),
        ({"format": "pdf"}, "format is one of"),
        ({"records": 0}, "0 records cannot run from seq 3 to 7"),
        ({"records": 0, "first_seq": None}, "exactly when there are no records"),
        ({"root_hash": ROOT[1:]}, "a root hash has 32 bytes"),
        ({"data_sha256": "AB" * 32}, "64 lowercase hex"),
        ({"exported_at": "2025-01-02T03:04:05+00:00"}, "microseconds and a Z"),
        ({"range": (3, 11)}, "not within a tree of size 10"),
        ({"filters": {"bad": float("nan")}}, "filters are text"),
        ({"filters": {"seq_from": 3}}, "filters are text"),
        ({"filters": {"\U0001f600": "a key past U+FFFF"}}, "filters are text"),
    ],
)
def test_a_manifest_that_would_not_read_back_is_not_written(
    change: dict[str, object], error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        manifest_body(dataclasses.replace(MANIFEST, **change))  # type: ignore[arg-type]
