"""Import: the records of an export's NDJSON or CSV, back through the batch path, never twice.

Two passes over the file. The first checks every record as the batch path does, and that no
two lines hold one original id, and stores nothing, so that a file with any bad line stores
nothing at all (a dry run is that pass alone, and on the command line migrates nothing).
The second reads the file again and sends it, 1,000 records at a time, through the same checks
(what they are checked against may have changed meanwhile) and the group commit
(`service.ingest`). Each record claims an idempotency key made of the file's SHA-256 and its
line, in a scope of its own: an import run again, after a failure or a kill, gets back what
the first run stored as replays, and stores only the rest.

The log never backdates, and takes no actor from a body: a record gets its id and time when
it is imported, and its actor and IP address are the importer's (`system` and none on the
command line); the file's go to `metadata.original_id`, `original_created_at`,
`original_actor` and `original_ip_address`, and `metadata.imported_by` names the importer.
Those keys are the import's only: any the file's metadata holds are removed first, and imported
records have the source "import", which no other writer gives. docs/export.md, "Import", says
it all for users.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import hashlib
import io
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal

from pydantic import AfterValidator, Field, ValidationError
from pydantic_core import PydanticCustomError

from audittrail.access import ADMIN, ADMIN_SCOPE, SCOPES, Authenticated, Credentials, Principal
from audittrail.config import Settings
from audittrail.db import migrate
from audittrail.db.engine import Database
from audittrail.errors import AppError, FieldProblem, Unprocessable
from audittrail.integrity.canonical import leaf_time
from audittrail.log import system
from audittrail.log.append import NewRecord
from audittrail.records import batch, service
from audittrail.records.export.formats import BOM, JSON_COLUMNS
from audittrail.records.idempotency import Claim
from audittrail.records.intake import Intake
from audittrail.records.registry import Registry
from audittrail.records.schemas import RecordCreate
from audittrail.records.service import Checked
from audittrail.records.writer import GroupCommitWriter
from audittrail.schemas import Storable, UtcDatetime
from audittrail.strict_json import json_value

NDJSON = batch.NDJSON
CSV = "text/csv"
Format = Literal["ndjson", "csv"]
# Claims of imports are kept apart from clients' own keys (per application or credential):
# no client can take an import's key first, and any importer replays another's.
SCOPE = "import"
# What the import writes into a record's metadata, and so removes from the file's first.
PROVENANCE = (
    "original_id",
    "original_created_at",
    "original_actor",
    "original_ip_address",
    "imported_by",
)
MAX_PROBLEMS_NAMED = 100
REQUIRED_COLUMNS = ("event_type", "summary")

Progress = Callable[[str, int], None]
"""Told how many more records a pass ("checking", then "storing") has done."""


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise PydanticCustomError("timezone_aware", "needs a UTC offset (Z or +hh:mm).")
    return moment


class ImportLine(RecordCreate):
    """A record of an import file: the export's fields. What the log and the credential give a
    record (id, seq, created_at, source, actor, ip_address) is not taken as it is (the module's
    docstring says where it goes)."""

    id: Annotated[str, Field(max_length=255), Storable] | None = None
    seq: int | None = None
    created_at: Annotated[UtcDatetime, AfterValidator(_aware)] | None = None
    # As long as the records table takes them.
    actor: Annotated[str, Field(max_length=400), Storable] | None = None
    ip_address: Annotated[str, Field(max_length=45), Storable] | None = None
    source: str | None = None


COLUMNS = frozenset(ImportLine.model_fields)
SYSTEM = Principal(
    kind="user", id="system", name="system", scopes=frozenset(SCOPES), roles=(ADMIN,)
)
"""Who imports on the command line: the system, as `audittrail seed` writes: whoever runs it
holds the database's own credentials, beyond any admin's."""


class SystemIntake(Intake):
    """The command line's checks: no caller to authenticate (it is `SYSTEM`); applications and
    their params looked up as for any intake, so the group commit sends a batch checked against
    a registry that has moved on back to be checked again."""

    def __init__(self, registry: Registry) -> None:
        super().__init__(registry, Credentials(), ADMIN_SCOPE)
        self.authenticated = Authenticated(SYSTEM)

    async def authenticate(self) -> Authenticated:
        assert self.authenticated is not None
        return self.authenticated


@dataclass(frozen=True)
class Line:
    """One record of the file: the line it starts on, and its value, or why it has none."""

    number: int
    value: Any = None
    problems: list[FieldProblem] = field(default_factory=list)


@dataclass(frozen=True)
class ImportFile:
    """A file to import: its format, its SHA-256, and how to read it (once a pass)."""

    format: Format
    sha256: str
    open: Callable[[], BinaryIO]

    @classmethod
    def of_bytes(cls, body: bytes, media_type: str) -> ImportFile:
        """A request's body, CSV if it says text/csv, else NDJSON."""
        declared = media_type.split(";")[0].strip().lower()
        return cls(
            "csv" if declared == CSV else "ndjson",
            hashlib.sha256(body).hexdigest(),
            lambda: io.BytesIO(body),
        )

    @classmethod
    def of_path(cls, path: Path) -> ImportFile:
        """A file on disk: NDJSON if its first character (after a BOM and blanks) is `{`."""
        with path.open("rb") as stream:
            sha256 = hashlib.file_digest(stream, "sha256").hexdigest()
            stream.seek(0)
            start = stream.read(4096).removeprefix(BOM).lstrip()
        return cls("ndjson" if start.startswith(b"{") else "csv", sha256, lambda: path.open("rb"))

    def lines(self) -> Iterator[Line]:
        with self.open() as stream:
            yield from (_ndjson_lines if self.format == "ndjson" else _csv_lines)(stream)

    def claim(self, line: int) -> Claim:
        """The line's idempotency claim. Its request is the file itself: a key names one."""
        return Claim(SCOPE, f"import:{self.sha256[:32]}:{line}", self.sha256, f"line {line}")


