"""Tree math against the naive RFC 9162 reference: appends, roots and generated proofs."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audittrail.integrity.hashing import EMPTY_ROOT
from audittrail.integrity.tree import (
    Frontier,
    MissingNodeError,
    Node,
    completing_leaf,
    consistency_proof,
    consistency_proof_nodes,
    inclusion_proof,
    inclusion_proof_nodes,
    range_root,
    root_from_leaf_hashes,
    subtree_nodes,
    tree_root,
)
from audittrail.integrity.verify import (
    VerificationError,
    verify_consistency,
    verify_inclusion,
)

from .reference import LEAVES, MAX_SIZE, built_tree, mth, path, proof, property_test

CONSISTENCY_MAX_SIZE = 130


def within(size: int, nodes: list[Node]) -> bool:
    return all((index + 1) << level <= size for level, index in nodes)


def test_root_from_leaf_hashes_is_mth() -> None:
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    for size in range(1, MAX_SIZE + 1):
        assert root_from_leaf_hashes(LEAVES[:size]) == mth(0, size)


def test_frontier_root_at_every_size_is_mth() -> None:
    tree = built_tree()
    assert [tree.roots[size] for size in range(MAX_SIZE + 1)] == [
        mth(0, size) for size in range(MAX_SIZE + 1)
    ]


def test_append_reports_every_perfect_node_once() -> None:
    nodes = built_tree().nodes
    expected = {
        (level, index): mth(index << level, (index + 1) << level)
        for level in range(MAX_SIZE.bit_length())
        for index in range(MAX_SIZE >> level)
    }
    assert nodes == expected


@property_test
@given(st.lists(st.integers(min_value=0, max_value=70), max_size=12))
def test_extending_in_runs_of_any_length_gives_every_root(run_lengths: list[int]) -> None:
    """extend folds whole aligned blocks at once: the roots are those of one leaf at a time."""
    frontier, tree = Frontier(), built_tree()
    for length in run_lengths:
        frontier.extend(LEAVES[frontier.size : frontier.size + length])
        assert frontier.root() == tree.roots[frontier.size]


def test_append_completed_gives_each_leaf_the_nodes_it_completes() -> None:
    """What records.tree_hashes stores: node (level, index) at byte 32 * level of the hashes of
    leaf completing_leaf((level, index))."""
    nodes = built_tree().nodes
    stored = Frontier().append_completed(LEAVES[:MAX_SIZE])
    found = {
        (level, index): stored[completing_leaf((level, index))][32 * level : 32 * (level + 1)]
        for level, index in nodes
    }
    assert found == nodes
    assert all(len(hashes) % 32 == 0 for hashes in stored)
    assert sum(len(hashes) for hashes in stored) == 32 * len(nodes)


@property_test
@given(st.lists(st.integers(min_value=0, max_value=40), max_size=12))
def test_appending_in_batches_equals_appending_one_by_one(batch_sizes: list[int]) -> None:
    frontier, tree = Frontier(), built_tree()
    created: list[tuple[int, int, bytes]] = []
    for batch_size in batch_sizes:
        created += frontier.append(LEAVES[frontier.size : frontier.size + batch_size])
        assert frontier.root() == tree.roots[frontier.size]
    expected = {node: h for node, h in tree.nodes.items() if within(frontier.size, [node])}
    assert sorted(created) == sorted((level, index, h) for (level, index), h in expected.items())


@property_test
@given(st.integers(min_value=0, max_value=MAX_SIZE))
def test_frontier_rebuilt_from_stored_nodes_resumes_appending(size: int) -> None:
    tree = built_tree()
    needed = Frontier.nodes_needed(size)
    frontier = Frontier.from_nodes(size, {node: tree.nodes[node] for node in needed})
    assert (frontier.size, frontier.root()) == (size, tree.roots[size])
    created = frontier.append(LEAVES[size:])
    assert {(level, index): h for level, index, h in created} == {
        node: h for node, h in tree.nodes.items() if not within(size, [node])
    }
    assert frontier.root() == tree.roots[MAX_SIZE]


def test_nodes_needed_follows_the_binary_decomposition_of_the_size() -> None:
    assert Frontier.nodes_needed(0) == []
    assert Frontier.nodes_needed(1) == [(0, 0)]
    assert Frontier.nodes_needed(6) == [(2, 0), (1, 2)]
    assert Frontier.nodes_needed(7) == [(2, 0), (1, 2), (0, 6)]
    assert Frontier.nodes_needed(8) == [(3, 0)]
    assert len(Frontier.nodes_needed(1_000_000)) == (1_000_000).bit_count()
    with pytest.raises(ValueError):
        Frontier.nodes_needed(-1)


def test_from_nodes_names_the_missing_node() -> None:
    with pytest.raises(MissingNodeError, match="level 1, index 2"):
        Frontier.from_nodes(6, {(2, 0): LEAVES[0]})


def test_append_rejects_a_hash_of_the_wrong_size() -> None:
    with pytest.raises(ValueError):
        Frontier().append([b"short"])


def test_tree_root_of_every_earlier_size() -> None:
    tree = built_tree()
    for size in range(MAX_SIZE + 1):
        assert tree_root(size, tree.nodes) == tree.roots[size]


def test_inclusion_proof_for_every_leaf_of_every_size() -> None:
    tree = built_tree()
    for size in range(1, MAX_SIZE + 1):
        for index in range(size):
            needed = inclusion_proof_nodes(index, size)
            assert within(size, needed)
            generated = inclusion_proof(index, size, {node: tree.nodes[node] for node in needed})
            assert generated == path(index, 0, size)
            verify_inclusion(index, size, LEAVES[index], generated, tree.roots[size])


def test_consistency_proof_for_every_pair_of_sizes() -> None:
    tree = built_tree()
    for size2 in range(1, CONSISTENCY_MAX_SIZE + 1):
        for size1 in range(1, size2 + 1):
            needed = consistency_proof_nodes(size1, size2)
            assert within(size2, needed)
            generated = consistency_proof(size1, size2, {n: tree.nodes[n] for n in needed})
            assert generated == proof(size1, size2)
            verify_consistency(size1, size2, generated, tree.roots[size1], tree.roots[size2])


@pytest.mark.parametrize("size2", [0, 1, 2, 7])
def test_no_consistency_proof_from_the_empty_tree(size2: int) -> None:
    with pytest.raises(ValueError):
        consistency_proof(0, size2, built_tree().nodes)
    with pytest.raises(ValueError):
        consistency_proof_nodes(0, size2)
    with pytest.raises(VerificationError):
        verify_consistency(0, size2, [], EMPTY_ROOT, built_tree().roots[size2])


@pytest.mark.parametrize(("index", "size"), [(0, 0), (5, 5), (-1, 5), (6, 5)])
def test_no_inclusion_proof_outside_the_tree(index: int, size: int) -> None:
    with pytest.raises(ValueError):
        inclusion_proof_nodes(index, size)


@pytest.mark.parametrize(("size1", "size2"), [(6, 5), (-1, 5), (1, 0)])
def test_no_consistency_proof_backwards(size1: int, size2: int) -> None:
    with pytest.raises(ValueError):
        consistency_proof_nodes(size1, size2)


@property_test
@given(st.data())
def test_a_large_tree_needs_few_nodes_all_inside_it(data: st.DataObject) -> None:
    size = data.draw(st.integers(min_value=1, max_value=2**40))
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    size1 = data.draw(st.integers(min_value=1, max_value=size))
    for needed in (inclusion_proof_nodes(index, size), consistency_proof_nodes(size1, size)):
        assert within(size, needed)
        assert len(needed) <= 2 * size.bit_length()


def test_inclusion_in_a_million_leaf_tree_reads_logarithmically_many_nodes() -> None:
    needed = inclusion_proof_nodes(123_456, 1_000_000)
    assert len(needed) <= 2 * (1_000_000).bit_length()
    assert within(1_000_000, needed)


def test_subtree_nodes_decompose_aligned_ranges() -> None:
    assert subtree_nodes(0, 5) == [(2, 0), (0, 4)]
    assert subtree_nodes(8, 13) == [(2, 2), (0, 12)]
    assert subtree_nodes(4, 10) == [(2, 1), (1, 4)]
    assert range_root(8, 13, built_tree().nodes) == mth(8, 13)


@pytest.mark.parametrize(("start", "end"), [(1, 3), (2, 6), (4, 4), (5, 4), (-1, 1)])
def test_subtree_nodes_reject_ranges_that_are_not_tree_subtrees(start: int, end: int) -> None:
    with pytest.raises(ValueError):
        subtree_nodes(start, end)


def test_a_proof_from_an_incomplete_store_names_the_missing_node() -> None:
    with pytest.raises(MissingNodeError):
        inclusion_proof(3, 7, {})
