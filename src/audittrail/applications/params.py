"""Checks a record's params against its application's param definitions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from audittrail.applications.schemas import ParamType
from audittrail.db.models import ParamDefinition
from audittrail.errors import FieldProblem

FIELD = "body.params"


def validate(
    definitions: Sequence[ParamDefinition], params: dict[str, Any], *, allow_unknown: bool
) -> tuple[dict[str, Any], list[FieldProblem]]:
    """The params as stored (datetimes normalised to UTC) and every problem found."""
    by_key = {definition.key: definition for definition in definitions}
    problems: list[FieldProblem] = []
    checked: dict[str, Any] = {}
    for key, value in params.items():
        definition = by_key.get(key)
        if definition is None:
            if not allow_unknown:
                problems.append(
                    FieldProblem(
                        f"{FIELD}.{key}", "UNKNOWN_PARAM", f"{key} is not a registered param."
                    )
                )
            checked[key] = value
            continue
        if value is None:
            checked[key] = None
            continue
        converted, problem = _check(definition, value)
        if problem is not None:
            problems.append(FieldProblem(f"{FIELD}.{key}", "INVALID_PARAM", problem))
        checked[key] = converted
    for definition in definitions:
        if definition.required and params.get(definition.key) is None:
            problems.append(
                FieldProblem(
                    f"{FIELD}.{definition.key}",
                    "MISSING_PARAM",
                    f"{definition.key} is required by this application.",
                )
            )
    return checked, problems


def _check(definition: ParamDefinition, value: Any) -> tuple[Any, str | None]:
    param_type = ParamType(definition.type)
    if param_type is ParamType.DATETIME:
        return _check_datetime(value)
    if param_type is ParamType.ENUM:
        allowed = definition.enum_values or []
        if value in allowed and isinstance(value, str):
            return value, None
        return value, f"must be one of: {', '.join(allowed)}."
    if _TYPE_CHECKS[param_type](value):
        return value, None
    return value, f"must be of type {param_type.value}."


_TYPE_CHECKS: dict[ParamType, Callable[[Any], bool]] = {
    ParamType.STRING: lambda value: isinstance(value, str),
    ParamType.INTEGER: lambda value: isinstance(value, int) and not isinstance(value, bool),
    ParamType.NUMBER: lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    ParamType.BOOLEAN: lambda value: isinstance(value, bool),
    ParamType.JSON: lambda value: True,
}


def _check_datetime(value: Any) -> tuple[Any, str | None]:
    """Datetimes are stored as RFC 3339 UTC with microseconds, so they compare as text."""
    problem = "must be an ISO 8601 date-time with a time zone."
    if not isinstance(value, str):
        return value, problem
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            return value, problem
        return format_datetime(parsed), None
    except (ValueError, OverflowError):  # OverflowError: shifted to UTC past year 1 or 9999
        return value, problem


def format_datetime(moment: datetime) -> str:
    """isoformat, unlike strftime, always writes four year digits: text order stays time order."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
