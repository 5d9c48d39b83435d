"""Credential material: argon2id password hashes, random tokens stored only as SHA-256, JWTs."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

API_KEY_PREFIX = "atk_"
VISIBLE_PREFIX_LENGTH = 12
JWT_ALGORITHM = "HS256"
JWT_ISSUER = "audittrail"

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def verify() -> bool:
        try:
            return (
                _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


def token_digest(token: str) -> str:
    """Tokens carry 256 random bits, so a plain SHA-256 is a safe way to store and look them up."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def visible_prefix(key: str) -> str:
    return key[:VISIBLE_PREFIX_LENGTH]


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def encode_access_token(
    secret: str, *, user_id: str, session_id: str, issued_at: datetime, lifetime: timedelta
) -> str:
    claims = {
        "iss": JWT_ISSUER,
        "sub": user_id,
        "sid": session_id,
        "iat": issued_at,
        "exp": issued_at + lifetime,
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def decode_access_token(secret: str, token: str, now: datetime) -> dict[str, Any] | None:
    """The claims of a valid token. Its lifetime is checked against `now` (the service's one
    clock, as for sessions and API keys), not against PyJWT's own reading of the system time."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            issuer=JWT_ISSUER,
            options={
                "require": ["exp", "iat", "sub", "sid", "iss"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError:
        return None
    return claims if claims["exp"] > now.timestamp() else None
