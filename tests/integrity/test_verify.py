"""The proof verifier refuses any proof, leaf, root, index or size that was tampered with."""

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from audittrail.integrity.tree import consistency_proof, inclusion_proof
from audittrail.integrity.verify import VerificationError, verify_consistency, verify_inclusion

from .reference import LEAVES, MAX_SIZE, built_tree, flip_bit, property_test

ANY_HASH = bytes(range(32))


@st.composite
def inclusion_cases(draw: st.DrawFn, min_size: int = 1) -> tuple[int, int, list[bytes]]:
    size = draw(st.integers(min_value=min_size, max_value=MAX_SIZE))
    index = draw(st.integers(min_value=0, max_value=size - 1))
    return index, size, inclusion_proof(index, size, built_tree().nodes)


@st.composite
def consistency_cases(draw: st.DrawFn) -> tuple[int, int, list[bytes]]:
    size2 = draw(st.integers(min_value=2, max_value=MAX_SIZE))
    size1 = draw(st.integers(min_value=1, max_value=size2 - 1))
    return size1, size2, consistency_proof(size1, size2, built_tree().nodes)


def assert_inclusion_fails(
    index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes
) -> None:
    with pytest.raises(VerificationError):
        verify_inclusion(index, size, leaf, proof, root)


def assert_consistency_fails(
    size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes
) -> None:
    with pytest.raises(VerificationError):
        verify_consistency(size1, size2, proof, root1, root2)


@property_test
@given(inclusion_cases(min_size=2), st.data())
def test_inclusion_fails_with_a_flipped_proof_bit(
    case: tuple[int, int, list[bytes]], data: st.DataObject
) -> None:
    index, size, proof = case
    position = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
    bit = data.draw(st.integers(min_value=0, max_value=255))
    proof[position] = flip_bit(proof[position], bit)
    assert_inclusion_fails(index, size, LEAVES[index], proof, built_tree().roots[size])


@property_test
@given(inclusion_cases(), st.integers(min_value=0, max_value=255))
def test_inclusion_fails_with_a_flipped_leaf_bit(
    case: tuple[int, int, list[bytes]], bit: int
) -> None:
    index, size, proof = case
    leaf = flip_bit(LEAVES[index], bit)
    assert_inclusion_fails(index, size, leaf, proof, built_tree().roots[size])


@property_test
@given(inclusion_cases(), st.integers(min_value=0, max_value=255))
def test_inclusion_fails_with_a_flipped_root_bit(
    case: tuple[int, int, list[bytes]], bit: int
) -> None:
    index, size, proof = case
    root = flip_bit(built_tree().roots[size], bit)
    assert_inclusion_fails(index, size, LEAVES[index], proof, root)


@property_test
@given(inclusion_cases(min_size=2), st.data())
def test_inclusion_fails_at_another_index(
    case: tuple[int, int, list[bytes]], data: st.DataObject
) -> None:
    index, size, proof = case
    other = data.draw(st.integers(min_value=0, max_value=size - 1).filter(lambda i: i != index))
    root = built_tree().roots[size]
    assert_inclusion_fails(other, size, LEAVES[index], proof, root)
    assert_inclusion_fails(other, size, LEAVES[other], proof, root)


@property_test
@given(inclusion_cases(), st.integers(min_value=1, max_value=MAX_SIZE))
def test_inclusion_fails_in_a_tree_of_another_size(
    case: tuple[int, int, list[bytes]], other_size: int
) -> None:
    index, size, proof = case
    assume(other_size != size and index < other_size)
    tree = built_tree()
    assert_inclusion_fails(index, other_size, LEAVES[index], proof, tree.roots[other_size])


@property_test
@given(inclusion_cases(), st.sampled_from(["append", "prepend", "drop first", "drop last"]))
def test_inclusion_fails_with_an_element_added_or_removed(
    case: tuple[int, int, list[bytes]], change: str
) -> None:
    index, size, proof = case
    assume(proof or change in {"append", "prepend"})
    changed = {
        "append": [*proof, ANY_HASH],
        "prepend": [ANY_HASH, *proof],
        "drop first": proof[1:],
        "drop last": proof[:-1],
    }[change]
    assert_inclusion_fails(index, size, LEAVES[index], changed, built_tree().roots[size])


def test_inclusion_rejects_indexes_and_sizes_outside_the_tree() -> None:
    root = built_tree().roots[1]
    for index, size in [(0, 0), (1, 1), (-1, 1), (2**64 - 1, 1)]:
        assert_inclusion_fails(index, size, LEAVES[0], [], root)


def test_inclusion_rejects_a_leaf_hash_of_the_wrong_size() -> None:
    assert_inclusion_fails(0, 1, b"", [], b"")


@property_test
@given(consistency_cases(), st.data())
def test_consistency_fails_with_a_flipped_proof_bit(
    case: tuple[int, int, list[bytes]], data: st.DataObject
) -> None:
    size1, size2, proof = case
    position = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
    proof[position] = flip_bit(proof[position], data.draw(st.integers(0, 255)))
    roots = built_tree().roots
    assert_consistency_fails(size1, size2, proof, roots[size1], roots[size2])


@property_test
@given(consistency_cases(), st.booleans(), st.integers(min_value=0, max_value=255))
def test_consistency_fails_with_a_flipped_root_bit(
    case: tuple[int, int, list[bytes]], first: bool, bit: int
) -> None:
    size1, size2, proof = case
    root1, root2 = built_tree().roots[size1], built_tree().roots[size2]
    if first:
        root1 = flip_bit(root1, bit)
    else:
        root2 = flip_bit(root2, bit)
    assert_consistency_fails(size1, size2, proof, root1, root2)


@property_test
@given(consistency_cases(), st.integers(1, MAX_SIZE), st.integers(1, MAX_SIZE))
def test_consistency_fails_between_other_sizes(
    case: tuple[int, int, list[bytes]], other1: int, other2: int
) -> None:
    size1, size2, proof = case
    assume((other1, other2) != (size1, size2))
    roots = built_tree().roots
    assert_consistency_fails(other1, other2, proof, roots[other1], roots[other2])


@property_test
@given(consistency_cases(), st.sampled_from(["append", "prepend", "drop first", "drop last"]))
def test_consistency_fails_with_an_element_added_or_removed(
    case: tuple[int, int, list[bytes]], change: str
) -> None:
    size1, size2, proof = case
    changed = {
        "append": [*proof, ANY_HASH],
        "prepend": [ANY_HASH, *proof],
        "drop first": proof[1:],
        "drop last": proof[:-1],
    }[change]
    roots = built_tree().roots
    assert_consistency_fails(size1, size2, changed, roots[size1], roots[size2])


def test_consistency_between_equal_sizes_needs_an_empty_proof_and_equal_roots() -> None:
    roots = built_tree().roots
    verify_consistency(5, 5, [], roots[5], roots[5])
    assert_consistency_fails(5, 5, [roots[5]], roots[5], roots[5])
    assert_consistency_fails(5, 5, [], roots[5], roots[6])


def test_consistency_from_or_to_nothing_fails() -> None:
    roots = built_tree().roots
    assert_consistency_fails(0, 0, [], roots[0], roots[0])
    assert_consistency_fails(0, 5, [], roots[0], roots[5])
    assert_consistency_fails(5, 4, [], roots[5], roots[4])
    assert_consistency_fails(-1, 4, [], roots[0], roots[4])
