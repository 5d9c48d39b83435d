"""Checkpoints: signing, verifying, tampering, strict parsing, and the signing key file."""

import base64
import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from audittrail.integrity.checkpoint import (
    checkpoint_body,
    generate_signing_key,
    key_id,
    load_signing_key,
    sign_checkpoint,
    verifier_key,
)
from audittrail.integrity.verify import (
    Checkpoint,
    VerificationError,
    parse_verifier_key,
    verify_checkpoint,
    verify_note,
)

from .reference import flip_bit, property_test

ORIGIN = "audit.example.com/log"
ROOT = hashlib.sha256(b"some root").digest()
LOG_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
WITNESS_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))

# golang.org/x/mod/sumdb/note's documented example, to prove interoperability byte for byte.
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_PRIVATE_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT
    + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNX"
    "gKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def raw_public_key(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def log_verifier_key(name: str = ORIGIN, private_key: Ed25519PrivateKey = LOG_KEY) -> str:
    return verifier_key(name, raw_public_key(private_key))


def signed(body: str, name: str = ORIGIN, private_key: Ed25519PrivateKey = LOG_KEY) -> str:
    return sign_checkpoint(body, name, private_key)


def signature_line(note: str) -> str:
    return note.split("\n\n")[1]


def test_body_format() -> None:
    expected = f"{ORIGIN}\n1234\n{base64.b64encode(ROOT).decode()}\n"
    assert checkpoint_body(ORIGIN, 1234, ROOT) == expected


@pytest.mark.parametrize(
    ("origin", "size", "root"),
    [("", 1, ROOT), ("a\nb", 1, ROOT), (ORIGIN, -1, ROOT), (ORIGIN, 1, ROOT[:31])],
)
def test_body_refuses_what_cannot_be_a_checkpoint(origin: str, size: int, root: bytes) -> None:
    with pytest.raises(ValueError):
        checkpoint_body(origin, size, root)


def test_sign_then_verify() -> None:
    note = signed(checkpoint_body(ORIGIN, 1234, ROOT))
    expected = Checkpoint(ORIGIN, 1234, ROOT, ())
    assert verify_checkpoint(note, log_verifier_key(), origin=ORIGIN) == expected
    assert verify_checkpoint(note.encode(), parse_verifier_key(log_verifier_key())) == expected


def test_note_layout() -> None:
    body = checkpoint_body(ORIGIN, 0, ROOT)
    note = signed(body)
    signature = LOG_KEY.sign(body.encode())
    expected_id = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + raw_public_key(LOG_KEY)).digest()
    encoded = base64.b64encode(expected_id[:4] + signature).decode()
    assert note == f"{body}\n\u2014 {ORIGIN} {encoded}\n"


def test_key_id_and_verifier_key_follow_the_signed_note_spec() -> None:
    public = raw_public_key(LOG_KEY)
    expected_id = hashlib.sha256(ORIGIN.encode() + b"\x0a" + b"\x01" + public).digest()[:4]
    assert key_id(ORIGIN, public) == expected_id
    encoded_key = base64.b64encode(b"\x01" + public).decode()
    assert verifier_key(ORIGIN, public) == f"{ORIGIN}+{expected_id.hex()}+{encoded_key}"


def test_interoperates_with_go_signed_notes() -> None:
    seed = base64.b64decode(GO_PRIVATE_KEY.split("+", 4)[4])[1:]
    private_key = Ed25519PrivateKey.from_private_bytes(seed)
    assert verifier_key("PeterNeumann", raw_public_key(private_key)) == GO_VERIFIER_KEY
    assert sign_checkpoint(GO_TEXT, "PeterNeumann", private_key) == GO_NOTE
    assert verify_note(GO_NOTE, GO_VERIFIER_KEY) == GO_TEXT


def test_the_largest_tree_size_parses() -> None:
    note = signed(f"{ORIGIN}\n{2**64 - 1}\n{base64.b64encode(ROOT).decode()}\n")
    assert verify_checkpoint(note, log_verifier_key()).size == 2**64 - 1


def test_extension_lines_are_returned() -> None:
    note = signed(checkpoint_body(ORIGIN, 7, ROOT) + "Timestamp: 1\nmore\n")
    assert verify_checkpoint(note, log_verifier_key()).extensions == ("Timestamp: 1", "more")


