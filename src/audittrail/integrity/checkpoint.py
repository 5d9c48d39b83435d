"""Checkpoints: the C2SP tlog-checkpoint body, Ed25519 signed notes, and the log's signing key.

Imports only the standard library and ``cryptography``, so the verifier can share it.
"""

import base64
import hashlib
import os
import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audittrail.integrity.hashing import HASH_SIZE

ED25519_SIGNATURE_TYPE = 0x01
ED25519_PUBLIC_KEY_SIZE = 32
KEY_ID_SIZE = 4
SIGNATURE_LINE_PREFIX = "\u2014 "

# Signed notes allow no ASCII control character but the newline that ends each line.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f]")


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    """``<origin>\\n<size>\\n<base64 root>\\n``: the note text a checkpoint signature covers."""
    if not origin or _CONTROL_CHARACTER.search(origin):
        raise ValueError(f"a checkpoint origin is one non-empty line, got {origin!r}")
    if size < 0:
        raise ValueError(f"tree size must not be negative, got {size}")
    if len(root) != HASH_SIZE:
        raise ValueError(f"a root hash has {HASH_SIZE} bytes, got {len(root)}")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode('ascii')}\n"


def check_key_name(name: str) -> None:
    """Signed-note key names: non-empty, no Unicode space, no ``+`` (it delimits verifier keys)."""
    if not name or "+" in name or any(char.isspace() for char in name):
        raise ValueError(f"not a valid key name: {name!r}")
    if _CONTROL_CHARACTER.search(name):
        raise ValueError(f"a key name must not contain control characters: {name!r}")


def key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x01 || public key)[:4], the id a signature line carries."""
    check_key_name(name)
    if len(public_key) != ED25519_PUBLIC_KEY_SIZE:
        raise ValueError(f"an Ed25519 public key has 32 bytes, got {len(public_key)}")
    material = name.encode("utf-8") + b"\n" + bytes([ED25519_SIGNATURE_TYPE]) + public_key
    return hashlib.sha256(material).digest()[:KEY_ID_SIZE]


def verifier_key(name: str, public_key: bytes) -> str:
    """``<name>+<key id hex>+<base64(0x01 || public key)>``, the form to publish the key in."""
    encoded = base64.b64encode(bytes([ED25519_SIGNATURE_TYPE]) + public_key).decode("ascii")
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


def sign_checkpoint(body: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """The signed note: the body, a blank line, then this key's signature line."""
    _check_body(body)
    public_key = public_key_bytes(private_key.public_key())
    signature = private_key.sign(body.encode("utf-8"))
    encoded = base64.b64encode(key_id(name, public_key) + signature).decode("ascii")
    return f"{body}\n{SIGNATURE_LINE_PREFIX}{name} {encoded}\n"


def _check_body(body: str) -> None:
    *lines, after_last_newline = body.split("\n")
    if not lines or after_last_newline or not all(lines):
        raise ValueError("a checkpoint body is non-empty lines, each ending in a newline")
    if any(_CONTROL_CHARACTER.search(line) for line in lines):
        raise ValueError("a checkpoint body must not contain control characters")


def public_key_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def generate_signing_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Create a key and store it as unencrypted PKCS#8 PEM, readable by the owner only.

    Refuses to overwrite: replacing the log's key would orphan every checkpoint signed so far.
    """
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as key_file:
        key_file.write(pem)
    return private_key


def load_signing_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    private_key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ValueError(f"{os.fspath(path)} does not hold an Ed25519 private key")
    return private_key
