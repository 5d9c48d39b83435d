"""The worked examples of docs/integrity.md hold."""

from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audittrail.integrity.canonical import record_leaf_bytes, record_leaf_hash
from audittrail.integrity.checkpoint import (
    checkpoint_body,
    public_key_bytes,
    sign_checkpoint,
    verifier_key,
)
from audittrail.integrity.hashing import leaf_hash
from audittrail.integrity.tree import Frontier, consistency_proof, inclusion_proof
from audittrail.integrity.verify import verify_checkpoint

ORIGIN = "audit.example.com/log"
LEAF_A = "022a6979e6dab7aa5ae4c3e5e45f7e977112a7e63593820dbec1ec738a24f93c"
LEAF_B = "57eb35615d47f34ec714cacdf5fd74608a5e8e102724e80b24b287c0c27b6a31"
LEAF_C = "597fcb31282d34654c200d3418fca5705c648ebf326ec73d8ddef11841f876d8"
NODE_AB = "b137985ff484fb600db93107c77b0365c80d78f5b429ded0fd97361d077999eb"
ROOT_3 = "36642e73c2540ab121e3a6bf9545b0a24982cd830eb13d3cd19de3ce6c021ec1"


def test_leaf_encoding_example() -> None:
    record = {
        "id": "019ac3a5-5e2a-7c1d-8f3b-2a9c4d6e8f01",
        "seq": 0,
        "created_at": datetime(2026, 11, 27, 2, 20, 36, 123456, tzinfo=UTC),
        "event_type": "user.login",
        "category": "security",
        "summary": "Anmeldung von Jörg",
        "severity": "info",
        "actor": "joerg@example.com",
        "application_id": None,
        "application_key": None,
        "entity_type": "user",
        "entity_id": "42",
        "params": {},
        "metadata": {"ratio": 0.5, "attempt": 2},
        "ip_address": "198.51.100.4",
        "source": "system",
    }
    leaf = record_leaf_bytes(record)
    assert (
        leaf
        == (
            '{"actor":"joerg@example.com","application_id":null,"application_key":null,'
            '"category":"security","created_at":"2026-11-27T02:20:36.123456Z","entity_id":"42",'
            '"entity_type":"user","event_type":"user.login",'
            '"id":"019ac3a5-5e2a-7c1d-8f3b-2a9c4d6e8f01","ip_address":"198.51.100.4",'
            '"metadata":{"attempt":2,"ratio":0.5},"params":{},"seq":0,"severity":"info",'
            '"source":"system","summary":"Anmeldung von Jörg"}'
        ).encode()
    )
    assert len(leaf) == 400
    expected = "8b602926f976b97bf27d906cedd8ffd1e461f15becb25f1a93766610ed193cb4"
    assert record_leaf_hash(record).hex() == expected


def test_tree_and_proof_example() -> None:
    frontier = Frontier()
    created = frontier.append([leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")])
    assert [(level, index, h.hex()) for level, index, h in created] == [
        (0, 0, LEAF_A),
        (0, 1, LEAF_B),
        (1, 0, NODE_AB),
        (0, 2, LEAF_C),
    ]
    assert frontier.root().hex() == ROOT_3
    nodes = {(level, index): h for level, index, h in created}
    assert [h.hex() for h in inclusion_proof(2, 3, nodes)] == [NODE_AB]
    assert [h.hex() for h in inclusion_proof(0, 3, nodes)] == [LEAF_B, LEAF_C]
    assert [h.hex() for h in consistency_proof(2, 3, nodes)] == [LEAF_C]
    assert [h.hex() for h in consistency_proof(1, 3, nodes)] == [LEAF_B, LEAF_C]


def test_checkpoint_example() -> None:
    test_key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    key = verifier_key(ORIGIN, public_key_bytes(test_key.public_key()))
    assert key == "audit.example.com/log+e3a410b2+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
    note = sign_checkpoint(checkpoint_body(ORIGIN, 3, bytes.fromhex(ROOT_3)), ORIGIN, test_key)
    assert note == (
        "audit.example.com/log\n3\nNmQuc8JUCrEh46a/lUWwokmCzYMOsT080Z3jzmwCHsE=\n\n"
        "\u2014 audit.example.com/log 46QQsqeo6FTfUi2HULfyWKM5dz4tNXTc+F69AL3VqJWJ+Z14W7rjuQ94"
        "coDfrEl2jfjVwH2gcojBi+cEYOJQ84HEEg4=\n"
    )
    assert verify_checkpoint(note, key, origin=ORIGIN).root_hash.hex() == ROOT_3
