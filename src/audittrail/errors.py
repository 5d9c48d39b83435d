"""The one error hierarchy: each error carries its status and stable code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldProblem:
    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


class AppError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = code or self.code
        self.details = details or []
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.error_code, "message": self.message}
        if self.details:
            error["details"] = [problem.as_dict() for problem in self.details]
        return {"error": error}


class BadRequest(AppError):
    status_code = 400
    code = "BAD_REQUEST"


class Unauthenticated(AppError):
    status_code = 401
    code = "UNAUTHENTICATED"

    def __init__(self, message: str = "Missing, invalid or expired credentials.") -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status_code = 403
    code = "FORBIDDEN"


class NotFound(AppError):
    status_code = 404
    code = "NOT_FOUND"


class Conflict(AppError):
    status_code = 409
    code = "CONFLICT"


class Gone(AppError):
    status_code = 410
    code = "GONE"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class Unprocessable(AppError):
    status_code = 422
    code = "VALIDATION_ERROR"


class TooManyRequests(AppError):
    """A rate limit's refusal; Retry-After says when the window frees (throttle.py)."""

    status_code = 429
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(retry_after)})


class ServiceUnavailable(AppError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"


def validation_problems(errors: Sequence[Any]) -> list[FieldProblem]:
    """pydantic's validation errors as field problems (their loc joined with dots)."""
    return [
        FieldProblem(
            field=".".join(str(part) for part in error["loc"]),
            code=str(error["type"]).upper(),
            message=str(error["msg"]),
        )
        for error in errors
    ]


def request_validation_error(errors: Sequence[Any]) -> AppError:
    """The error for a request that failed validation: 400 if its body is not JSON, else 422
    naming every field at fault."""
    if any(error["type"] == "json_invalid" for error in errors):
        return BadRequest("The request body is not valid JSON.", code="INVALID_JSON")
    problems = validation_problems(errors)
    fields = ", ".join(dict.fromkeys(problem.field for problem in problems))
    return Unprocessable(f"Invalid request: {fields}.", details=problems)
