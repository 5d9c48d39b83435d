"""The record list's filters, sort and keyset cursor, from query string to SQL."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from operator import eq, ge, gt, le, lt, ne
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    SQLColumnExpression,
    and_,
    case,
    cast,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import KeyedColumnElement

from audittrail.access import Visibility
from audittrail.applications.service import ParamType, format_datetime
from audittrail.db.models import ACTOR_KEY, SEVERITY_KEY, ParamDefinition, Record
from audittrail.errors import FieldProblem, Unprocessable
from audittrail.records import search as full_text
from audittrail.records.schemas import SEVERITY_RANK, Severity
from audittrail.records.search import Search
from audittrail.schemas import text_problem


class SortField(StrEnum):
    CREATED_AT = "created_at"
    SEVERITY = "severity"
    EVENT_TYPE = "event_type"
    ACTOR = "actor"
    CATEGORY = "category"


class SortDir(StrEnum):
    ASC = "asc"
    DESC = "desc"


class Operator(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IN = "in"
    CONTAINS = "contains"
    EXISTS = "exists"


# Per list: more would only deepen the SQL (SQLite refuses an expression over 1,000 deep).
MAX_FILTERS = 20
ORDERED = {Operator.GT, Operator.GTE, Operator.LT, Operator.LTE}
OPERATORS_BY_TYPE: dict[ParamType, set[Operator]] = {
    ParamType.STRING: set(Operator),
    ParamType.ENUM: set(Operator),
    ParamType.DATETIME: set(Operator) - {Operator.CONTAINS},
    ParamType.INTEGER: set(Operator) - {Operator.CONTAINS},
    ParamType.NUMBER: set(Operator) - {Operator.CONTAINS},
    ParamType.BOOLEAN: {Operator.EQ, Operator.NE, Operator.EXISTS},
    ParamType.JSON: {Operator.EXISTS},
}


def invalid(parameter: str, message: str, code: str = "INVALID_QUERY_PARAMETER") -> Unprocessable:
    problem = FieldProblem(f"query.{parameter}", code, message)
    return Unprocessable(f"Invalid query parameter {parameter}: {message}", details=[problem])


def split_list(parameter: str, raw: str | None) -> list[str]:
    if raw is None:
        return []
    values = [part.strip() for part in raw.split(",") if part.strip()]
    if not values:
        raise invalid(parameter, "give at least one comma-separated value.")
    return values


def parse_severities(raw: str | None) -> list[str]:
    values = split_list("severities", raw)
    allowed = [severity.value for severity in Severity]
    for value in values:
        if value not in allowed:
            raise invalid("severities", f"{value!r} is not one of {', '.join(allowed)}.")
    return values


@dataclass(frozen=True)
class ParamFilter:
    key: str
    operator: Operator
    value: Any = None


def parse_param_filters(raw: str | None) -> list[ParamFilter]:
    if raw is None:
        return []
    shape = 'a JSON array of {"key", "operator", "value"} objects'
    try:
        items = json.loads(raw, parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise invalid("param_filters", f"is not JSON; expected {shape}.") from None
    if not isinstance(items, list):
        raise invalid("param_filters", f"expected {shape}.")
    if len(items) > MAX_FILTERS:
        raise invalid("param_filters", f"at most {MAX_FILTERS} filters.")
    return [_param_filter(index, item, shape) for index, item in enumerate(items)]


def _not_json(constant: str) -> Any:
    """Python's json reads NaN and Infinity; JSON has no such numbers."""
    raise ValueError(constant)


def _param_filter(index: int, item: Any, shape: str) -> ParamFilter:
    where = f"item {index}"
    if not isinstance(item, dict) or not {"key", "operator"} <= item.keys():
        raise invalid("param_filters", f"{where}: expected {shape}.")
    if not item.keys() <= {"key", "operator", "value"}:
        raise invalid("param_filters", f"{where}: unexpected fields; expected {shape}.")
    key, operator, value = item["key"], item["operator"], item.get("value")
    if not isinstance(key, str) or not 1 <= len(key) <= 64 or '"' in key or "\\" in key:
        raise invalid("param_filters", f"{where}: key must be a string of 1 to 64 characters.")
    for name, text in [("key", key), *_texts("value", value)]:
        problem = text_problem(text)
        if problem is not None:
            raise invalid("param_filters", f"{where}: {name} {problem}", "UNSUPPORTED_VALUE")
    if operator not in Operator.__members__.values():
        allowed = ", ".join(op.value for op in Operator)
        raise invalid("param_filters", f"{where}: unknown operator {operator!r}; use {allowed}.")
    operator = Operator(operator)
    if operator is Operator.IN and (not isinstance(value, list) or not value):
        raise invalid("param_filters", f"{where}: 'in' takes a non-empty array value.")
    if operator is Operator.EXISTS and value is not None and not isinstance(value, bool):
        raise invalid("param_filters", f"{where}: 'exists' takes true, false or no value.")
    if operator not in (Operator.IN, Operator.EXISTS) and (
        value is None or isinstance(value, dict | list)
    ):
        raise invalid("param_filters", f"{where}: {operator.value!r} takes a scalar value.")
    return ParamFilter(key, operator, value)


