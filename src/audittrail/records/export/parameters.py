"""An export's query parameters: parsed from a request by the dependencies every export route
takes, and parsed again from their stored text when a job runs, by the very same declarations
(a job runs in another request, or another process, long after its own)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from inspect import signature
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from fastapi import Query, Request
from pydantic import validate_call

from audittrail.access import Visibility
from audittrail.records import query as q
from audittrail.records.export.formats import Format
from audittrail.records.export.service import ExportRequest, export_request
from audittrail.records.filters import Filters, record_filters
from audittrail.records.query import MAX_SEQ


@dataclass(frozen=True)
class ExportOptions:
    """How to export, beyond which records: the format, the order, a range of seqs, CSV's
    options."""

    format: Format
    sort_by: q.SortField
    sort_dir: q.SortDir
    seq_from: int | None
    seq_to: int | None
    params_as_columns: bool
    bom: bool

    def request(
        self, filters: Filters, visibility: Visibility, exporter: str, stated: dict[str, Any]
    ) -> ExportRequest:
        """The export of these records for this reader (`stated`: the filters as given)."""
        query = filters.query(
            visibility,
            sort_by=self.sort_by,
            sort_dir=self.sort_dir,
            seq_from=self.seq_from,
            seq_to=self.seq_to,
        )
        return export_request(
            exporter,
            query,
            self.format,
            stated,
            params_as_columns=self.params_as_columns,
            bom=self.bom,
        )


def export_options(
    format: Annotated[Format, Query(description="ndjson, csv or pack (a zip).")] = Format.NDJSON,
    sort_by: Annotated[q.SortField, Query()] = q.SortField.CREATED_AT,
    sort_dir: Annotated[q.SortDir, Query()] = q.SortDir.DESC,
    seq_from: Annotated[int | None, Query(ge=0, le=MAX_SEQ, description="seq at or above.")] = None,
    seq_to: Annotated[int | None, Query(ge=0, le=MAX_SEQ, description="seq at or below.")] = None,
    params_as_columns: Annotated[
        bool,
        Query(description="CSV: a column per param the application (by id or key) registers."),
    ] = False,
    bom: Annotated[bool, Query(description="CSV: start with a UTF-8 byte order mark.")] = False,
) -> ExportOptions:
    return ExportOptions(format, sort_by, sort_dir, seq_from, seq_to, params_as_columns, bom)


@dataclass(frozen=True)
class _Parser:
    """A dependency that reads query parameters, run again outside a request: its arguments
    validated by pydantic against its own annotations, as FastAPI validates them."""

    names: tuple[str, ...]
    lists: frozenset[str]
    """The parameters that take every value given; the others take the last, as in FastAPI."""
    validated: Callable[..., Any]

    @classmethod
    def of(cls, dependency: Callable[..., Any]) -> _Parser:
        hints = get_type_hints(dependency, include_extras=True)
        names = tuple(signature(dependency).parameters)
        lists = frozenset(name for name in names if _is_list(hints[name]))
        return cls(names, lists, validate_call(dependency))

    def parse(self, spelt: dict[str, list[str]]) -> Any:
        return self.validated(
            **{
                name: values if name in self.lists else values[-1]
                for name, values in spelt.items()
                if name in self.names
            }
        )


def _is_list(hint: Any) -> bool:
    if get_origin(hint) is Annotated:
        hint = get_args(hint)[0]
    return any(get_origin(option) is list for option in (hint, *get_args(hint)))


_FILTERS = _Parser.of(record_filters)
_OPTIONS = _Parser.of(export_options)


def given(request: Request) -> dict[str, list[str]]:
    """The export's parameters as the request spelt them, every value of each."""
    return {
        name: request.query_params.getlist(name)
        for parser in (_FILTERS, _OPTIONS)
        for name in parser.names
        if name in request.query_params
    }


def parsed_again(
    spelt: dict[str, list[str]], visibility: Visibility, exporter: str, stated: dict[str, Any]
) -> ExportRequest:
    """The export `given` spelt, parsed as the request's dependencies parsed it."""
    filters: Filters = _FILTERS.parse(spelt)
    options: ExportOptions = _OPTIONS.parse(spelt)
    return options.request(filters, visibility, exporter, stated)


# The parameters that choose the records and their order, which a manifest states (the format
# and CSV's options shape only the bytes).
STATED = (*_FILTERS.names, "seq_from", "seq_to", "sort_by", "sort_dir")


def stated(spelt: dict[str, list[str]]) -> dict[str, Any]:
    """The filters and sort that were applied, as given: every value of a parameter that takes
    several (metadata), the last of one that takes one, as the parsing takes it."""
    found: dict[str, Any] = {}
    for name in STATED:
        values = spelt.get(name)
        if values:
            found[name] = values if name in _FILTERS.lists else values[-1]
    return found


def unknown(spelt: dict[str, list[str]]) -> list[str]:
    """The names no export parameter has (the command line's --filter: a typo must not export
    the whole log)."""
    known = {*_FILTERS.names, *_OPTIONS.names}
    return sorted(name for name in spelt if name not in known)
