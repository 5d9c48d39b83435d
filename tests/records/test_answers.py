"""The intake's answers, written by orjson (records/answers.py), are byte for byte what the
response models serialise, for every record the service accepts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from audittrail.applications.service import ApplicationSummary
from audittrail.db.models import Application
from audittrail.log.append import AppendedRecord
from audittrail.records import answers
from audittrail.records.schemas import BatchResponse, RecordResponse, Severity

# What ingest accepts: no NUL, no lone surrogate, no number past 2^53 (records/limits.py).
texts = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
LIMIT = 2**53 - 1
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-LIMIT, max_value=LIMIT)
    | st.floats(min_value=-LIMIT, max_value=LIMIT, allow_nan=False, allow_infinity=False)
    | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)
objects = st.dictionaries(texts, json_values, max_size=4)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@st.composite
def applications(draw: st.DrawFn) -> Application:
    application = Application(
        id=draw(texts),
        key=draw(texts),
        name=draw(texts),
        description=draw(st.none() | texts),
        accent_color=draw(texts),
        created_at=draw(moments),
        updated_at=draw(moments),
    )
    application.param_count = draw(st.integers(min_value=0, max_value=1000))
    return application


@st.composite
def records(draw: st.DrawFn, application: Application | None = None) -> AppendedRecord:
    optional = st.none() | texts
    return AppendedRecord(
        id=draw(texts),
        seq=draw(st.integers(min_value=0, max_value=LIMIT)),
        created_at=draw(moments),
        event_type=draw(texts),
        category=draw(texts),
        summary=draw(texts),
        severity=draw(st.sampled_from([severity.value for severity in Severity])),
        actor=draw(optional),
        application_id=None if application is None else application.id,
        application_key=None if application is None else application.key,
        entity_type=draw(optional),
        entity_id=draw(optional),
        params=draw(objects),
        metadata=draw(objects),
        ip_address=draw(optional),
        source="manual",
        application=application,
    )


def model_fields(record: AppendedRecord) -> dict[str, Any]:
    """The record as RecordResponse validates it: the documented schema, checked."""
    application = record.application
    summary = None if application is None else ApplicationSummary.model_validate(application)
    fields = {name: getattr(record, name) for name in RecordResponse.model_fields}
    return {**fields, "application": summary}


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), applications()).flatmap(records))
def test_a_record_answer_is_the_models_serialisation(record: AppendedRecord) -> None:
    expected = RecordResponse.model_validate(model_fields(record)).model_dump_json()
    assert answers.record_json(record).decode() == expected


@settings(max_examples=100, deadline=None)
@given(
    applications().flatmap(
        lambda application: st.lists(
            st.one_of(records(application), records()), min_size=0, max_size=5
        )
    )
)
def test_a_batch_answer_is_the_models_serialisation(batch: list[AppendedRecord]) -> None:
    models = [RecordResponse.model_validate(model_fields(record)) for record in batch]
    expected = BatchResponse(records=models).model_dump_json()
    assert answers.batch_json(batch).decode() == expected