def _texts(name: str, value: Any) -> list[tuple[str, str]]:
    """The strings of a filter's value (a scalar, or the items of 'in'), by name: what reaches
    SQL, where PostgreSQL refuses a NUL and no driver encodes a lone surrogate."""
    if isinstance(value, str):
        return [(name, value)]
    if isinstance(value, list):
        return [(f"{name}[{i}]", item) for i, item in enumerate(value) if isinstance(item, str)]
    return []


@dataclass(frozen=True)
class MetadataFilter:
    """metadata=key:value: the record's metadata has `key` at its top level, and its value is the
    text `value`, or the JSON number, true, false or null that `value` spells."""

    key: str
    value: str

    def scalars(self) -> list[Any]:
        """The JSON values that match: the text, and what it spells if it is a JSON scalar a
        record can hold (numbers: exact doubles, as the leaf's canonical JSON has them)."""
        matches: list[Any] = [self.value]
        try:
            spelled = json.loads(self.value, parse_constant=_not_json)
        except (ValueError, RecursionError):
            return matches
        if _holdable(spelled):
            matches.append(spelled)
        return matches


def _holdable(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) <= 2**53
    return isinstance(value, float) and math.isfinite(value)


def parse_metadata(raw: list[str] | None) -> list[MetadataFilter]:
    if raw is not None and len(raw) > MAX_FILTERS:
        raise invalid("metadata", f"at most {MAX_FILTERS} filters.")
    filters = []
    for index, item in enumerate(raw or []):
        key, colon, value = item.partition(":")
        where = f"item {index}" if len(raw or []) > 1 else "its value"
        if not colon or not key:
            raise invalid("metadata", f"{where}: expected key:value, as in metadata=region:eu.")
        for name, text in (("key", key), ("value", value)):
            problem = text_problem(text)
            if problem is not None:
                raise invalid("metadata", f"{where}: {name} {problem}", "UNSUPPORTED_VALUE")
        filters.append(MetadataFilter(key, value))
    return filters


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: its last record's sort key, time and seq, under the sort it was issued
    for. Sorted by a field other than time, the list's order is (field, created_at, seq), which
    is (field, seq) since time never runs backwards along the log; the time is there so that the
    next page starts at an index entry, however many records share the field's value. Cursors
    issued before it was (four items) are still taken, by (field, seq)."""

    sort_by: SortField
    sort_dir: SortDir
    value: Any  # the sort key as SQL compares it: a datetime, a severity rank or text
    seq: int
    created_at: datetime | None = None

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        items = [self.sort_by.value, self.sort_dir.value, value, self.seq]
        if self.created_at is not None and self.sort_by is not SortField.CREATED_AT:
            items.append(self.created_at.isoformat())
        raw = json.dumps(items)
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            items = json.loads(raw)
            if not isinstance(items, list) or len(items) not in (4, 5):
                raise ValueError("not a cursor")
            sort_by, sort_dir, value, seq, *at = items
            sort_field = SortField(sort_by)
            if at and sort_field is SortField.CREATED_AT:
                raise ValueError("a time twice")
            created_at = _sort_value(SortField.CREATED_AT, at[0]) if at else None
            return cls(
                sort_field,
                SortDir(sort_dir),
                _sort_value(sort_field, value),
                _seq(seq),
                created_at,
            )
        except (ValueError, TypeError, OverflowError, RecursionError):
            raise invalid(
                "cursor", "is not a cursor this service issued.", "INVALID_CURSOR"
            ) from None


MAX_SEQ = 2**63 - 1


def _sort_value(sort_by: SortField, value: Any) -> Any:
    """A token's sort key, checked: a forged one must not reach SQL as a value of another type."""
    if sort_by is SortField.CREATED_AT:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("a time without a UTC offset")
        return moment.astimezone(UTC)  # OverflowError past the years 1..9999 in UTC
    if sort_by is SortField.SEVERITY:
        if type(value) is not int or value not in SEVERITY_RANK.values():
            raise ValueError("not a severity rank")
        return value
    if not isinstance(value, str):
        raise TypeError("not text")
    if text_problem(value) is not None:
        raise ValueError("not text a record can hold")
    return value


