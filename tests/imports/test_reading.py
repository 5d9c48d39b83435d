"""Reading an import file, with no database: whatever its bytes, records or problems by line,
never an exception (which a route would answer with 500)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from audittrail.records.imports import CSV, NDJSON, ImportFile
from tests.export.support import COLUMNS
from tests.imports.support import csv_file, exported, ndjson_file

HEADER = ",".join(COLUMNS).encode() + b"\r\n"
bodies = st.one_of(
    st.binary(max_size=500),
    st.text(max_size=500).map(str.encode),
    st.text(max_size=500).map(lambda text: HEADER + text.encode()),
    st.text(max_size=500).map(lambda text: b'{"summary": "' + text.encode() + b"\n"),
)


@given(bodies, st.sampled_from([NDJSON, CSV]))
def test_any_bytes_read_as_records_or_problems(body: bytes, media_type: str) -> None:
    numbers = []
    for line in ImportFile.of_bytes(body, media_type).lines():
        assert all(problem.field.startswith(f"line {line.number}") for problem in line.problems)
        numbers.append(line.number)
    assert numbers == sorted(set(numbers))
    assert all(number >= 1 for number in numbers)


def test_lines_are_numbered_as_an_editor_shows_them() -> None:
    # A BOM, a blank first line; the manifest line skipped.
    ndjson = b"\xef\xbb\xbf\n" + ndjson_file([exported(1), exported(2)])
    assert [line.number for line in ImportFile.of_bytes(ndjson, NDJSON).lines()] == [2, 3]

    records = [exported(1, summary="one\r\ntwo\r\nthree"), exported(2)]
    body = csv_file(records, bom=True) + b"\r\n"  # a blank line at the end
    assert [line.number for line in ImportFile.of_bytes(body, CSV).lines()] == [2, 5]


def test_a_csv_cell_loses_one_leading_quote_and_an_empty_one_is_no_value() -> None:
    body = HEADER + b"'''=1,,,a,,'=2,'-x,,,,,,'@y,manual,{},\r\n"
    [line] = ImportFile.of_bytes(body, CSV).lines()
    assert line.problems == []
    assert line.value == {
        "id": "''=1",
        "event_type": "a",
        "summary": "=2",
        "severity": "-x",
        "ip_address": "@y",
        "source": "manual",
        "params": {},
    }


def test_not_utf8_is_a_problem_of_its_line() -> None:
    body = HEADER + b"a,1,x,e,c,s,low,\xff,,,,,,,{},{}\r\n"
    [line] = ImportFile.of_bytes(body, CSV).lines()
    assert [(p.field, p.code) for p in line.problems] == [("line 1", "NOT_UTF8")]
