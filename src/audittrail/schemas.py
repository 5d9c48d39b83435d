"""Base models shared by every domain: request bodies, the field types they store, and the error
envelope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError


def text_problem(text: str) -> str | None:
    """Why a database could not store the text as it is, or None. PostgreSQL refuses NUL in text
    (and in jsonb); a lone surrogate is not Unicode, so no driver can encode it."""
    if "\x00" in text:
        return "contains a NUL character."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate, which is not Unicode text."
    return None


def _storable(text: str) -> str:
    problem = text_problem(text)
    if problem is not None:
        raise PydanticCustomError("unsupported_value", problem)
    return text


def _utc(moment: datetime) -> datetime:
    """An aware time as the same instant in UTC, as both databases store it: converting it there
    would overflow past the years 1..9999 (year 1 at +01:00). A naive one as it is: what it means
    is the caller's to say."""
    if moment.tzinfo is None:
        return moment
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_out_of_range", "is outside the years 1 to 9999 in UTC."
        ) from None


# Text a request sends to be stored or looked up: 422 UNSUPPORTED_VALUE for what `text_problem`
# refuses, the same on both databases. Last in its Annotated, after the length constraints:
# constraints given after a validator are checked as a generic length (no "String should...").
Storable = AfterValidator(_storable)
# A time a request may send: an aware one in UTC, within the years both databases store.
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


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
        (415, "The body is not of a media type the route takes."),
        (422, "A field or parameter does not fit."),
        (429, "Too many requests (a rate limit, the login throttle); Retry-After says when."),
        (503, "The database or the write queue cannot take it now; Retry-After says when."),
    )
}