@dataclass(frozen=True)
class Imported:
    """What an import did: the records of the file, those it stored, and those an earlier
    import of the same file had stored (replayed)."""

    file_sha256: str
    records: int
    stored: int
    replayed: int
    dry_run: bool


class ImportRefused(Unprocessable):
    """Lines of the file do not fit: each named with its line number and problems."""

    def __init__(self, lines: int, refused: int, problems: list[FieldProblem], outcome: str):
        named = problems[:MAX_PROBLEMS_NAMED]
        more = f" (the first {len(named)} problems are named)" if len(named) < len(problems) else ""
        super().__init__(
            f"{refused} of {lines} lines do not fit{more}; {outcome}",
            code="IMPORT_VALIDATION_FAILED",
            details=named,
        )
        self.lines = lines
        self.refused = refused


class NotMigrated(AppError):
    """A dry run's database is not at the current schema: a dry run writes nothing, so it does
    not migrate it either."""

    code = "DATABASE_NOT_MIGRATED"


def _unwatched(_phase: str, _records: int) -> None:
    """No one to tell."""


async def run(
    file: ImportFile,
    intake: Intake,
    writer: GroupCommitWriter,
    *,
    dry_run: bool = False,
    ip: str | None = None,
    progress: Progress = _unwatched,
) -> Imported:
    """Check the whole file, then (unless a dry run) store it; ImportRefused, with nothing
    stored, if any line does not fit. ``ip``: the importer's, the address of every record
    it stores and of the system record that says who imported what."""
    records = await _check(file, intake, ip, progress)
    if dry_run:
        return Imported(file.sha256, records, 0, 0, dry_run=True)
    stored, replayed = await _store(file, intake, writer, ip, progress)
    imported = Imported(file.sha256, records, stored, replayed, dry_run=False)
    if stored:
        await writer.submit([_system_record(file, imported, intake.principal, ip)])
    return imported