def _seq(seq: Any) -> int:
    if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
        raise ValueError("not a sequence number")
    return seq


@dataclass
class RecordQuery:
    visibility: Visibility
    """Whose records the reader may see: no query without it (access.Visibility)."""
    search: Search | None = None
    event_types: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    actors: list[str] = field(default_factory=list)
    severities: list[str] = field(default_factory=list)
    entity_type: str | None = None
    entity_id: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    application_id: str | None = None
    application_key: str | None = None
    registered_params_only: bool = False
    param_filters: list[ParamFilter] = field(default_factory=list)
    metadata: list[MetadataFilter] = field(default_factory=list)
    seq_from: int | None = None
    """Records with seq at or above (exports: a range of the log)."""
    seq_to: int | None = None
    """Records with seq at or below."""
    tree_size: int | None = None
    """Records in the tree of this size (seq below it): an export's checkpoint."""
    sort_by: SortField = SortField.CREATED_AT
    sort_dir: SortDir = SortDir.DESC
    cursor: Cursor | None = None


def sort_key(sort_by: SortField) -> ColumnElement[Any]:
    """The expression the list is sorted by, as its index has it (db/models.py)."""
    if sort_by is SortField.SEVERITY:
        return SEVERITY_KEY
    if sort_by is SortField.ACTOR:
        return ACTOR_KEY
    column: KeyedColumnElement[Any] = getattr(Record, sort_by.value)
    return column


def _sort_columns(sort_by: SortField) -> list[SQLColumnExpression[Any]]:
    """The list's order: the key, then time and seq (which agree), as the indexes have them."""
    if sort_by is SortField.CREATED_AT:
        return [Record.created_at, Record.seq]
    return [sort_key(sort_by), Record.created_at, Record.seq]


def cursor_value(field: Callable[[str], Any], sort_by: SortField) -> Any:
    """The sort key of a record whose fields `field` reads by name (an ORM record's attribute,
    a row's item), as a cursor carries it."""
    if sort_by is SortField.SEVERITY:
        return SEVERITY_RANK[field("severity")]
    if sort_by is SortField.ACTOR:
        return field("actor") or ""
    return field(sort_by.value)


def _cursor_condition(query: RecordQuery) -> ColumnElement[bool] | None:
    cursor = query.cursor
    if cursor is None:
        return None
    if (cursor.sort_by, cursor.sort_dir) != (query.sort_by, query.sort_dir):
        raise invalid("cursor", "was issued for another sort_by or sort_dir.", "INVALID_CURSOR")
    key = sort_key(query.sort_by)
    # Bound with the key's own type: a time is stored as UTC whatever offset the token wrote.
    columns = [key, Record.seq]
    boundary = [literal(cursor.value, key.type), literal(cursor.seq, Record.seq.type)]
    if cursor.created_at is not None:
        columns.insert(1, Record.created_at)
        boundary.insert(1, literal(cursor.created_at, Record.created_at.type))
    position, bound = tuple_(*columns), tuple_(*boundary)
    return position < bound if query.sort_dir is SortDir.DESC else position > bound


def order_by(query: RecordQuery) -> list[SQLColumnExpression[Any]]:
    columns = _sort_columns(query.sort_by)
    if query.sort_dir is SortDir.DESC:
        return [column.desc() for column in columns]
    return [column.asc() for column in columns]


