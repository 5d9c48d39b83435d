"""Wire shapes for login, the current user, users and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    Secret,
    StringConstraints,
    field_validator,
)

from audittrail.schemas import PatchModel, StrictModel

Role = Literal["admin", "writer", "reader"]

# Secret[...] checks the length of the text itself, so a short password gets the same
# STRING_TOO_SHORT error as any other string (SecretStr's min_length counts "items").
_PASSWORD_SCHEMA = Field(json_schema_extra={"format": "password", "writeOnly": True})
AnyPassword = Annotated[
    Secret[Annotated[str, StringConstraints(min_length=1, max_length=1024)]], _PASSWORD_SCHEMA
]
NewPassword = Annotated[
    Secret[Annotated[str, StringConstraints(min_length=12, max_length=1024)]], _PASSWORD_SCHEMA
]


class LoginRequest(StrictModel):
    email: str = Field(min_length=1, max_length=320, examples=["admin@example.com"])
    password: AnyPassword


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")


class MeResponse(BaseModel):
    kind: Literal["user", "api_key"]
    id: str
    email: str | None
    name: str
    actor: str = Field(description="What records this principal writes show as their actor.")
    roles: list[str]


class UserCreate(StrictModel):
    email: EmailStr = Field(max_length=320)
    password: NewPassword
    roles: list[Role] = Field(default=["reader"], min_length=1)

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class UserUpdate(PatchModel):
    password: NewPassword | None = None
    roles: list[Role] | None = Field(default=None, min_length=1)
    is_active: bool | None = None


class UserResponse(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    roles: list[str]
    is_active: bool
    created_at: datetime
    updated_at: datetime


class ApiKeyCreate(StrictModel):
    name: str = Field(min_length=1, max_length=128, examples=["billing-service"])
    roles: list[Role] = Field(default=["writer"], min_length=1)
    expires_at: datetime | None = None


class ApiKeyResponse(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    roles: list[str]
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyResponse):
    key: str = Field(description="The secret key. Shown only in this response; store it now.")