async def import_file(
    path: Path, settings: Settings, *, dry_run: bool = False, progress: Progress = _unwatched
) -> Imported:
    """The command line's import: in this process, into settings.database_url (migrated first,
    as `audittrail seed` does), as `SYSTEM`, through a group commit writer of its own. A dry
    run writes nothing, so it does not migrate: NotMigrated if the database is not at head."""
    if not dry_run:
        await asyncio.to_thread(migrate.upgrade, settings.database_url)
    elif not await migrate.at_head(settings.database_url):
        raise NotMigrated(
            "the database is not migrated to this version's schema, and a dry run writes "
            "nothing, not even a migration: migrate it (`audittrail migrate`, on "
            "AUDITTRAIL_DATABASE_URL) and check the file again, or import without --dry-run, "
            "which migrates first."
        )
    file = await asyncio.to_thread(ImportFile.of_path, path)
    database = Database.connect(
        settings.database_url, sqlite_synchronous=settings.sqlite_synchronous, pool_size=2
    )
    registry = Registry(database, settings)
    writer = GroupCommitWriter(database, settings, on_registry_version=registry.observe)
    writer.start()
    try:
        return await run(file, SystemIntake(registry), writer, dry_run=dry_run, progress=progress)
    finally:
        await writer.stop()
        await database.dispose()


async def _check(file: ImportFile, intake: Intake, ip: str | None, progress: Progress) -> int:
    """How many records the file holds; ImportRefused naming the lines that do not fit, and
    those that repeat an earlier line's original id (one record would be imported twice)."""
    lines = refused = 0
    problems: list[FieldProblem] = []
    originals = _OriginalIds()
    for chunk in _chunks(file.lines()):
        outcomes = [await _record(line, intake, ip) for line in chunk]
        if intake.used_kept and not all(isinstance(o, NewRecord) for o in outcomes):
            outcomes = await _checked_afresh(chunk, intake, ip)
        for line, outcome in zip(chunk, outcomes, strict=True):
            found = originals.repeated(line)
            if not isinstance(outcome, NewRecord):
                found = outcome + found
            refused += bool(found)
            problems += found
        lines += len(chunk)
        del problems[MAX_PROBLEMS_NAMED + 1 :]  # one past: enough to say there are more
        progress("checking", len(chunk))
    if refused:
        raise ImportRefused(
            lines,
            refused,
            problems,
            "nothing was stored, so the file can be corrected and imported again.",
        )
    return lines


async def _checked_afresh(
    chunk: list[Line], intake: Intake, ip: str | None
) -> list[NewRecord | list[FieldProblem]]:
    """The lines checked again from the database: a refusal is never answered from what the
    process keeps (records/intake.py), which may predate what makes a line fit (an application
    registered again since). What is kept, renewed by the fresh look, serves the next lines."""
    await intake.refresh()
    try:
        return [await _record(line, intake, ip) for line in chunk]
    finally:
        intake.fresh = False


class _OriginalIds:
    """The original ids of the lines read so far, each with the first line that holds it; by
    a 16-byte BLAKE2b digest, whatever the id's length (a million lines: some 120 MB)."""

    def __init__(self) -> None:
        self._lines: dict[bytes, int] = {}

    def repeated(self, line: Line) -> list[FieldProblem]:
        """DUPLICATE_ID if an earlier line holds this line's id."""
        original = line.value.get("id") if isinstance(line.value, dict) else None
        if not isinstance(original, str):
            return []
        digest = hashlib.blake2b(original.encode(errors="surrogatepass"), digest_size=16)
        first = self._lines.setdefault(digest.digest(), line.number)
        if first == line.number:
            return []
        return [
            FieldProblem(
                f"line {line.number}.id",
                "DUPLICATE_ID",
                f"is also the id of line {first}: the file would import one record twice.",
            )
        ]


