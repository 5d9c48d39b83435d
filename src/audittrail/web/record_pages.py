"""The record detail page: every field, params by their definitions, a before/after diff, and
the leaf bytes static/verify.js needs to check in the browser that the record is in the log."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from audittrail.access import APPLICATIONS_READ, RecordsReader
from audittrail.applications import service as applications
from audittrail.db.models import ParamDefinition
from audittrail.deps import ReadSession
from audittrail.integrity.canonical import record_leaf_bytes
from audittrail.log.append import AppendedRecord
from audittrail.records import service as records
from audittrail.web.templating import render

router = APIRouter(include_in_schema=False)

# What system records say of a change, field by field (log/system.changes).
CHANGE_KEYS = frozenset({"old", "new"})
ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class Value:
    """A JSON value as a cell shows it: a string as its text, anything else as compact JSON
    (so that the number 10 and the string "10" do not look alike)."""

    text: str | None  # None: JSON null
    is_json: bool

    @classmethod
    def of(cls, value: Any) -> Value:
        if value is None or isinstance(value, str):
            return cls(value, False)
        return cls(json.dumps(value, ensure_ascii=False, sort_keys=True), True)


@dataclass(frozen=True)
class ParamRow:
    key: str
    value: Value
    definition: ParamDefinition | None  # None: a param the application does not register
    masked: bool


@dataclass(frozen=True)
class Change:
    field: str
    old: Value
    new: Value
    kind: ChangeKind


@dataclass(frozen=True)
class Leaf:
    """The record's leaf bytes, or why the page cannot give them."""

    encoded: str | None  # base64 of integrity.canonical.record_leaf_bytes
    text: str | None
    masked: bool  # the reader sees masked values: the leaf holds others, and is not shown


def is_change(record: AppendedRecord, value: Any) -> bool:
    """Whether a param is a field's change: only this service's own records write them
    (log/system.changes); another record's param of the same shape is a param like any other."""
    return record.source == "system" and isinstance(value, dict) and value.keys() == CHANGE_KEYS


def change_kind(old: Any, new: Any) -> ChangeKind:
    if old is None and new is not None:
        return "added"
    if new is None and old is not None:
        return "removed"
    # A system record holds only what changed (log/system.changes): equal values there are a
    # change whose values it does not show, as a password's.
    return "changed"


def changes(record: AppendedRecord) -> list[Change]:
    """The params that carry an old and a new value, as the diff's rows."""
    return [
        Change(
            key,
            Value.of(value["old"]),
            Value.of(value["new"]),
            change_kind(value["old"], value["new"]),
        )
        for key, value in sorted(record.params.items())
        if is_change(record, value)
    ]


def param_rows(
    record: AppendedRecord, definitions: Mapping[str, ParamDefinition], masked: frozenset[str]
) -> list[ParamRow]:
    """The other params, each with its definition where the application registers it."""
    return [
        ParamRow(key, Value.of(value), definitions.get(key), key in masked)
        for key, value in sorted(record.params.items())
        if not is_change(record, value)
    ]


def leaf_of(record: AppendedRecord, masked: frozenset[str]) -> Leaf:
    """The bytes the log hashed, rebuilt from the record as stored: only where the reader sees
    every value of it (a masked value would give other bytes, and the real ones would tell it)."""
    if masked:
        return Leaf(None, None, masked=True)
    leaf = record_leaf_bytes(record.leaf_fields())
    return Leaf(base64.b64encode(leaf).decode("ascii"), leaf.decode("utf-8"), masked=False)


@router.get("/records/{record_id}", response_class=HTMLResponse)
async def record_page(
    request: Request, record_id: str, principal: RecordsReader, session: ReadSession
) -> HTMLResponse:
    # What records.service masked, as it decided: the page's leaf must not be rebuilt from them.
    shown = await records.get_shown(session, record_id, principal.visibility)
    record, masked = shown.record, shown.masked
    definitions: dict[str, ParamDefinition] = {}
    if record.application_id is not None:
        found = await applications.definitions(session, record.application_id)
        definitions = {definition.key: definition for definition in found}
    return render(
        request,
        "record.html",
        principal,
        record=record,
        params=param_rows(record, definitions, masked),
        changes=changes(record),
        leaf=leaf_of(record, masked),
        links_applications=principal.holds(APPLICATIONS_READ),
    )
