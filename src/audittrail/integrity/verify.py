"""Offline verification of proofs and signed checkpoints, for any client.

Imports only the standard library, ``cryptography`` and sibling modules that do the same, so
an auditor can use it without the server's dependencies. Proof checks follow RFC 9162
sections 2.1.3.2 and 2.1.4.2, with the edge cases of transparency-dev/merkle's verifier.
"""

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audittrail.integrity.checkpoint import (
    ED25519_PUBLIC_KEY_SIZE,
    ED25519_SIGNATURE_TYPE,
    KEY_ID_SIZE,
    SIGNATURE_LINE_PREFIX,
    check_key_name,
    key_id,
)
from audittrail.integrity.hashing import EMPTY_ROOT, HASH_SIZE, node_hash
from audittrail.integrity.tree import Frontier

# Far more than any real note carries; bounds the work an oversized note can cause.
MAX_SIGNATURES = 100

_ED25519_SIGNATURE_SIZE = 64
# Decimal without leading zeros, below 2**64 (RFC 9162 sizes are uint64).
_TREE_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")
_MAX_TREE_SIZE = 2**64 - 1
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")
_CONTROL_CHARACTER = re.compile(r"[\x00-\x09\x0b-\x1f]")
# 32 bytes in base64: 43 digits, the last with its two low bits zero, and one "=". A proof
# check decodes many: matching this is a fifth of the cost of decoding and encoding back.
_HASH_BASE64 = re.compile(r"[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=")


class VerificationError(ValueError):
    """A proof, checkpoint or key that does not verify or does not parse."""


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint states: the log ``origin`` had ``size`` leaves and this root."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()


