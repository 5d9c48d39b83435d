"""How a group commit settles its requests' idempotency claims (records/idempotency.plan): what
each record becomes, given the claims of the batch and those already committed. The same rules
through the API, on both databases: tests/ingest/test_idempotency.py."""

from __future__ import annotations

from audittrail.errors import Conflict
from audittrail.records.idempotency import (
    Appended,
    Claim,
    Made,
    Replayed,
    RequestPlan,
    plan,
)


def claim(key: str, request_hash: str = "h1", scope: str = "application:a") -> Claim:
    return Claim(scope, key, request_hash, "header.idempotency-key")


def test_records_without_claims_are_appended_in_order() -> None:
    planned = plan([[None, None], [None]], {})
    assert planned.requests == [
        RequestPlan([Appended(0), Appended(1)]),
        RequestPlan([Appended(2)]),
    ]
    assert planned.fresh == [(0, 0), (0, 1), (1, 0)]
    assert planned.claims == []


def test_a_new_claim_is_kept_with_the_record_it_appends() -> None:
    planned = plan([[None, claim("k")]], {})
    assert planned.requests == [RequestPlan([Appended(0), Appended(1)])]
    assert planned.claims == [(claim("k"), Appended(1))]


def test_a_claim_made_before_with_the_same_request_replays_its_record() -> None:
    planned = plan([[claim("k")]], {("application:a", "k"): Made("h1", "record-1")})
    assert planned.requests == [RequestPlan([Replayed("record-1")])]
    assert (planned.fresh, planned.claims) == ([], [])


def test_a_claim_made_earlier_in_the_batch_replays_the_record_it_appends() -> None:
    planned = plan([[claim("k")], [None, claim("k")]], {})
    assert planned.requests == [
        RequestPlan([Appended(0)]),
        RequestPlan([Appended(1), Replayed(Appended(0))]),
    ]
    assert planned.fresh == [(0, 0), (1, 0)]
    assert planned.claims == [(claim("k"), Appended(0))]


def test_the_same_key_twice_in_one_request_is_one_record() -> None:
    planned = plan([[claim("k"), claim("k")]], {})
    assert planned.requests == [RequestPlan([Appended(0), Replayed(Appended(0))])]


def test_a_key_reused_with_another_request_fails_that_request_alone() -> None:
    made = {("application:a", "old"): Made("h1", "record-1")}
    planned = plan([[None], [claim("new"), claim("old", "h2")], [claim("new")]], made)
    first, refused, last = planned.requests
    assert first == RequestPlan([Appended(0)])
    assert isinstance(refused, Conflict)
    assert refused.error_code == "IDEMPOTENCY_KEY_REUSED"
    assert [problem.field for problem in refused.details] == ["header.idempotency-key"]
    # The refused request claimed nothing: the next one's "new" is its own.
    assert last == RequestPlan([Appended(1)])
    assert planned.fresh == [(0, 0), (2, 0)]
    assert planned.claims == [(claim("new"), Appended(1))]


def test_keys_are_scoped() -> None:
    planned = plan([[claim("k", scope="application:a")], [claim("k", "h2", "api_key:b")]], {})
    assert planned.requests == [RequestPlan([Appended(0)]), RequestPlan([Appended(1)])]
