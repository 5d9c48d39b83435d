"""Range proofs (one proof for every leaf of [start, end)) and the many-leaves inclusion check,
against the reference and the single-proof verifier."""

import base64
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audittrail.integrity.hashing import EMPTY_ROOT, leaf_hash
from audittrail.integrity.tree import (
    inclusion_proof,
    range_proof,
    range_proof_nodes,
    range_proof_ranges,
    root_from_leaf_hashes,
    subtree_nodes,
)
from audittrail.integrity.verify import (
    InclusionVerifier,
    VerificationError,
    root_from_range,
    verify_inclusion,
)

from .reference import LEAVES, MAX_SIZE, built_tree, flip_bit, property_test


@st.composite
def ranges(draw: st.DrawFn) -> tuple[int, int, int]:
    size = draw(st.integers(min_value=0, max_value=MAX_SIZE))
    start = draw(st.integers(min_value=0, max_value=size))
    end = draw(st.integers(min_value=start, max_value=size))
    return size, start, end


def proof_parts(start: int, end: int, size: int) -> list[tuple[int, int, bytes]]:
    hashes = range_proof(start, end, size, built_tree().nodes)
    bounds = range_proof_ranges(start, end, size)
    return [(lo, hi, digest) for (lo, hi), digest in zip(bounds, hashes, strict=True)]


@property_test
@given(ranges())
def test_a_range_and_its_proof_give_the_reference_root(case: tuple[int, int, int]) -> None:
    size, start, end = case
    root = root_from_range(start, end, size, LEAVES[start:end], proof_parts(start, end, size))
    assert root == root_from_leaf_hashes(LEAVES[:size])


@property_test
@given(ranges())
def test_the_proof_is_the_subtrees_beside_the_range(case: tuple[int, int, int]) -> None:
    size, start, end = case
    parts = range_proof_ranges(start, end, size)
    covered = sorted([*parts, *((leaf, leaf + 1) for leaf in range(start, end))])
    # Left to right, together with the range's leaves they cover the tree once, none overlaps.
    assert parts == sorted(parts)
    reached = 0
    for lo, hi in covered:
        assert lo == reached
        reached = hi
    assert reached == size
    assert all(hi <= start or end <= lo or start == end for lo, hi in parts)
    # Each is a subtree of RFC 9162's recursion: it splits into perfect nodes of the tree.
    assert range_proof_nodes(start, end, size) == [
        node for lo, hi in parts for node in subtree_nodes(lo, hi)
    ]


@pytest.mark.parametrize(
    ("start", "end", "size"),
    [(0, 10, 37), (27, 37, 37), (10, 20, 37), (17, 18, 37), (0, 37, 37), (5, 5, 37), (0, 0, 0)],
)
def test_ranges_at_the_start_end_middle_of_one_leaf_and_empty(
    start: int, end: int, size: int
) -> None:
    parts = proof_parts(start, end, size)
    assert root_from_range(start, end, size, LEAVES[start:end], parts) == (
        root_from_leaf_hashes(LEAVES[:size])
    )


def test_the_whole_tree_needs_no_proof_and_an_empty_range_needs_the_root() -> None:
    assert range_proof_ranges(0, 37, 37) == []
    assert range_proof_ranges(5, 5, 37) == [(0, 37)]
    assert range_proof_ranges(0, 0, 0) == []
    assert root_from_range(0, 0, 0, [], []) == EMPTY_ROOT


def test_a_range_outside_the_tree_has_no_proof() -> None:
    with pytest.raises(ValueError, match="not a leaf range"):
        range_proof_ranges(3, 38, 37)
    with pytest.raises(ValueError, match="not a leaf range"):
        range_proof_ranges(5, 4, 37)


@property_test
@given(ranges(), st.data())
def test_a_changed_leaf_or_hash_changes_the_root(
    case: tuple[int, int, int], data: st.DataObject
) -> None:
    size, start, end = case
    parts = proof_parts(start, end, size)
    leaves = list(LEAVES[start:end])
    change_a_leaf = data.draw(st.booleans())
    if leaves and (change_a_leaf or not parts):
        position = data.draw(st.integers(min_value=0, max_value=len(leaves) - 1))
        leaves[position] = flip_bit(leaves[position], data.draw(st.integers(0, 255)))
    elif parts:
        position = data.draw(st.integers(min_value=0, max_value=len(parts) - 1))
        lo, hi, digest = parts[position]
        parts[position] = (lo, hi, flip_bit(digest, data.draw(st.integers(0, 255))))
    else:
        return  # an empty tree: nothing to change
    assert root_from_range(start, end, size, leaves, parts) != root_from_leaf_hashes(LEAVES[:size])