def conditions(
    query: RecordQuery, dialect: str, types: dict[str, ParamType]
) -> list[ColumnElement[bool]]:
    """Every WHERE condition but the cursor's; `types`: registered types of the filtered params."""
    where: list[ColumnElement[bool]] = []
    visible = query.visibility.application_ids
    if visible is not None:
        where.append(Record.application_id.in_(sorted(visible)))
    for column, values in (
        (Record.event_type, query.event_types),
        (Record.category, query.categories),
        (ACTOR_KEY, query.actors),  # no actor is "": the same records, by the sort's index
        (Record.severity, query.severities),
    ):
        if values:
            where.append(column.in_(values))
    for exact, wanted in (
        (Record.entity_type, query.entity_type),
        (Record.entity_id, query.entity_id),
        (Record.application_id, query.application_id),
        (Record.application_key, query.application_key),
    ):
        if wanted is not None:
            where.append(exact == wanted)
    if query.date_from is not None:
        where.append(Record.created_at >= query.date_from)
    if query.date_to is not None:
        where.append(Record.created_at <= query.date_to)
    if query.seq_from is not None:
        where.append(Record.seq >= query.seq_from)
    if query.seq_to is not None:
        where.append(Record.seq <= query.seq_to)
    if query.tree_size is not None:
        where.append(Record.seq < query.tree_size)
    if query.search is not None:
        where.append(full_text.condition(query.search, dialect))
    access = JsonAccess(dialect)
    for param_filter in query.param_filters:
        where.append(access.condition(param_filter, types.get(param_filter.key)))
        if query.registered_params_only:
            where.append(_is_registered(param_filter.key))
    for metadata_filter in query.metadata:
        where.append(access.metadata_condition(metadata_filter))
    return where


def counted_by_head(query: RecordQuery) -> bool:
    """Whether the query's total is the log's size, which the head keeps: every record, for a
    reader who sees them all. Any other count is a read of the matches (docs/queries.md), and
    can take far longer than a page of them: the viewer leaves such counts to the API."""
    return query.visibility.application_ids is None and not is_filtered(query)


def is_filtered(query: RecordQuery) -> bool:
    """Whether the query narrows the records beyond what its reader may see."""
    return any(
        (
            query.search,
            query.event_types,
            query.categories,
            query.actors,
            query.severities,
            query.param_filters,
            query.metadata,
        )
    ) or any(
        value is not None
        for value in (
            query.entity_type,
            query.entity_id,
            query.date_from,
            query.date_to,
            query.seq_from,
            query.seq_to,
            query.application_id,
            query.application_key,
        )
    )


def with_cursor(query: RecordQuery, where: list[ColumnElement[bool]]) -> list[ColumnElement[bool]]:
    condition = _cursor_condition(query)
    return where if condition is None else [*where, condition]


