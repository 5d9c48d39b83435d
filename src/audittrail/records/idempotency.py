"""Idempotency keys: a retried request returns the record its first attempt created.

A request claims a key for each record that carries one. The group commit settles the claims of
all its requests at once, under the log's lock (records/writer.py), with `plan`: a pure function
of the claims and of those already made, which says what each record becomes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from audittrail.access import Principal
from audittrail.errors import Conflict, FieldProblem
from audittrail.integrity.canonical import canonical_json
from audittrail.log.append import NewRecord
from audittrail.records.schemas import RecordCreate

Identity = tuple[str, str]
"""A claim's scope and key: unique among all claims ever made."""


@dataclass(frozen=True)
class Claim:
    """A key a request claims, the hash of what it asked for, and where the key came from."""

    scope: str
    key: str
    request_hash: str
    field: str

    @property
    def identity(self) -> Identity:
        return self.scope, self.key


@dataclass(frozen=True)
class Made:
    """A claim already committed: the hash of its request and the record it created."""

    request_hash: str
    record_id: str


def claim(
    key: str | None, new: NewRecord, request: RecordCreate, principal: Principal, field: str
) -> Claim | None:
    if key is None:
        return None
    if new.application is not None:
        scope = f"application:{new.application.id}"
    else:
        scope = f"{principal.kind}:{principal.id}"
    body = request.model_dump(mode="json", exclude={"idempotency_key"})
    request_hash = hashlib.sha256(canonical_json(body)).hexdigest()
    return Claim(scope, key, request_hash, field)


@dataclass(frozen=True)
class Appended:
    """The record is appended now, as the `position`-th of the batch's fresh records."""

    position: int


@dataclass(frozen=True)
class Replayed:
    """The record is one an earlier request created: committed before (by id), or appended now
    by an earlier record of this batch (by position)."""

    record: str | Appended


@dataclass(frozen=True)
class RequestPlan:
    """What each of one request's records becomes, in order."""

    outcomes: list[Appended | Replayed]


@dataclass(frozen=True)
class BatchPlan:
    requests: list[RequestPlan | Conflict]
    fresh: list[tuple[int, int]] = field(default_factory=list)
    """The records to append, in order, as (request, record) indexes."""
    claims: list[tuple[Claim, Appended]] = field(default_factory=list)
    """The new claims, each with the appended record it names."""


def plan(requests: Sequence[Sequence[Claim | None]], made: Mapping[Identity, Made]) -> BatchPlan:
    """What a batch's records become, given each request's claims (one per record, None for a
    record without a key) and the claims already made.

    A claim made before, or by an earlier record of the batch, with the same request hash
    replays that record; with another hash it fails its whole request with 409, and the
    request claims nothing. Anything else is appended.
    """
    batch = BatchPlan(requests=[])
    claimed: dict[Identity, tuple[Claim, Appended]] = {}  # by the batch's earlier requests
    for index, claims in enumerate(requests):
        outcomes: list[Appended | Replayed] = []
        fresh: list[tuple[int, int]] = []
        claiming: dict[Identity, tuple[Claim, Appended]] = {}
        clashes: list[Claim] = []
        for number, record_claim in enumerate(claims):
            earlier = (
                None if record_claim is None else _earlier(record_claim, made, claimed, claiming)
            )
            if earlier is None:
                appended = Appended(len(batch.fresh) + len(fresh))
                fresh.append((index, number))
                outcomes.append(appended)
                if record_claim is not None:
                    claiming[record_claim.identity] = (record_claim, appended)
            elif record_claim is not None and earlier[0] != record_claim.request_hash:
                clashes.append(record_claim)
            else:
                outcomes.append(Replayed(earlier[1]))
        if clashes:
            batch.requests.append(reused(clashes))
            continue
        batch.requests.append(RequestPlan(outcomes))
        batch.fresh.extend(fresh)
        batch.claims.extend(claiming.values())
        claimed.update(claiming)
    return batch


def _earlier(
    record_claim: Claim,
    made: Mapping[Identity, Made],
    *claimed: Mapping[Identity, tuple[Claim, Appended]],
) -> tuple[str, str | Appended] | None:
    """The request hash and record of an earlier claim of the same key, if there is one."""
    committed = made.get(record_claim.identity)
    if committed is not None:
        return committed.request_hash, committed.record_id
    for claims in claimed:
        if record_claim.identity in claims:
            earlier, appended = claims[record_claim.identity]
            return earlier.request_hash, appended
    return None


def reused(claims: list[Claim]) -> Conflict:
    problems = [
        FieldProblem(c.field, "IDEMPOTENCY_KEY_REUSED", "was used before with another request.")
        for c in claims
    ]
    keys = ", ".join(repr(c.key) for c in claims)
    return Conflict(
        f"Idempotency key {keys} was used before with a different request; nothing was stored.",
        code="IDEMPOTENCY_KEY_REUSED",
        details=problems,
    )