def test_parts_must_be_the_walks_own() -> None:
    start, end, size = 10, 20, 37
    parts = proof_parts(start, end, size)
    leaves = LEAVES[start:end]
    lo, hi, digest = parts[0]
    with pytest.raises(VerificationError, match=r"hash 0 is for \[0, 9\), the tree needs \[0, 8\)"):
        root_from_range(start, end, size, leaves, [(lo, hi + 1, digest), *parts[1:]])
    with pytest.raises(VerificationError, match="fewer hashes"):
        root_from_range(start, end, size, leaves, parts[:-1])
    with pytest.raises(VerificationError, match="more hashes"):
        root_from_range(start, end, size, leaves, [*parts, parts[-1]])
    with pytest.raises(VerificationError, match="9 leaves given"):
        root_from_range(start, end, size, leaves[1:], parts)
    with pytest.raises(VerificationError, match="not a leaf range"):
        root_from_range(start, 38, size, LEAVES[start:38], parts)
    with pytest.raises(VerificationError, match="range proof hash 0 has 31 bytes"):
        root_from_range(start, end, size, leaves, [(lo, hi, digest[1:]), *parts[1:]])


def test_a_hundred_thousand_leaves_take_well_under_a_second() -> None:
    start, end, size = 20_000, 120_000, 150_001
    leaves = [leaf_hash(seq.to_bytes(8, "big")) for seq in range(start, end)]
    # The hashes beside the range need not be right to time the walk.
    parts = [(lo, hi, bytes(32)) for lo, hi in range_proof_ranges(start, end, size)]
    started = time.perf_counter()
    root_from_range(start, end, size, leaves, parts)
    assert time.perf_counter() - started < 1.0


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


@property_test
@given(st.integers(min_value=1, max_value=MAX_SIZE), st.data())
def test_many_leaves_verify_as_each_one_alone(size: int, data: st.DataObject) -> None:
    """The verifier that reuses what earlier proofs showed agrees with the one-proof one, on
    right and on tampered proofs, in ascending order or not."""
    nodes, root = built_tree().nodes, built_tree().roots[size]
    indexes = data.draw(st.lists(st.integers(min_value=0, max_value=size - 1), max_size=30))
    if data.draw(st.booleans()):
        indexes.sort()
    verifier = InclusionVerifier(size, root)
    for index in indexes:
        proof = inclusion_proof(index, size, nodes)
        leaf = LEAVES[index]
        tamper = data.draw(st.sampled_from(["none", "leaf", "proof", "length"]))
        if tamper == "leaf":
            leaf = flip_bit(leaf, data.draw(st.integers(0, 255)))
        elif tamper == "proof" and proof:
            position = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
            proof[position] = flip_bit(proof[position], data.draw(st.integers(0, 255)))
        elif tamper == "length":
            proof = [*proof, bytes(32)] if data.draw(st.booleans()) or not proof else proof[:-1]
        try:
            verify_inclusion(index, size, leaf, proof, root)
        except VerificationError:
            with pytest.raises(VerificationError):
                verifier.verify(index, leaf, [b64(digest) for digest in proof])
        else:
            verifier.verify(index, leaf, [b64(digest) for digest in proof])


def test_many_leaves_refuse_what_one_proof_refuses() -> None:
    size, nodes = 37, built_tree().nodes
    verifier = InclusionVerifier(size, built_tree().roots[size])
    proof = [b64(digest) for digest in inclusion_proof(5, size, nodes)]
    verifier.verify(5, LEAVES[5], proof)
    with pytest.raises(VerificationError, match="outside a tree of size 37"):
        verifier.verify(37, LEAVES[5], proof)
    with pytest.raises(VerificationError, match="leaf hash has 31 bytes"):
        verifier.verify(5, LEAVES[5][1:], proof)
    with pytest.raises(VerificationError, match="proof hash 0 is not the canonical base64"):
        verifier.verify(4, LEAVES[4], ["not base64", *proof[1:]])
    with pytest.raises(VerificationError, match="fewer hashes than the path"):
        verifier.verify(5, LEAVES[5], proof[:-1])