async def _store(
    file: ImportFile,
    intake: Intake,
    writer: GroupCommitWriter,
    ip: str | None,
    progress: Progress,
) -> tuple[int, int]:
    """Every batch of the file committed: how many records were stored, how many replayed."""
    stored = replayed = 0
    for chunk in _chunks(file.lines()):
        check = functools.partial(_checked, file, chunk, intake, ip)
        written = await service.ingest(intake, writer, check)
        again = sum(written.replayed)
        stored, replayed = stored + len(chunk) - again, replayed + again
        progress("storing", len(chunk))
    return stored, replayed


async def _checked(file: ImportFile, chunk: list[Line], intake: Intake, ip: str | None) -> Checked:
    """One batch, checked again as it is stored, and the claims of its lines."""
    records: list[NewRecord] = []
    problems: list[FieldProblem] = []
    for line in chunk:
        record = await _record(line, intake, ip)
        if isinstance(record, NewRecord):
            records.append(record)
        else:
            problems += record
    if problems:
        # What the file was checked against changed since the first pass.
        refused = len(chunk) - len(records)
        outcome = (
            f"the import stopped at line {chunk[0].number}, after storing the batches before it. "
            "Make the line fit again (its application, its params' definitions), then import "
            "the same, unchanged file to finish: its records are keyed by the file's SHA-256, "
            "so the stored ones are replayed, while an edited file is another file and would "
            "store them twice."
        )
        raise ImportRefused(len(chunk), refused, problems, outcome)
    return records, [file.claim(line.number) for line in chunk]


async def _record(line: Line, intake: Intake, ip: str | None) -> NewRecord | list[FieldProblem]:
    if line.problems:
        return line.problems
    try:
        request = _request(ImportLine.model_validate(line.value), intake.principal.actor)
        await _refuse_masked(intake, request)
        return await service.prepare(
            intake, request, principal=intake.principal, ip=ip, source="import"
        )
    except (ValidationError, AppError) as error:
        return batch.problems_of(error, f"line {line.number}")


def _request(line: ImportLine, importer: str) -> ImportLine:
    """The record to check and store: the file's id, time, actor and IP address kept in its
    metadata, the importer named, after removing any of those keys the file's metadata held
    (provenance is the import's to say); its application by key, whose id is the exporting
    database's own, else by id."""
    metadata = {key: value for key, value in line.metadata.items() if key not in PROVENANCE}
    originals = {
        "original_id": line.id,
        "original_created_at": None if line.created_at is None else leaf_time(line.created_at),
        "original_actor": line.actor,
        "original_ip_address": line.ip_address,
    }
    metadata.update((key, value) for key, value in originals.items() if value is not None)
    metadata["imported_by"] = importer
    application_id = None if line.application_key is not None else line.application_id
    return line.model_copy(update={"metadata": metadata, "application_id": application_id})


async def _refuse_masked(intake: Intake, request: RecordCreate) -> None:
    """422 for a sensitive param whose value is the mask: the file is a non-admin's export,
    which never held the value."""
    masked = [key for key, value in request.params.items() if value == service.MASK]
    if not masked:
        return
    application = await service.resolve_application(
        intake, request.application_id, request.application_key
    )
    if application is None:
        return
    sensitive = {d.key for d in await intake.definitions(application.id) if d.sensitive}
    problems = [
        FieldProblem(
            f"body.params.{key}",
            "MASKED_VALUE",
            f'is "{service.MASK}": the export this file comes from did not hold the sensitive '
            "value. Import an admin's export.",
        )
        for key in masked
        if key in sensitive
    ]
    if problems:
        raise Unprocessable("Sensitive params are masked.", code="MASKED_VALUE", details=problems)


def _chunks(lines: Iterable[Line]) -> Iterator[list[Line]]:
    iterator = iter(lines)
    while chunk := list(itertools.islice(iterator, batch.MAX_BATCH)):
        yield chunk