def _is_registered(key: str) -> ColumnElement[bool]:
    """The record's application registers the param: the applications that do, read once (a
    correlated EXISTS looked them up again for every row: 90 ms for 23,000 rows)."""
    return Record.application_id.in_(
        select(ParamDefinition.application_id).where(ParamDefinition.key == key)
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _infer_type(value: Any) -> ParamType:
    sample = value[0] if isinstance(value, list) and value else value
    if isinstance(sample, bool):
        return ParamType.BOOLEAN
    if isinstance(sample, int | float):
        return ParamType.NUMBER
    return ParamType.STRING


class JsonAccess:
    """Typed reads of params[key] and metadata[key] on either database; a value of another JSON
    type never matches. On PostgreSQL, equality also asks for containment (`@>`), which the
    columns' GIN jsonb_path_ops indexes answer (migration 0007)."""

    def __init__(self, dialect: str) -> None:
        self.postgres = dialect == "postgresql"

    def condition(
        self, param_filter: ParamFilter, registered: ParamType | None
    ) -> ColumnElement[bool]:
        key, operator, value = param_filter.key, param_filter.operator, param_filter.value
        if operator is Operator.EXISTS:
            present = self._json_type(Record.params, key).is_not(None)
            return present if value is not False else not_(present)
        param_type = registered or _infer_type(value)
        if operator not in OPERATORS_BY_TYPE[param_type]:
            raise invalid(
                "param_filters",
                f"{operator.value!r} does not apply to {param_type.value} param {key}.",
            )
        values = [
            self._coerce(key, param_type, item)
            for item in (value if operator is Operator.IN else [value])
        ]
        if operator in (Operator.EQ, Operator.IN) and self.postgres:
            # Containment of {key: value} is equality of that JSON type (numbers compared as
            # numbers), and alone the planner estimates it well: with the typed comparison
            # too, it took 23,000 matches for one and sorted them all for the first page.
            return self._contained(Record.params, key, values)
        typed, is_type = self._typed(key, param_type)
        if operator is Operator.IN:
            return and_(is_type, typed.in_(values))
        if operator is Operator.CONTAINS:
            return and_(is_type, typed.ilike(f"%{_escape_like(str(values[0]))}%", escape="\\"))
        if operator is Operator.EQ:
            return and_(is_type, typed == values[0])
        return and_(is_type, _compare(typed, operator, values[0]))

    def metadata_condition(self, metadata_filter: MetadataFilter) -> ColumnElement[bool]:
        column = Record.metadata_
        key, scalars = metadata_filter.key, metadata_filter.scalars()
        if self.postgres:
            return self._contained(column, key, scalars)
        # SQLite: by its top-level members, since a JSON path cannot name a key with a quote.
        member = func.json_each(column).table_valued("key", "type", "value")
        json_type, value = member.c.type, member.c.value
        matches = [and_(json_type == "text", value == metadata_filter.value)]
        for scalar in scalars[1:]:
            if scalar is None:
                matches.append(json_type == "null")
            elif isinstance(scalar, bool):
                matches.append(json_type == ("true" if scalar else "false"))
            else:
                matches.append(and_(json_type.in_(("integer", "real")), value == scalar))
        return select(member.c.key).where(member.c.key == key, or_(*matches)).exists()

    def _contained(
        self, column: SQLColumnExpression[Any], key: str, values: list[Any]
    ) -> ColumnElement[bool]:
        """PostgreSQL: the column holds {key: value} for one of the values (true elsewhere)."""
        if not self.postgres:
            return true()
        return or_(
            *(column.op("@>", is_comparison=True)(literal({key: value}, JSONB)) for value in values)
        )

    def _coerce(self, key: str, param_type: ParamType, value: Any) -> Any:
        wrong = invalid(
            "param_filters", f"value {value!r} does not fit {param_type.value} param {key}."
        )
        if param_type in (ParamType.INTEGER, ParamType.NUMBER):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise wrong
            # As a float: a bound integer past 64 bits overflows the driver; 1e400 reads as inf.
            try:
                number = float(value)
            except OverflowError:
                raise wrong from None
            if not math.isfinite(number):
                raise wrong
            return number
        if param_type is ParamType.BOOLEAN:
            if not isinstance(value, bool):
                raise wrong
            return value
        if not isinstance(value, str):
            raise wrong
        if param_type is ParamType.DATETIME:
            try:
                moment = datetime.fromisoformat(value)
                return format_datetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
            except (ValueError, OverflowError):  # overflow: the year leaves 1..9999 in UTC
                raise wrong from None
        return value

    def _json_type(self, column: SQLColumnExpression[Any], key: str) -> ColumnElement[Any]:
        if self.postgres:
            return func.jsonb_typeof(func.jsonb_extract_path(column, key))
        return func.json_type(column, _sqlite_path(key))

    def _typed(
        self, key: str, param_type: ParamType
    ) -> tuple[ColumnElement[Any], ColumnElement[bool]]:
        """The value as SQL of the param's type, and the condition that it has that JSON type."""
        json_type = self._json_type(Record.params, key)
        if param_type in (ParamType.INTEGER, ParamType.NUMBER):
            is_type = json_type == "number" if self.postgres else json_type.in_(("integer", "real"))
            if self.postgres:
                # CASE, not AND: PostgreSQL may evaluate the cast before the type check.
                number = cast(func.jsonb_extract_path_text(Record.params, key), Float)
                return case((is_type, number)), is_type
            return func.json_extract(Record.params, _sqlite_path(key)), is_type
        if param_type is ParamType.BOOLEAN:
            if self.postgres:
                return func.jsonb_extract_path_text(
                    Record.params, key
                ) == "true", json_type == "boolean"
            return json_type == "true", json_type.in_(("true", "false"))
        is_type = json_type == ("string" if self.postgres else "text")
        if self.postgres:
            return func.jsonb_extract_path_text(Record.params, key), is_type
        return func.json_extract(Record.params, _sqlite_path(key)), is_type


_COMPARISONS = {
    Operator.EQ: eq,
    Operator.NE: ne,
    Operator.GT: gt,
    Operator.GTE: ge,
    Operator.LT: lt,
    Operator.LTE: le,
}


def _compare(typed: ColumnElement[Any], op: Operator, value: Any) -> ColumnElement[bool]:
    result: ColumnElement[bool] = _COMPARISONS[op](typed, value)
    return result


def _sqlite_path(key: str) -> str:
    return f'$."{key}"'
