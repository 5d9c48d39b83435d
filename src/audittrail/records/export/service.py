"""Exports: a filtered view of the records as NDJSON, CSV or an evidence pack, taken against a
signed checkpoint and described by a signed manifest (docs/export.md)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from audittrail import clock
from audittrail.applications import service as applications
from audittrail.applications.service import ParamType
from audittrail.db.engine import Database
from audittrail.integrity.canonical import leaf_time
from audittrail.integrity.manifest import Manifest, manifest_body
from audittrail.log import system
from audittrail.log.append import NewRecord
from audittrail.log.signer import LogSigner
from audittrail.records import query as q
from audittrail.records.export import reader
from audittrail.records.export.formats import BOM, CsvWriter, Format, ndjson_line
from audittrail.records.export.snapshot import Snapshot


@dataclass(frozen=True)
class ExportRequest:
    """What to export, for whom, and how; `filters` as given, for the manifest."""

    query: q.RecordQuery
    format: Format
    filters: dict[str, Any]
    exporter: str
    params_as_columns: bool = False
    bom: bool = False


def export_request(
    exporter: str,
    query: q.RecordQuery,
    export_format: Format,
    filters: dict[str, Any],
    *,
    params_as_columns: bool = False,
    bom: bool = False,
) -> ExportRequest:
    """The request, checked: options of one format only with that format."""
    if params_as_columns and export_format is not Format.CSV:
        raise q.invalid("params_as_columns", "applies to format=csv only.")
    if bom and export_format is not Format.CSV:
        raise q.invalid("bom", "applies to format=csv only.")
    if query.registered_params_only and export_format is Format.PACK:
        raise q.invalid(
            "registered_params_only", "does not apply to packs: they hold records' exact bytes."
        )
    if params_as_columns and not (query.application_id or query.application_key):
        raise q.invalid("params_as_columns", "needs application_id or application_key.")
    if export_format is Format.PACK:
        # A pack is in log order, whatever the list's sort: its proofs follow the log.
        query = replace(query, sort_by=q.SortField.CREATED_AT, sort_dir=q.SortDir.ASC)
    return ExportRequest(query, export_format, filters, exporter, params_as_columns, bom)


@dataclass
class Export:
    """One export's data, streamed once, and what its manifest states of it."""

    request: ExportRequest
    snapshot: Snapshot
    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    masked: bool = False
    digest: Any = field(default_factory=hashlib.sha256)
    _types: dict[str, ParamType] = field(default_factory=dict)
    _shown: reader.Shown | None = None

    @property
    def query(self) -> q.RecordQuery:
        return replace(self.request.query, tree_size=self.snapshot.tree_size)

    async def start(self, database: Database) -> None:
        """What the reading needs, learnt (and refused: 403, 404) before anything is sent."""
        self._types = await reader.filter_types(database, self.query)
        self._shown = await reader.Shown.load(database, self.query)

    async def rows(self, database: Database) -> AsyncIterator[list[dict[str, Any]]]:
        """The records as the reader sees them, page by page, counted."""
        if self._shown is None:
            await self.start(database)
        assert self._shown is not None
        shown = self._shown
        async for page in reader.pages(database, self.query, self._types):
            await shown.learn(database, page)
            for row in page:
                self.masked = self.masked or shown.masks(row)
                shown.apply(row)
            seqs = [row["seq"] for row in page]
            self.first_seq = min(seqs if self.first_seq is None else [self.first_seq, *seqs])
            self.last_seq = max(seqs if self.last_seq is None else [self.last_seq, *seqs])
            self.records += len(page)
            yield page

    async def data(self, database: Database) -> AsyncIterator[bytes]:
        """The NDJSON or CSV bytes, hashed as they go (the manifest states the hash)."""
        async for chunk in self._chunks(database):
            self.digest.update(chunk)
            yield chunk

    async def _chunks(self, database: Database) -> AsyncIterator[bytes]:
        if self.request.format is Format.CSV:
            writer = CsvWriter(await self._param_columns(database))
            yield (BOM if self.request.bom else b"") + writer.header()
            async for page in self.rows(database):
                yield writer.rows(page)
            return
        async for page in self.rows(database):
            yield b"".join(ndjson_line(row) for row in page)

    async def _param_columns(self, database: Database) -> list[str]:
        if not self.request.params_as_columns:
            return []
        query = self.request.query
        async with database.read_session() as session:
            application = await applications.find(
                session, query.application_id or query.application_key or ""
            )
            if application is None or not query.visibility.allows(application.id):
                return []  # its records are not found either: the export is empty
            return sorted(d.key for d in await applications.definitions(session, application.id))

    def manifest(self, signer: LogSigner) -> str:
        """The signed manifest of the data streamed so far (all of it, once `data` is done)."""
        body = manifest_body(
            Manifest(
                origin=signer.origin,
                format=self.request.format.value,
                filters=self.stated_filters(),
                records=self.records,
                first_seq=self.first_seq,
                last_seq=self.last_seq,
                range=self.range(),
                tree_size=self.snapshot.tree_size,
                root_hash=self.snapshot.root_hash,
                data_sha256=self.digest.hexdigest(),
                exported_at=leaf_time(clock.now()),
                exported_by=self.request.exporter,
            )
        )
        return signer.sign_note(body)

    def stated_filters(self) -> dict[str, Any]:
        """The filters as given, and what the reader's view added to them: the applications a
        bound key sees (`reader_applications`), and `sensitive_params: "masked"` when values
        were masked. A manifest of a partial view says so."""
        stated = dict(self.request.filters)
        visible = self.request.query.visibility.application_ids
        if visible is not None:
            stated["reader_applications"] = sorted(visible)
        if self.masked:
            stated["sensitive_params"] = "masked"
        return stated

    def range(self) -> tuple[int, int] | None:
        """The seqs [start, end) of which the data hold every record, if they do (docs/export.md:
        no filter but seqs and dates, a reader who sees every record, nothing masked)."""
        query = self.request.query
        narrowed = replace(query, seq_from=None, seq_to=None, date_from=None, date_to=None)
        if (
            self.masked
            or query.visibility.application_ids is not None
            or query.registered_params_only
            or q.is_filtered(narrowed)
        ):
            return None
        if query.date_from is None and query.date_to is None:
            start = query.seq_from or 0
            end = self.snapshot.tree_size
            if query.seq_to is not None:
                end = min(end, query.seq_to + 1)
            return (start, end) if start < end else None
        if self.first_seq is None or self.last_seq is None:
            return None
        return self.first_seq, self.last_seq + 1

    def manifest_line(self, signer: LogSigner) -> bytes:
        """NDJSON's last line: the manifest, and the checkpoint it names."""
        line = {"checkpoint": self.snapshot.note, "manifest": self.manifest(signer)}
        return orjson.dumps(line, option=orjson.OPT_SORT_KEYS) + b"\n"

    def record(
        self, ip: str | None, *, job_id: str | None = None, complete: bool = True
    ) -> NewRecord:
        """The system record of this export: who took what, against which checkpoint; one
        `complete=False` stopped (its client went away) after `records` were read."""
        request = self.request
        params: dict[str, Any] = {
            "format": request.format.value,
            "filters": self.stated_filters(),
            "records": self.records,
            "complete": complete,
            "tree_size": self.snapshot.tree_size,
            "data_sha256": self.digest.hexdigest(),
        }
        if job_id is not None:
            params["job_id"] = job_id
        summary = f"Exported {self.records} records as {request.format.value}"
        if not complete:
            summary = (
                f"Export as {request.format.value} stopped after {self.records} records: "
                "its client went away"
            )
        return system.new(
            event_type="export.created",
            summary=summary,
            actor=request.exporter,
            entity_type="export",
            entity_id=job_id,
            changes_registry=False,
            params=params,
            category=system.SECURITY,
            ip_address=ip,
        )
