"""Base models shared by every domain: request bodies and the error envelope."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class StrictModel(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class PatchModel(StrictModel):
    """A partial update: absent fields stay as they are; only `nullable` ones may be set to null."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*")
    @classmethod
    def _no_null_unless_nullable(cls, value: object, info: ValidationInfo) -> object:
        # Runs only for fields the client sent: defaults are not validated.
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("cannot be null; leave the field out to keep its value")
        return value

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_unset=True)


class ErrorDetail(BaseModel):
    field: str
    code: str
    message: str


class ErrorBody(BaseModel):
    code: str = Field(description="Stable, UPPER_SNAKE: what clients branch on.")
    message: str = Field(description="For people; may change.")
    details: list[ErrorDetail] | None = Field(
        default=None, description="Each field problem, where there are any."
    )


class ErrorEnvelope(BaseModel):
    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": description}
    for status, description in (
        (400, "Malformed request."),
        (401, "Missing, invalid or expired credentials."),
        (403, "The credential lacks the role for this."),
        (404, "No such resource."),
        (409, "Conflicts with the current state."),
        (413, "Request or field too large."),
        (422, "A field or parameter does not fit."),
    )
}
