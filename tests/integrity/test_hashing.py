"""RFC 6962 hasher vectors."""

from audittrail.integrity.hashing import EMPTY_ROOT, leaf_hash, node_hash


def test_empty_tree_root() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_leaf_hash_of_the_empty_leaf() -> None:
    expected = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert leaf_hash(b"").hex() == expected


def test_leaf_hash() -> None:
    expected = "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    assert leaf_hash(b"L123456").hex() == expected


def test_node_hash() -> None:
    expected = "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    assert node_hash(b"N123", b"N456").hex() == expected
