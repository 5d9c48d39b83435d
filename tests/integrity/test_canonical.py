"""The leaf encoding of a record, byte for byte."""

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from audittrail.integrity import canonical
from audittrail.integrity.canonical import LEAF_FIELDS, record_leaf_bytes, record_leaf_hash
from audittrail.log.append import AppendedRecord

RECORD: dict[str, object] = {
    "id": "0192f5c4-8b1e-7a3c-9d2e-4f5a6b7c8d9e",
    "seq": 42,
    "created_at": datetime(2026, 11, 27, 3, 20, 36, 123456, tzinfo=timezone(timedelta(hours=1))),
    "event_type": "invoice.approved",
    "category": "billing",
    "summary": "Rechnung für Zürich genehmigt",
    "severity": "info",
    "actor": "user:anna@example.com",
    "application_id": None,
    "application_key": "billing",
    "entity_type": "invoice",
    "entity_id": "INV-2026-0042",
    "params": {
        "whole": 100.0,
        "amount": 1250.5,
        "ratio": 1e21,
        "tiny": 5e-7,
        "count": 3,
        "approved": True,
        "note": None,
        "tags": ["b", "a"],
        "été": "sommer",
        "zeta": 'line\nbreak "quoted" \\ tab\t bell\x07',
    },
    "metadata": {"\ufb01": "ligature", "\U0001f600": "emoji", "request_id": "r-1"},
    "ip_address": "203.0.113.7",
    "source": "manual",
    "not_a_leaf_field": "ignored",
}

# RFC 8785: keys sorted by UTF-16 code units (so U+1F600 before U+FB01), no whitespace,
# ES6 number forms, only the mandatory string escapes, everything else raw UTF-8.
EXPECTED = (
    '{"actor":"user:anna@example.com","application_id":null,"application_key":"billing",'
    '"category":"billing","created_at":"2026-11-27T02:20:36.123456Z",'
    '"entity_id":"INV-2026-0042","entity_type":"invoice","event_type":"invoice.approved",'
    '"id":"0192f5c4-8b1e-7a3c-9d2e-4f5a6b7c8d9e","ip_address":"203.0.113.7",'
    '"metadata":{"request_id":"r-1","\U0001f600":"emoji","\ufb01":"ligature"},'
    '"params":{"amount":1250.5,"approved":true,"count":3,"note":null,"ratio":1e+21,'
    '"tags":["b","a"],"tiny":5e-7,"whole":100,'
    '"zeta":"line\\nbreak \\"quoted\\" \\\\ tab\\t bell\\u0007","été":"sommer"},'
    '"seq":42,"severity":"info","source":"manual","summary":"Rechnung für Zürich genehmigt"}'
)


def test_leaf_bytes_of_a_record() -> None:
    assert record_leaf_bytes(RECORD) == EXPECTED.encode("utf-8")


def test_leaf_hash_is_the_rfc6962_leaf_hash_of_the_bytes() -> None:
    expected = hashlib.sha256(b"\x00" + EXPECTED.encode("utf-8")).digest()
    assert record_leaf_hash(RECORD) == expected


def test_leaf_fields() -> None:
    assert LEAF_FIELDS == (
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
    )


@pytest.mark.parametrize(
    ("created_at", "encoded"),
    [
        (datetime(2026, 1, 1, tzinfo=UTC), "2026-01-01T00:00:00.000000Z"),
        (
            datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),
            "2025-12-31T23:30:00.000000Z",
        ),
        (datetime(999, 1, 1, 0, 0, 0, 5, tzinfo=UTC), "0999-01-01T00:00:00.000005Z"),
        ("2026-11-27T02:20:36.1Z", "2026-11-27T02:20:36.1Z"),
    ],
)
def test_created_at_encoding(created_at: object, encoded: str) -> None:
    leaf = record_leaf_bytes({**RECORD, "created_at": created_at})
    assert f'"created_at":"{encoded}"'.encode() in leaf


@pytest.mark.parametrize("field", LEAF_FIELDS)
def test_a_missing_field_is_an_error(field: str) -> None:
    record = {name: value for name, value in RECORD.items() if name != field}
    with pytest.raises(ValueError, match=field):
        record_leaf_bytes(record)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("created_at", datetime(2026, 1, 1)),
        ("created_at", 1_700_000_000),
        ("seq", True),
        ("seq", "42"),
        ("params", {"x": float("nan")}),
        ("metadata", {"big": 2**60}),
        ("params", {1: "non-string key"}),
        ("summary", b"bytes"),
    ],
)
def test_values_json_cannot_carry_exactly_are_errors(field: str, value: object) -> None:
    with pytest.raises(ValueError):
        record_leaf_bytes({**RECORD, field: value})


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
@settings(max_examples=3000, deadline=None)
def test_fast_encoding_equals_rfc8785(value: object) -> None:
    """The orjson fast path must be byte-identical to the reference library on any value."""
    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        with pytest.raises((rfc8785.CanonicalizationError, UnicodeEncodeError)):
            canonical.canonical_json(value)
        return
    assert canonical.canonical_json(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        5.0,
        -0.0,
        1e-4,
        9.999999999999998e15,
        1e16,
        1e21,
        1e-7,
        123.456,
        2.0**53,
        {"\U0001f600": 1, "\uffff": 2},
    ],
)
def test_fast_encoding_edges(value: object) -> None:
    assert canonical.canonical_json(value) == rfc8785.dumps(value)


# Lone surrogates included: Python strings can hold them and RFC 8785 cannot encode them.
texts = st.text(st.characters(exclude_categories=()))

records = st.fixed_dictionaries(
    {
        "id": texts,
        "seq": st.integers(min_value=0, max_value=2**53 - 1),
        "created_at": st.datetimes(
            min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
        ),
        "event_type": texts,
        "category": texts,
        "summary": texts,
        "severity": texts,
        "actor": st.none() | texts,
        "application_id": st.none() | texts,
        "application_key": st.none() | texts,
        "entity_type": st.none() | texts,
        "entity_id": st.none() | texts,
        "params": st.dictionaries(texts, json_values, max_size=4),
        "metadata": st.dictionaries(texts, json_values, max_size=4),
        "ip_address": st.none() | texts,
        "source": texts,
    }
)


@given(records)
@settings(max_examples=1000, deadline=None)
def test_leaf_bytes_are_rfc8785_of_the_leaf_fields(record: dict[str, Any]) -> None:
    """The leaf is the reference library's encoding of the leaf fields."""
    leaf = {name: record[name] for name in LEAF_FIELDS}
    leaf["created_at"] = leaf["created_at"].isoformat(timespec="microseconds")[:-6] + "Z"
    try:
        expected = rfc8785.dumps(leaf)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        with pytest.raises((ValueError, UnicodeEncodeError)):
            record_leaf_bytes(record)
        return
    assert record_leaf_bytes(record) == expected


@given(records)
@settings(max_examples=500, deadline=None)
def test_an_appended_records_leaf_and_stored_json(record: dict[str, Any]) -> None:
    """An appended record's leaf is its fields' leaf; its params and metadata, stored as
    canonical.stored_json's text, read back as themselves, to the type of every number."""
    try:
        expected = record_leaf_bytes(record)
    except (ValueError, UnicodeEncodeError):
        return
    appended = AppendedRecord(**{name: record[name] for name in LEAF_FIELDS}, application=None)
    assert record_leaf_bytes(appended.leaf_fields()) == expected
    for value in (appended.params, appended.metadata):
        stored = json.loads(canonical.stored_json(value))
        assert json.dumps(stored, sort_keys=True) == json.dumps(value, sort_keys=True)