class VerifierKey(NamedTuple):
    """A trusted Ed25519 signed-note key."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey


def verify_inclusion(
    leaf_index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``leaf_index`` of the tree of ``tree_size`` and ``root``."""
    if not 0 <= leaf_index < tree_size:
        raise VerificationError(f"leaf index {leaf_index} is outside a tree of size {tree_size}")
    _check_hash_size("leaf hash", leaf_hash)
    _check_proof_hash_sizes(proof)
    fn, sn, r = leaf_index, tree_size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise VerificationError("inclusion proof has more hashes than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_while_even(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError("inclusion proof has fewer hashes than the path to the root")
    if r != root:
        raise VerificationError("inclusion proof does not lead to the given root")


class InclusionVerifier:
    """:func:`verify_inclusion` of many leaves of one tree, with the proofs' hashes in base64 as
    JSON carries them; quick for leaves in ascending order, as an export holds them.

    Where a proof reaches a subtree that the last verified proof passed through, with the same
    hash and the same hashes left to read, the rest of its walk is that proof's, which led to
    the root. Neighbouring leaves share their proofs above the subtree that holds both, so each
    costs a few hashes instead of one per level.
    """

    def __init__(self, tree_size: int, root: bytes) -> None:
        _check_hash_size("root", root)
        self._size = tree_size
        self._root = root
        # The last proof that verified, and the subtrees (start, end) its walk passed through
        # from the leaf up: the position in the proof there and the subtree's hash.
        self._proof: list[str] = []
        self._path: dict[tuple[int, int], tuple[int, bytes]] = {}

    def verify(self, leaf_index: int, leaf_hash: bytes, proof: list[str]) -> None:
        """Check that ``leaf_hash`` is leaf ``leaf_index``; ``proof`` lists its hashes from the
        leaf up, in standard base64."""
        size = self._size
        if not 0 <= leaf_index < size:
            raise VerificationError(f"leaf index {leaf_index} is outside a tree of size {size}")
        _check_hash_size("leaf hash", leaf_hash)
        # verify_inclusion's walk; `level` tells which subtree `digest` is the hash of.
        fn, sn, level, digest = leaf_index, size - 1, 0, leaf_hash
        path: dict[tuple[int, int], tuple[int, bytes]] = {}
        for position, encoded in enumerate(proof):
            span = (fn << level, size if fn == sn else (fn + 1) << level)
            path[span] = (position, digest)
            verified = self._verified_position(span, digest, proof[position:])
            if verified is not None:
                # The rest of the walk is the verified proof's: remember it as this one's.
                for above, (place, known) in self._path.items():
                    if place > verified:
                        path[above] = (place - verified + position, known)
                break
            if sn == 0:
                raise VerificationError("inclusion proof has more hashes than the path to the root")
            sibling = decode_hash(f"proof hash {position}", encoded)
            if fn & 1 or fn == sn:
                digest = node_hash(sibling, digest)
                shift = (fn & -fn).bit_length() - 1 if fn else 0
                fn, sn, level = fn >> shift, sn >> shift, level + shift
            else:
                digest = node_hash(digest, sibling)
            fn, sn, level = fn >> 1, sn >> 1, level + 1
        else:
            if sn != 0:
                raise VerificationError(
                    "inclusion proof has fewer hashes than the path to the root"
                )
            if digest != self._root:
                raise VerificationError("inclusion proof does not lead to the given root")
            path[0, size] = (len(proof), digest)
        self._proof, self._path = proof, path

    def _verified_position(
        self, span: tuple[int, int], digest: bytes, rest: list[str]
    ) -> int | None:
        """Where the last verified proof reached this subtree with this hash, if it did and had
        these hashes left to read: from there, the two walks are the same."""
        known = self._path.get(span)
        if known is None:
            return None
        position, known_digest = known
        if known_digest != digest or self._proof[position:] != rest:
            return None
        return position


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of ``size2`` and ``root2`` extends the one of ``size1`` and ``root1``."""
    if size1 < 0 or size2 < size1:
        raise VerificationError(f"tree size {size2} cannot follow tree size {size1}")
    if size1 == 0:
        # Every tree extends the empty one: a proof from it would be a check of nothing.
        raise VerificationError("a consistency proof from the empty tree proves nothing")
    if size1 == size2:
        _check_same_tree(proof, root1, root2)
        return
    if not proof:
        raise VerificationError("consistency proof is empty")
    _check_proof_hash_sizes(proof)
    _check_hash_size("first root", root1)
    _check_hash_size("second root", root2)
    _check_consistency_path(size1, size2, proof, root1, root2)


def root_from_range(
    start: int,
    end: int,
    size: int,
    leaf_hashes: Sequence[bytes],
    parts: Sequence[tuple[int, int, bytes]],
) -> bytes:
    """The root of a tree of ``size`` whose leaves ``[start, end)`` are ``leaf_hashes``, given the
    hashes of the subtrees beside them as (start, end, hash): RFC 9162's recursion, taking the
    next part for each subtree that holds none of the leaves (``tree.range_proof_ranges``)."""
    if not 0 <= start <= end <= size:
        raise VerificationError(f"[{start}, {end}) is not a leaf range of a tree of size {size}")
    if len(leaf_hashes) != end - start:
        raise VerificationError(f"{len(leaf_hashes)} leaves given for [{start}, {end})")
    for position, digest in enumerate(leaf_hashes):
        _check_hash_size(f"leaf hash {position}", digest)
    walk = _RangeWalk(start, end, leaf_hashes, parts)
    root = walk.subtree(0, size) if size else EMPTY_ROOT
    if walk.used < len(parts):
        raise VerificationError("range proof has more hashes than the tree needs")
    return root


@dataclass
class _RangeWalk:
    """One walk of :func:`root_from_range`, taking ``parts`` in order."""

    start: int
    end: int
    leaf_hashes: Sequence[bytes]
    parts: Sequence[tuple[int, int, bytes]]
    used: int = 0

    def subtree(self, lo: int, hi: int) -> bytes:
        """MTH of leaves [lo, hi): taken from the proof, folded from the leaves, or split."""
        start, end = self.start, self.end
        if hi <= start or end <= lo or start == end:
            return self._next_part(lo, hi)
        if start <= lo and hi <= end:
            # A whole subtree of given leaves: folded a level at a time, not one call per leaf.
            frontier = Frontier()
            frontier.extend(self.leaf_hashes[lo - start : hi - start])
            return frontier.root()
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        return node_hash(self.subtree(lo, lo + k), self.subtree(lo + k, hi))

    def _next_part(self, lo: int, hi: int) -> bytes:
        if self.used == len(self.parts):
            raise VerificationError("range proof has fewer hashes than the tree needs")
        part_start, part_end, digest = self.parts[self.used]
        if (part_start, part_end) != (lo, hi):
            raise VerificationError(
                f"range proof hash {self.used} is for [{part_start}, {part_end}), "
                f"the tree needs [{lo}, {hi})"
            )
        _check_hash_size(f"range proof hash {self.used}", digest)
        self.used += 1
        return digest


def _check_same_tree(proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    if proof:
        raise VerificationError("a consistency proof between equal tree sizes must be empty")
    if root1 != root2:
        raise VerificationError("two different roots for the same tree size")


def _check_consistency_path(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    # The old root is itself a node of the new tree when its size is a power of two.
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof has more hashes than the tree needs")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift_while_even(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError("consistency proof has fewer hashes than the tree needs")
    if fr != root1:
        raise VerificationError("consistency proof does not lead to the first root")
    if sr != root2:
        raise VerificationError("consistency proof does not lead to the second root")


def _shift_while_even(fn: int, sn: int) -> tuple[int, int]:
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def _check_proof_hash_sizes(proof: Sequence[bytes]) -> None:
    for position, digest in enumerate(proof):
        _check_hash_size(f"proof hash {position}", digest)


def _check_hash_size(what: str, digest: bytes) -> None:
    if len(digest) != HASH_SIZE:
        raise VerificationError(f"{what} has {len(digest)} bytes, expected {HASH_SIZE}")


def parse_verifier_key(text: str) -> VerifierKey:
    """Parse ``<name>+<key id hex>+<base64(0x01 || Ed25519 public key)>``."""
    name, separator, rest = text.partition("+")
    key_id_hex, separator2, encoded = rest.partition("+")
    if not (separator and separator2):
        raise VerificationError("a verifier key is <name>+<key id>+<key>")
    _check_name(name)
    if not _KEY_ID_HEX.fullmatch(key_id_hex):
        raise VerificationError(f"verifier key id must be 8 lowercase hex digits: {key_id_hex!r}")
    key_material = _strict_b64decode("verifier key", encoded)
    if len(key_material) != 1 + ED25519_PUBLIC_KEY_SIZE:
        raise VerificationError("verifier key is not an Ed25519 public key")
    if key_material[0] != ED25519_SIGNATURE_TYPE:
        raise VerificationError(f"unsupported verifier key type 0x{key_material[0]:02x}")
    raw_key = key_material[1:]
    stated_id = bytes.fromhex(key_id_hex)
    if key_id(name, raw_key) != stated_id:
        raise VerificationError("verifier key id does not match its name and key")
    return VerifierKey(name, stated_id, Ed25519PublicKey.from_public_bytes(raw_key))


def verify_checkpoint(
    note: str | bytes, verifier_key: str | VerifierKey, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint against the log's key and return what it states."""
    checkpoint = parse_checkpoint_body(verify_note(note, verifier_key))
    if origin is not None and checkpoint.origin != origin:
        raise VerificationError(f"checkpoint is for {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint


def verify_note(note: str | bytes, verifier_key: str | VerifierKey) -> str:
    """Verify a signed note against one trusted key and return its text.

    Signatures by other keys are ignored (they may be witnesses); at least one signature by
    the trusted key must be present, and every one of them must verify.
    """
    key = verifier_key
    if not isinstance(key, VerifierKey):
        key = parse_verifier_key(key)
    text, signatures = _split_note(_note_text(note))
    ours = [
        signature[KEY_ID_SIZE:]
        for name, signature in signatures
        if name == key.name and signature[:KEY_ID_SIZE] == key.key_id
    ]
    if not ours:
        raise VerificationError(f"note carries no signature by {key.name}")
    for signature in ours:
        _check_signature(key, text, signature)
    return text


def parse_checkpoint_body(body: str) -> Checkpoint:
    """Parse checkpoint note text. It is only trustworthy once its signature has verified."""
    *lines, after_last_newline = body.split("\n")
    if after_last_newline:
        raise VerificationError("checkpoint body must end with a newline")
    if len(lines) < 3 or not all(lines):
        raise VerificationError("checkpoint body needs origin, size and root lines, none empty")
    origin, size_text, root_text, *extensions = lines
    if not _TREE_SIZE.fullmatch(size_text) or int(size_text) > _MAX_TREE_SIZE:
        raise VerificationError(f"checkpoint tree size is not a canonical uint64: {size_text!r}")
    root_hash = decode_hash("checkpoint root hash", root_text)
    return Checkpoint(origin, int(size_text), root_hash, tuple(extensions))


def decode_hash(what: str, text: str) -> bytes:
    """A tree hash, as notes and proofs spell it: standard, padded, canonical base64."""
    if not _HASH_BASE64.fullmatch(text):
        raise VerificationError(f"{what} is not the canonical base64 of a {HASH_SIZE}-byte hash")
    return binascii.a2b_base64(text)


def _note_text(note: str | bytes) -> str:
    try:
        text = note.decode("utf-8") if isinstance(note, bytes) else note
        text.encode("utf-8")
    except UnicodeError:
        raise VerificationError("signed note is not valid UTF-8") from None
    if _CONTROL_CHARACTER.search(text):
        raise VerificationError("signed note contains a control character")
    return text


def _split_note(text: str) -> tuple[str, list[tuple[str, bytes]]]:
    """Body and (key name, key id || signature) pairs; the last blank line separates them."""
    if not text.endswith("\n"):
        raise VerificationError("signed note must end with a newline")
    separator = text.rfind("\n\n")
    if separator < 0:
        raise VerificationError("signed note has no blank line before its signatures")
    signature_lines = text[separator + 2 :].split("\n")[:-1]
    if not signature_lines:
        raise VerificationError("signed note has no signature")
    if len(signature_lines) > MAX_SIGNATURES:
        raise VerificationError(f"signed note has more than {MAX_SIGNATURES} signatures")
    return text[: separator + 1], [_parse_signature_line(line) for line in signature_lines]


def _parse_signature_line(line: str) -> tuple[str, bytes]:
    if not line.startswith(SIGNATURE_LINE_PREFIX):
        raise VerificationError(f"not a signature line: {line!r}")
    name, space, encoded = line[len(SIGNATURE_LINE_PREFIX) :].partition(" ")
    if not space:
        raise VerificationError(f"signature line lacks a signature: {line!r}")
    _check_name(name)
    signature = _strict_b64decode("signature", encoded)
    if len(signature) <= KEY_ID_SIZE:
        raise VerificationError(f"signature of {name} is too short")
    return name, signature


def _check_signature(key: VerifierKey, body: str, signature: bytes) -> None:
    if len(signature) != _ED25519_SIGNATURE_SIZE:
        raise VerificationError(f"signature by {key.name} is not an Ed25519 signature")
    try:
        key.public_key.verify(signature, body.encode("utf-8"))
    except InvalidSignature:
        raise VerificationError(f"signature by {key.name} does not verify") from None


def _check_name(name: str) -> None:
    try:
        check_key_name(name)
    except ValueError as error:
        raise VerificationError(str(error)) from None


def _strict_b64decode(what: str, text: str) -> bytes:
    """Standard, padded base64 in its one canonical spelling."""
    try:
        decoded = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise VerificationError(f"{what} is not valid base64") from None
    if base64.b64encode(decoded).decode("ascii") != text:
        raise VerificationError(f"{what} is not canonical base64")
    return decoded