def _ndjson_lines(stream: BinaryIO) -> Iterator[Line]:
    """Each line's JSON value; blank lines and the export's manifest line skipped."""
    for number, line in enumerate(stream, start=1):
        raw = line.removeprefix(BOM) if number == 1 else line
        if not raw.strip():
            continue
        try:
            value = json_value(raw, "The line")
        except AppError as error:
            yield Line(number, problems=batch.problems_of(error, f"line {number}"))
            continue
        if not (isinstance(value, dict) and value.keys() == {"checkpoint", "manifest"}):
            yield Line(number, value)


def _csv_lines(stream: BinaryIO) -> Iterator[Line]:
    """Each row by the header's columns (RFC 4180; UTF-8, a BOM allowed); reading stops at
    the first row that cannot be read, or a header that is not the export's."""
    reader = csv.reader(io.TextIOWrapper(stream, encoding="utf-8-sig", newline=""), strict=True)
    header: list[str] | None = None
    while True:
        number = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as error:
            yield Line(number, problems=[_unreadable(number, error)])
            return
        if not cells:
            continue
        if header is None:
            header = cells
            problems = _header_problems(header, f"line {number}")
            if problems:
                yield Line(number, problems=problems)
                return
            continue
        yield _csv_line(number, header, cells)


def _unreadable(number: int, error: Exception) -> FieldProblem:
    if isinstance(error, UnicodeDecodeError):
        return FieldProblem(f"line {number}", "NOT_UTF8", "is not UTF-8 (here or soon after).")
    return FieldProblem(f"line {number}", "INVALID_CSV", f"is not RFC 4180 CSV: {error}.")


def _header_problems(header: list[str], where: str) -> list[FieldProblem]:
    """Each column that is unknown or named twice, and each required one missing: one past
    MAX_PROBLEMS_NAMED at most (enough to say there are more), whatever the header's length."""
    counts = Counter(header)
    problems = [
        FieldProblem(f"{where}.{column}", "UNKNOWN_COLUMN", "is no column of an export.")
        for column in counts
        if column not in COLUMNS and not column.startswith("param.")
    ]
    problems += [
        FieldProblem(f"{where}.{column}", "DUPLICATE_COLUMN", "appears more than once.")
        for column in sorted(column for column, count in counts.items() if count > 1)
    ]
    problems += [
        FieldProblem(where, "MISSING_COLUMN", f"has no column {column}.")
        for column in REQUIRED_COLUMNS
        if column not in counts
    ]
    return problems[: MAX_PROBLEMS_NAMED + 1]


def _csv_line(number: int, header: list[str], cells: list[str]) -> Line:
    """A row's fields: a cell's formula guard (one leading ') removed, an empty cell left out
    (null, or the field's default), params and metadata read as JSON; `param.<key>` columns
    ignored (params holds them all)."""
    where = f"line {number}"
    if len(cells) != len(header):
        problem = FieldProblem(
            where, "WRONG_CELL_COUNT", f"has {len(cells)} cells; the header has {len(header)}."
        )
        return Line(number, problems=[problem])
    fields: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    for column, cell in zip(header, cells, strict=True):
        value = cell.removeprefix("'")
        if not value or column.startswith("param."):
            continue
        if column not in JSON_COLUMNS:
            fields[column] = value
            continue
        try:
            fields[column] = json_value(value.encode(), "The cell")
        except AppError as error:
            problems += batch.problems_of(error, f"{where}.{column}")
    return Line(number, fields, problems)


def _system_record(
    file: ImportFile, imported: Imported, importer: Principal, ip: str | None
) -> NewRecord:
    return system.new(
        event_type="records.imported",
        summary=f"Imported {imported.stored} records ({file.format.upper()})",
        actor=importer.actor,
        entity_type="import",
        entity_id=file.sha256,
        changes_registry=False,
        params={
            "format": file.format,
            "records": imported.records,
            "stored": imported.stored,
            "replayed": imported.replayed,
        },
        ip_address=ip,
    )
