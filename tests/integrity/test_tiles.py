"""C2SP tlog-tiles paths and the tree nodes a tile holds."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audittrail.integrity.tree import (
    MAX_TILE_LEVEL,
    TileAddress,
    entries_path,
    parse_tile_path,
    tile_nodes,
    tile_path,
)

from .reference import LEAVES, built_tree, mth, property_test


@pytest.mark.parametrize(
    ("path", "address"),
    [
        ("tile/0/000", TileAddress(0, 0)),
        ("tile/0/x001/x234/067", TileAddress(0, 1_234_067)),
        ("tile/1/x001/000", TileAddress(1, 1000)),
        ("tile/2/005.p/17", TileAddress(2, 5, 17)),
        ("tile/63/999.p/255", TileAddress(63, 999, 255)),
        ("tile/entries/x001/x234/067.p/1", TileAddress(None, 1_234_067, 1)),
        ("tile/entries/042", TileAddress(None, 42)),
    ],
)
def test_tile_paths_in_both_directions(path: str, address: TileAddress) -> None:
    if address.level is None:
        assert entries_path(address.index, address.width) == path
    else:
        assert tile_path(address.level, address.index, address.width) == path
    assert parse_tile_path(path) == address


@property_test
@given(
    st.one_of(st.none(), st.integers(min_value=0, max_value=MAX_TILE_LEVEL)),
    st.integers(min_value=0, max_value=10**15),
    st.one_of(st.none(), st.integers(min_value=1, max_value=255)),
)
def test_every_tile_path_parses_back(level: int | None, index: int, width: int | None) -> None:
    path = entries_path(index, width) if level is None else tile_path(level, index, width)
    assert parse_tile_path(path) == TileAddress(level, index, width)


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/1",
        "tile/0/0001",
        "tile/0/x000/067",
        "tile/0/001/234",
        "tile/0/x234",
        "tile/00/000",
        "tile/01/000",
        "tile/64/000",
        "tile/-1/000",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/07",
        "tile/0/000.p/",
        "tile/0/000.p",
        "tile/data/000",
        "/tile/0/000",
        "tile/0/000/",
        "tile/0/000\n",
        "tile/0/\u0660\u0660\u0660",
        "tile/0/X001/000",
        "tile/entries/000.p/256",
        "tiles/0/000",
        "",
    ],
)
def test_malformed_tile_paths_are_rejected(path: str) -> None:
    with pytest.raises(ValueError):
        parse_tile_path(path)


@pytest.mark.parametrize(
    ("level", "index", "width"),
    [(-1, 0, None), (64, 0, None), (0, -1, None), (0, 0, 0), (0, 0, 256)],
)
def test_tile_path_refuses_what_the_spec_does_not_allow(
    level: int, index: int, width: int | None
) -> None:
    with pytest.raises(ValueError):
        tile_path(level, index, width)


def test_tile_nodes_are_the_level_8l_nodes_of_the_tile() -> None:
    assert tile_nodes(1, 2, 3) == [(8, 512), (8, 513), (8, 514)]
    assert tile_nodes(0, 0) == [(0, index) for index in range(256)]
    with pytest.raises(ValueError):
        tile_nodes(0, 0, 256)


def test_tile_hashes_come_from_the_node_store() -> None:
    nodes = built_tree().nodes
    # 300 leaves: one full level-0 tile, a partial one of width 44, a level-1 tile of width 1.
    assert [nodes[node] for node in tile_nodes(0, 1, 44)] == list(LEAVES[256:300])
    assert [nodes[node] for node in tile_nodes(1, 0, 1)] == [mth(0, 256)]