def test_unknown_signers_are_ignored() -> None:
    body = checkpoint_body(ORIGIN, 7, ROOT)
    witness_line = signature_line(signed(body, "witness.example/w1", WITNESS_KEY))
    forged = base64.b64encode(key_id(ORIGIN, raw_public_key(WITNESS_KEY)) + bytes(64)).decode()
    same_name_other_key = f"\u2014 {ORIGIN} {forged}\n"
    for note in (
        signed(body) + witness_line,
        f"{body}\n{witness_line}{same_name_other_key}{signature_line(signed(body))}",
    ):
        assert verify_checkpoint(note, log_verifier_key()).size == 7


def test_a_note_signed_only_by_others_fails() -> None:
    note = signed(checkpoint_body(ORIGIN, 7, ROOT), "witness.example/w1", WITNESS_KEY)
    with pytest.raises(VerificationError, match="no signature"):
        verify_checkpoint(note, log_verifier_key())


def test_a_bad_signature_by_the_trusted_key_fails_even_beside_a_good_one() -> None:
    body = checkpoint_body(ORIGIN, 7, ROOT)
    good = signature_line(signed(body))
    bad = signature_line(signed(checkpoint_body(ORIGIN, 8, ROOT)))
    with pytest.raises(VerificationError, match="does not verify"):
        verify_checkpoint(f"{body}\n{good}{bad}", log_verifier_key())


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("\n1234\n", "\n1235\n"),
        (ORIGIN, "audit.example.com/other"),
        (base64.b64encode(ROOT).decode(), base64.b64encode(ROOT[::-1]).decode()),
    ],
)
def test_tampered_body_fails(before: str, after: str) -> None:
    note = signed(checkpoint_body(ORIGIN, 1234, ROOT)).replace(before, after, 1)
    with pytest.raises(VerificationError):
        verify_checkpoint(note, log_verifier_key())


def test_another_key_name_or_key_fails() -> None:
    note = signed(checkpoint_body(ORIGIN, 1, ROOT))
    for key in (
        log_verifier_key(name="other.example/log"),
        log_verifier_key(private_key=WITNESS_KEY),
    ):
        with pytest.raises(VerificationError):
            verify_checkpoint(note, key)


def test_wrong_origin_fails() -> None:
    note = signed(checkpoint_body(ORIGIN, 1, ROOT))
    with pytest.raises(VerificationError, match="expected"):
        verify_checkpoint(note, log_verifier_key(), origin="audit.example.com/other")


@property_test
@given(st.data())
def test_any_flipped_bit_in_the_body_fails(data: st.DataObject) -> None:
    body = checkpoint_body(ORIGIN, 1234, ROOT).encode()
    note = signed(body.decode()).encode()
    bit = data.draw(st.integers(min_value=0, max_value=len(body) * 8 - 1))
    with pytest.raises(VerificationError):
        verify_checkpoint(flip_bit(note, bit), log_verifier_key())


@property_test
@given(st.integers(min_value=0, max_value=(4 + 64) * 8 - 1))
def test_any_flipped_bit_in_the_signature_fails(bit: int) -> None:
    body = checkpoint_body(ORIGIN, 1234, ROOT)
    encoded = signature_line(signed(body)).split(" ")[2].strip()
    tampered = base64.b64encode(flip_bit(base64.b64decode(encoded), bit)).decode()
    with pytest.raises(VerificationError):
        verify_checkpoint(f"{body}\n\u2014 {ORIGIN} {tampered}\n", log_verifier_key())


def test_signature_line_round_trips_through_the_exact_note_text() -> None:
    note = signed(checkpoint_body(ORIGIN, 1, ROOT))
    assert verify_note(note, log_verifier_key()) == checkpoint_body(ORIGIN, 1, ROOT)


def malformed_notes() -> dict[str, str]:
    body = checkpoint_body(ORIGIN, 1, ROOT)
    note = signed(body)
    line = signature_line(note)
    encoded = line.split(" ")[2].strip()
    return {
        "no blank line": body + line,
        "no signature": body + "\n",
        "no final newline": note[:-1],
        "signature without em dash": f"{body}\n-- {line[2:]}",
        "signature without key": f"{body}\n\u2014 {ORIGIN}\n",
        "signature bad base64": f"{body}\n\u2014 {ORIGIN} {encoded[:-2]}!=\n",
        "signature unpadded base64": f"{body}\n\u2014 {ORIGIN} {encoded.rstrip('=')}\n",
        "signature too short": f"{body}\n\u2014 {ORIGIN} AAAA\n",
        "blank line among signatures": f"{note}\n{line}",
        "carriage return": note.replace("\n", "\r\n", 1),
        "control character": note.replace("audit", "au\x07dit", 1),
        "key name with plus": f"{body}\n\u2014 a+b {encoded}\n",
    }


