"""Wire shapes for applications and param definitions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from audittrail.schemas import PatchModel, Storable, StrictModel

KEY_PATTERN = r"^[a-z][a-z0-9_]*$"
Key = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=KEY_PATTERN)]
Color = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$", to_lower=True)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=128), Storable]
Description = Annotated[str, StringConstraints(max_length=1024), Storable]


def _distinct(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("enum_values must not repeat a value")
    return values


EnumValues = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=256), Storable]],
    Field(min_length=1, max_length=500),
    AfterValidator(_distinct),
]


class ParamType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    ENUM = "enum"
    JSON = "json"


class ParamDefinitionCreate(StrictModel):
    key: Key = Field(examples=["amount"])
    label: Name | None = Field(default=None, description="Defaults to the key.")
    type: ParamType = ParamType.STRING
    required: bool = False
    description: Description | None = None
    sensitive: bool = False
    enum_values: EnumValues | None = Field(
        default=None,
        validate_default=True,
        description="The allowed values; required for, and only for, type enum.",
    )

    @field_validator("enum_values")
    @classmethod
    def _enum_values_match_type(
        cls, values: list[str] | None, info: ValidationInfo
    ) -> list[str] | None:
        """A field check (run even when absent), so the problem names body.enum_values."""
        param_type = info.data.get("type")
        if param_type is ParamType.ENUM and values is None:
            raise ValueError("enum_values is required when type is enum")
        if param_type not in (None, ParamType.ENUM) and values is not None:
            raise ValueError("enum_values is only for type enum")
        return values


class ParamDefinitionUpdate(PatchModel):
    nullable = frozenset({"description"})

    label: Name | None = None
    required: bool | None = None
    description: Description | None = None
    sensitive: bool | None = None
    enum_values: EnumValues | None = None


class ParamDefinitionResponse(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    application_id: str
    key: str
    label: str
    type: ParamType
    required: bool
    description: str | None
    sensitive: bool
    enum_values: list[str] | None
    created_at: datetime
    updated_at: datetime


class ApplicationCreate(StrictModel):
    key: Key = Field(examples=["billing"])
    name: Name = Field(examples=["Billing"])
    description: Description | None = None
    accent_color: Color | None = Field(
        default=None, description="#rrggbb; defaults to a stable colour derived from the key."
    )
    allow_unknown_params: bool = Field(
        default=True, description="Whether records may carry params that are not registered."
    )
    params: list[ParamDefinitionCreate] = Field(default_factory=list, max_length=500)


class ApplicationUpdate(PatchModel):
    nullable = frozenset({"description"})

    name: Name | None = None
    description: Description | None = None
    accent_color: Color | None = None
    allow_unknown_params: bool | None = None
    archived: bool | None = Field(
        default=None,
        description="Archive (true) or restore (false); archived ones take no records.",
    )


class ApplicationSummary(BaseModel):
    """The application as embedded in a record (AuditParamApplicationResponse)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    key: str
    name: str
    created_at: datetime
    updated_at: datetime
    description: str | None
    accent_color: str | None
    param_count: int


class ApplicationResponse(ApplicationSummary):
    allow_unknown_params: bool
    archived_at: datetime | None
