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

from audittrail.schemas import PatchModel, Storable, StrictModel, UtcDatetime

Role = Literal["admin", "writer", "reader", "auditor"]
Scope = Literal[
    "records:write",
    "records:read",
    "stats:read",
    "export",
    "applications:read",
    "applications:write",
    "log:read",
    "admin",
]

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
    email: Annotated[str, StringConstraints(min_length=1, max_length=320), Storable] = Field(
        examples=["admin@example.com"]
    )
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
    roles: list[str] = Field(description="A user's roles; empty for an API key.")
    scopes: list[str] = Field(description="What the caller may do: the scopes of its roles.")
    applications: list[str] | None = Field(
        description="The ids of the applications an API key is bound to; null: not bound."
    )


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
    name: Annotated[str, StringConstraints(min_length=1, max_length=128), Storable] = Field(
        examples=["billing-service"]
    )
    scopes: list[Scope] | None = Field(
        default=None,
        min_length=1,
        description="What the key may do. Default: records:write and applications:read.",
        examples=[["records:write", "applications:read"]],
    )
    roles: list[Role] | None = Field(
        default=None,
        min_length=1,
        description="Deprecated: the scopes of these roles. Give scopes or roles, not both.",
        json_schema_extra={"deprecated": True},
    )
    applications: (
        list[Annotated[str, StringConstraints(min_length=1, max_length=64), Storable]] | None
    ) = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Bind the key to these applications (ids or keys): its records must name "
        "one of them, and it reads only theirs. A bound key may not hold admin, "
        "applications:write or log:read.",
        examples=[["billing"]],
    )
    expires_at: UtcDatetime | None = None


class ApplicationRef(BaseModel):
    id: str
    key: str


class ApiKeyResponse(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    scopes: list[str]
    applications: list[ApplicationRef] | None = Field(
        description="The applications the key is bound to; null: not bound."
    )
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    previous_valid_until: datetime | None = Field(
        description="After a rotation: until when the secret from before it still works."
    )


class ApiKeyCreated(ApiKeyResponse):
    key: str = Field(description="The secret key. Shown only in this response; store it now.")


MAX_ROTATION_GRACE_SECONDS = 30 * 24 * 3600


class ApiKeyRotate(StrictModel):
    grace_seconds: int | None = Field(
        default=None,
        ge=0,
        le=MAX_ROTATION_GRACE_SECONDS,
        description="How long the old secret still works: 0 stops it at once. Default: "
        "AUDITTRAIL_API_KEY_ROTATION_GRACE_SECONDS (24 hours unless configured).",
    )


class PasswordChange(StrictModel):
    current_password: AnyPassword
    new_password: NewPassword


class SessionResponse(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    created_at: datetime
    last_seen_at: datetime | None = Field(description="Noted at most once a minute.")
    expires_at: datetime = Field(
        description="When it ends at the latest; it ends earlier if unused for "
        "AUDITTRAIL_SESSION_IDLE_SECONDS."
    )
    ip_address: str | None
    user_agent: str | None
    current: bool = Field(description="Whether this request was made with it.")