@pytest.mark.parametrize("case", sorted(malformed_notes()))
def test_malformed_notes_fail(case: str) -> None:
    with pytest.raises(VerificationError):
        verify_checkpoint(malformed_notes()[case], log_verifier_key())


@pytest.mark.parametrize(
    "body",
    [
        f"{ORIGIN}\n007\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n+7\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n7.0\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n\u0667\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n7\n{base64.b64encode(ROOT[:31]).decode()}\n",
        f"{ORIGIN}\n7\n{base64.b64encode(ROOT + b'x').decode()}\n",
        f"{ORIGIN}\n7\n{base64.urlsafe_b64encode(bytes([0xFB] * 32)).decode()}\n",
        f"{ORIGIN}\n7\n{base64.b64encode(ROOT).decode().rstrip('=')}\n",
        f"{ORIGIN}\n7\n",
        f"{ORIGIN}\n{2**64}\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n{'9' * 5000}\n{base64.b64encode(ROOT).decode()}\n",
    ],
)
def test_correctly_signed_but_malformed_checkpoints_fail(body: str) -> None:
    with pytest.raises(VerificationError):
        verify_checkpoint(signed(body), log_verifier_key())


def test_a_root_in_non_canonical_base64_fails() -> None:
    encoded = base64.b64encode(ROOT).decode()
    # The last character before "=" carries two unused bits; setting one changes no byte.
    last = encoded[-2]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    sloppy = encoded[:-2] + alphabet[alphabet.index(last) | 1] + "="
    assert base64.b64decode(sloppy) == ROOT and sloppy != encoded
    with pytest.raises(VerificationError, match="canonical"):
        verify_checkpoint(signed(f"{ORIGIN}\n7\n{sloppy}\n"), log_verifier_key())


@pytest.mark.parametrize(
    "key",
    [
        "",
        "name",
        "name+c74f20a3",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW=",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_malformed_verifier_keys_fail(key: str) -> None:
    with pytest.raises(VerificationError):
        parse_verifier_key(key)


def test_a_verifier_key_of_another_type_fails() -> None:
    name, key_hex, encoded = GO_VERIFIER_KEY.split("+")
    ecdsa_typed = base64.b64encode(b"\x02" + base64.b64decode(encoded)[1:]).decode()
    with pytest.raises(VerificationError, match="0x02"):
        parse_verifier_key(f"{name}+{key_hex}+{ecdsa_typed}")


def test_parsed_verifier_key() -> None:
    name, parsed_id, public_key = parse_verifier_key(GO_VERIFIER_KEY)
    assert (name, parsed_id) == ("PeterNeumann", bytes.fromhex("c74f20a3"))
    assert verifier_key(name, public_key.public_bytes_raw()) == GO_VERIFIER_KEY


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\u00a0b", "a\tb"])
def test_invalid_key_names_are_refused_when_signing(name: str) -> None:
    with pytest.raises(ValueError):
        sign_checkpoint(checkpoint_body(ORIGIN, 1, ROOT), name, LOG_KEY)


@pytest.mark.parametrize("body", ["", "\n", "a\n\nb\n", "a\nb", "a\x00\n"])
def test_malformed_bodies_are_refused_when_signing(body: str) -> None:
    with pytest.raises(ValueError):
        sign_checkpoint(body, ORIGIN, LOG_KEY)


def test_generated_key_file_is_private_and_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "log.pem"
    private_key = generate_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert raw_public_key(load_signing_key(path)) == raw_public_key(private_key)


def test_generating_never_overwrites_a_key(tmp_path: Path) -> None:
    path = tmp_path / "log.pem"
    path.write_bytes(b"existing")
    with pytest.raises(FileExistsError):
        generate_signing_key(path)
    assert path.read_bytes() == b"existing"


def test_loading_a_key_of_another_type_fails(tmp_path: Path) -> None:
    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ValueError, match="Ed25519"):
        load_signing_key(path)
