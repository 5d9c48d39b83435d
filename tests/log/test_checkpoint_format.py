"""A served checkpoint checks out with only the published format, hashlib, base64 and cryptography.

This is the code a third-party auditor would write from docs/integrity.md: nothing from
audittrail.integrity is used to check what the API serves.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audittrail.config import Settings
from tests.helpers import post_record
from tests.log.support import LOG, caught_up_checkpoint, entry_lines

NOTE_TYPE = "text/plain; charset=utf-8"
LEAF_MEMBERS = {
    "id",
    "seq",
    "created_at",
    "event_type",
    "category",
    "summary",
    "severity",
    "actor",
    "application_id",
    "application_key",
    "entity_type",
    "entity_id",
    "params",
    "metadata",
    "ip_address",
    "source",
}
CREATED_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def parse_verifier_key(text: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """`<name>+<8 hex key id>+<base64(0x01 || public key)>`, its key id recomputed."""
    name, key_id_hex, encoded = text.split("+", 2)
    material = base64.b64decode(encoded, validate=True)
    assert len(material) == 33 and material[0] == 0x01
    key_id = hashlib.sha256(name.encode() + b"\n" + material).digest()[:4]
    assert re.fullmatch(r"[0-9a-f]{8}", key_id_hex) and key_id.hex() == key_id_hex
    return name, key_id, Ed25519PublicKey.from_public_bytes(material[1:])


def open_note(note: str, verifier_key: str) -> list[str]:
    """The body lines of a signed note whose one signature verifies; raises if it does not."""
    name, key_id, public_key = parse_verifier_key(verifier_key)
    text, separator, signature_line = note.rpartition("\n\n")
    assert separator and signature_line.endswith("\n") and signature_line.count("\n") == 1
    body = text + "\n"
    prefix = f"\u2014 {name} "
    assert signature_line.startswith(prefix)
    signature = base64.b64decode(signature_line[len(prefix) : -1], validate=True)
    assert len(signature) == 4 + 64 and signature[:4] == key_id
    public_key.verify(signature[4:], body.encode("utf-8"))
    return body.split("\n")[:-1]


def leaf_hash(line: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + line).digest()


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 MTH over leaf hashes, from its recursive definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    left, right = merkle_root(leaves[:split]), merkle_root(leaves[split:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def canonical(entry: object) -> bytes:
    """RFC 8785, as far as these entries need: no number but integers and 0.5, and member
    names that sort the same by code point as by UTF-16 unit."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


async def test_served_checkpoint_verifies_with_the_published_key_alone(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, settings: Settings
) -> None:
    await post_record(client, summary="Anmeldung von Jörg", metadata={"ratio": 0.5, "attempt": 2})
    await post_record(client, summary='quote " backslash \\ tab \t', params={"é": [1, None]})
    await caught_up_checkpoint(client)

    key_response = await anonymous.get(f"{LOG}/key")
    checkpoint_response = await anonymous.get(f"{LOG}/checkpoint")
    assert key_response.status_code == 200 and checkpoint_response.status_code == 200
    assert key_response.headers["content-type"] == NOTE_TYPE
    assert checkpoint_response.headers["content-type"] == NOTE_TYPE
    assert key_response.text.endswith("\n") and key_response.text.count("\n") == 1
    verifier_key = key_response.text.strip()
    assert verifier_key.split("+", 1)[0] == settings.log_origin
    note = checkpoint_response.text

    origin, size, root = open_note(note, verifier_key)
    assert origin == settings.log_origin
    assert re.fullmatch(r"0|[1-9][0-9]*", size)

    lines = await entry_lines(client)
    assert len(lines) == int(size) == 4
    for seq, line in enumerate(lines):
        entry = json.loads(line)
        assert set(entry) == LEAF_MEMBERS and entry["seq"] == seq
        assert CREATED_AT.fullmatch(entry["created_at"])
        assert canonical(entry) == line
    assert "Anmeldung von J\u00f6rg".encode() in lines[2]
    assert base64.b64decode(root, validate=True) == merkle_root([leaf_hash(x) for x in lines])
    assert base64.b64encode(base64.b64decode(root)).decode() == root

    head = (await anonymous.get(f"{LOG}/head")).json()
    assert head == {"tree_size": int(size), "root_hash": root}
    history = (await anonymous.get(f"{LOG}/checkpoints")).json()["checkpoints"]
    assert history[0]["note"] == note
    assert history[0]["tree_size"] == int(size) and history[0]["root_hash"] == root
    assert (await anonymous.get(f"{LOG}/tlog/checkpoint")).text == note


async def test_an_altered_note_does_not_verify(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    """The check above can fail: any change to the signed body breaks the signature."""
    await post_record(client)
    note = await caught_up_checkpoint(client)
    verifier_key = (await anonymous.get(f"{LOG}/key")).text.strip()
    origin, size, root = open_note(note, verifier_key)
    for altered in (
        note.replace(f"\n{size}\n", f"\n{int(size) + 1}\n", 1),
        note.replace(root, base64.b64encode(bytes(32)).decode(), 1),
        note.replace(origin, origin + "x", 1),
    ):
        with pytest.raises(InvalidSignature):
            open_note(altered, verifier_key)
