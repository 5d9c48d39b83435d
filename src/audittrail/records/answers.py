"""The intake's answers, written by orjson: byte for byte what RecordResponse serialises.

A record's answer was a fifth of a batch's CPU as a model built per record (model_construct)
and serialised by pydantic. The records are appended as plain values already, so here they go
to orjson as dicts, in the response models' field order. A differential test holds the bytes to
the models' own serialisation (tests/records/test_answers.py); the models stay the documented
schema, and the list and get routes still answer through them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from audittrail.applications.service import ApplicationSummary
from audittrail.db.models import Application
from audittrail.log.append import AppendedRecord
from audittrail.records.schemas import RecordResponse

_RECORD_FIELDS = tuple(RecordResponse.model_fields)
_SUMMARY_FIELDS = tuple(ApplicationSummary.model_fields)
# pydantic writes an aware UTC time with Z; orjson does so with this option.
_OPTIONS = orjson.OPT_UTC_Z

Summaries = dict[str, dict[str, Any]]


def record_json(record: AppendedRecord) -> bytes:
    """A record's answer, as RecordResponse."""
    return orjson.dumps(_fields(record, {}), option=_OPTIONS)


def batch_json(records: Sequence[AppendedRecord]) -> bytes:
    """A batch's answer, as BatchResponse."""
    summaries: Summaries = {}
    answer = {"records": [_fields(record, summaries) for record in records]}
    return orjson.dumps(answer, option=_OPTIONS)


def _fields(record: AppendedRecord, summaries: Summaries) -> dict[str, Any]:
    fields = {name: getattr(record, name) for name in _RECORD_FIELDS}
    fields["application"] = _summary(record.application, summaries)
    return fields


def _summary(application: Application | None, summaries: Summaries) -> dict[str, Any] | None:
    """As ApplicationSummary; once per application of a batch."""
    if application is None:
        return None
    if application.id not in summaries:
        summaries[application.id] = {name: getattr(application, name) for name in _SUMMARY_FIELDS}
    return summaries[application.id]
