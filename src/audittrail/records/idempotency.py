"""Idempotency keys: a retried request returns the record its first attempt created."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from audittrail.auth.principal import Principal
from audittrail.errors import Conflict, FieldProblem
from audittrail.integrity.canonical import canonical_json
from audittrail.records.schemas import RecordCreate
from audittrail.records.sequencer import NewRecord


@dataclass(frozen=True)
class Claim:
    """A key a request claims, the hash of what it asked for, and where the key came from."""

    scope: str
    key: str
    request_hash: str
    field: str

    @property
    def identity(self) -> tuple[str, str]:
        return self.scope, self.key


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
