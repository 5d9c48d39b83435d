"""Wire shapes of the log: checkpoints and proofs. Hashes are standard base64, as in checkpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from audittrail.pagination import PageMeta


class CheckpointResponse(BaseModel):
    tree_size: int
    root_hash: str
    created_at: datetime
    note: str = Field(description="The C2SP signed note, exactly as served at /log/checkpoint.")


class CheckpointPage(PageMeta):
    checkpoints: list[CheckpointResponse]


class InclusionProofResponse(BaseModel):
    record_id: str
    leaf_index: int = Field(description="The record's seq.")
    leaf_hash: str
    tree_size: int
    root_hash: str
    inclusion_path: list[str] = Field(description="RFC 9162 section 2.1.3, leaf to root.")
    checkpoint: str | None = Field(
        description="The signed checkpoint of this tree size, if one was made at this size."
    )


class ConsistencyProofResponse(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str] = Field(description="RFC 9162 section 2.1.4.")


class HeadResponse(BaseModel):
    tree_size: int
    root_hash: str = Field(description="Unsigned: the signed form is the latest checkpoint.")
