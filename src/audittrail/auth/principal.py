"""Who is calling: a signed-in user or an API key, with the roles that decide what it may do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ADMIN = "admin"
WRITER = "writer"
READER = "reader"
ROLES = (ADMIN, WRITER, READER)


@dataclass(frozen=True)
class Principal:
    kind: Literal["user", "api_key"]
    id: str
    name: str
    roles: tuple[str, ...]
    session_id: str | None = None

    @property
    def actor(self) -> str:
        """The record's actor: the user's email, or api_key:<key name>."""
        return self.name if self.kind == "user" else f"api_key:{self.name}"

    def has_any(self, *roles: str) -> bool:
        return ADMIN in self.roles or any(role in self.roles for role in roles)
