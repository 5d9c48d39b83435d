"""The command line: serve, migrate, backup, restore, verify, seed, export, import, rollups."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import httpx
import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy.exc import SQLAlchemyError

from audittrail import clock, logs, metrics
from audittrail.config import Settings
from audittrail.db import backup as backups
from audittrail.db import migrate as migrations
from audittrail.db.backup_archive import BackupFailed, BackupRefused
from audittrail.demo import generator, loader
from audittrail.errors import AppError
from audittrail.integrity.audit import LogAudit
from audittrail.integrity.checkpoint import load_signing_key
from audittrail.integrity.manifest import verify_export
from audittrail.integrity.pack import verify_pack
from audittrail.integrity.verify import VerificationError
from audittrail.log import rollups, sources
from audittrail.log.signer import LogSigner
from audittrail.records import imports
from audittrail.records.export import written

app = typer.Typer(help="audittrail: a self-hosted, verifiable audit trail.", no_args_is_help=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the API with the settings from the environment (AUDITTRAIL_*)."""
    settings = Settings()  # fail fast, before uvicorn starts, on bad settings
    logs.configure(json_lines=settings.json_logs)  # uvicorn's lines too: its own config is off
    with metrics.for_workers(settings, workers):  # their metrics' directory, and the port
        uvicorn.run(
            "audittrail.app:create_served_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=False,
            access_log=False,  # every request has its line already (logs.RequestLog)
            log_config=None,
            # After a stop signal: the intake's shutdown_timeout, then as long again for the rest.
            timeout_graceful_shutdown=round(2 * settings.shutdown_timeout) + 1,
        )


@app.command()
def migrate() -> None:
    """Apply the database migrations."""
    settings = Settings()
    migrations.upgrade(settings.database_url)
    typer.echo("database is up to date")


@app.command()
def backup(
    file: Annotated[
        Path,
        typer.Argument(
            help="The backup's file, a new one: a SQLite database, or a pg_dump archive.",
            show_default=False,
        ),
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Replace FILE if it exists, once the new one is whole.")
    ] = False,
) -> None:
    """Back up the database (AUDITTRAIL_DATABASE_URL) while servers go on writing: SQLite's
    online backup, or pg_dump's custom format. FILE appears only whole. Exit 1 when refused, 2
    when it failed. The log's signing key (AUDITTRAIL_LOG_KEY_FILE) is not in it: keep a copy
    of that apart (docs/operations.md)."""
    settings = Settings()
    with _backup_errors():
        archive = backups.backup(settings.database_url, file, replace=force)
    typer.echo(
        f"backed up the log of {archive.log_size:,} records (schema {archive.revision}) to {file}"
    )


@app.command()
def restore(
    file: Annotated[
        Path, typer.Argument(help="A file written by audittrail backup.", show_default=False)
    ],
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace the database even though it holds a log."),
    ] = False,
) -> None:
    """Replace the database (AUDITTRAIL_DATABASE_URL) with a backup, in one transaction, every
    server stopped. Refused, exit 1, for a file that is no backup of this kind of database, while
    another process uses the database, and when it holds a log, unless --force (PostgreSQL: the
    database must also be empty or at the backup's schema); exit 2 when it failed. Either way
    the database is as it was."""
    settings = Settings()
    with _backup_errors():
        restored = backups.restore(settings.database_url, file, force=force)
    archive = restored.archive
    replacing = f", replacing one of {restored.replaced:,}" if restored.replaced else ""
    typer.echo(
        f"restored the log of {archive.log_size:,} records (schema {archive.revision}) from "
        f"{file}{replacing}"
    )
    if archive.revision not in migrations.heads():
        typer.echo("its schema is older than this release's: audittrail migrate upgrades it")
    _check_log_key(settings, restored.latest_checkpoint)


@contextlib.contextmanager
def _backup_errors() -> Iterator[None]:
    """A refusal exits 1, a failure 2: one line each."""
    try:
        yield
    except BackupRefused as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    except BackupFailed as error:
        _give_up(str(error))


def _check_log_key(settings: Settings, note: str | None) -> None:
    """Warn unless the restored log's checkpoints are this server's key's: a server started
    without that key would make a new one, and sign a log no one can follow from the old."""
    if note is None:
        return
    key_file = settings.log_key_file
    try:
        signer = LogSigner(settings.log_origin, load_signing_key(key_file))
    except FileNotFoundError:
        typer.echo(
            f"warning: no log signing key at {key_file}: put the log's key there before a "
            "server starts, or it makes a new one and signs a new log",
            err=True,
        )
        return
    if signer.disowns(note) is not None:
        typer.echo(
            f"warning: the restored checkpoints are not signed by the key at {key_file} for "
            f"{settings.log_origin}: put the log's key and origin back before a server starts",
            err=True,
        )


@app.command()
def verify(
    database: Annotated[
        str | None, typer.Option(help="Verify this database (default: AUDITTRAIL_DATABASE_URL).")
    ] = None,
    url: Annotated[str | None, typer.Option(help="Verify a running server at this URL.")] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="AUDITTRAIL_API_KEY",
            help="An API key with the log:read scope (an auditor's), with --url.",
        ),
    ] = None,
    entries: Annotated[
        Path | None,
        typer.Option(
            help="Verify offline: an NDJSON file from /log/entries, up to the checkpoint's size."
        ),
    ] = None,
    checkpoint: Annotated[
        Path | None, typer.Option(help="With --entries: a signed checkpoint file.")
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(help="The published verifier key (from /log/key). Required offline."),
    ] = None,
    check_rollups: Annotated[
        bool,
        typer.Option(
            "--rollups",
            help="Also recount the database's records and compare the statistics' rollups.",
        ),
    ] = False,
    pack: Annotated[
        Path | None,
        typer.Option(help="Verify an evidence pack (an export with --pack) offline, alone."),
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option(
            help="Verify an NDJSON export (its manifest is its last line) or, with --manifest, "
            "a CSV export, against its signed manifest; needs --key."
        ),
    ] = None,
    manifest: Annotated[
        Path | None, typer.Option(help="With --export: the CSV's manifest file.")
    ] = None,
) -> None:
    """Recompute the log and check it against its signed checkpoints; exit 1 on any problem,
    2 when the log cannot be read."""
    if check_rollups and (url is not None or entries is not None):
        raise typer.BadParameter("--rollups checks a database: not with --url or --entries")
    others = (database, url, entries, checkpoint)
    alone = [option for option in (pack, export) if option is not None]
    if alone and (len(alone) > 1 or check_rollups or any(o is not None for o in others)):
        raise typer.BadParameter(
            "--pack and --export are checked alone: not with each other, --database, --url, "
            "--entries, --checkpoint or --rollups"
        )
    if manifest is not None and export is None:
        raise typer.BadParameter("--manifest goes with --export")
    verifier_key = key.read_text().strip() if key else None
    if pack is not None:
        _verify_pack(pack, verifier_key)
        return
    if export is not None:
        if verifier_key is None:
            raise typer.BadParameter("--export needs --key (GET /api/audit-trail/log/key)")
        _verify_export(export, verifier_key, manifest)
        return
    with _progress_bar() as bar:
        task = bar.add_task("verifying", total=None)

        def progress(records: int) -> None:
            bar.advance(task, records)

        if entries is not None:
            if checkpoint is None or verifier_key is None:
                raise typer.BadParameter("--entries needs --checkpoint and --key")
            audit = sources.audit_files(entries, checkpoint, verifier_key, progress)
        elif url is not None:
            audit = _audit_server(url, api_key, verifier_key, progress)
        else:
            settings = Settings()
            if verifier_key is None:
                verifier_key = _own_verifier_key(settings)
            audit = asyncio.run(
                sources.audit_database(database or settings.database_url, verifier_key, progress)
            )
    rollups_problems = None
    if check_rollups:
        rollups_problems = asyncio.run(rollups.check(database or Settings().database_url))
    _report(audit, rollups_problems)


def _verify_export(path: Path, verifier_key: str, manifest: Path | None) -> None:
    note = manifest.read_text() if manifest is not None else None
    try:
        checked = verify_export(path.read_bytes(), verifier_key, note)
    except VerificationError as error:
        typer.echo(f"FAILED: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"OK: {path} is the {checked.format} export of {checked.records} records the signed "
        f"manifest states, taken against the checkpoint of size {checked.tree_size}"
    )


def _verify_pack(path: Path, verifier_key: str | None) -> None:
    try:
        report = verify_pack(path, verifier_key)
    except (VerificationError, OSError) as error:
        _give_up(f"cannot check {path}: {error}")
    if report.own_key:
        typer.echo(
            f"warning: trusting the pack's own key: compare {report.verifier_key} with the one "
            "the log publishes (GET /api/audit-trail/log/key), or pass it with --key",
            err=True,
        )
    size = "none" if report.checkpoint is None else f"of size {report.checkpoint.size}"
    typer.echo(
        f"checked {report.records} records of {path} against the signed checkpoint {size}, "
        f"with key {report.key_id}"
    )
    if report.ok:
        typer.echo("OK: every record is in the log, as the signed manifest states")
        return
    for problem in report.problems:
        where = f"seq {problem.seq}" if problem.seq is not None else "the pack"
        typer.echo(f"FAILED at {where}: {problem.kind.value}: {problem.message}", err=True)
    raise typer.Exit(1)


def _audit_server(
    url: str, api_key: str | None, verifier_key: str | None, progress: sources.Progress
) -> LogAudit:
    """The log of a running server; an answer other than 2xx ends the command with exit 2."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            if verifier_key is None:
                typer.echo("warning: trusting the server's own key; pass --key", err=True)
                verifier_key = client.get("/api/audit-trail/log/key").text.strip()
            return sources.audit_server(client, verifier_key, progress)
    except httpx.HTTPStatusError as error:
        answer = error.response
        hint = " (the entries need a reader's --api-key)" if answer.status_code == 401 else ""
        _give_up(f"{answer.request.url} answered {answer.status_code}{hint}")
    except httpx.TransportError as error:
        _give_up(f"cannot reach {url}: {error}")


def _own_verifier_key(settings: Settings) -> str:
    """The verifier key of this server's signing key. Never creates one: that is a new log."""
    try:
        private_key = load_signing_key(settings.log_key_file)
    except FileNotFoundError:
        _give_up(
            f"no log signing key at {settings.log_key_file}; pass the published one with --key"
        )
    return LogSigner(settings.log_origin, private_key).verifier_key


def _give_up(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _progress_bar(*, bar: bool = False) -> Progress:
    """Records done so far and the time taken, on a terminal only; with ``bar``, for a task
    whose total is known, a bar and the time left too."""
    return Progress(
        TextColumn("{task.description}"),
        *((BarColumn(),) if bar else ()),
        MofNCompleteColumn(),
        TextColumn("records"),
        TimeElapsedColumn(),
        *((TimeRemainingColumn(),) if bar else ()),
        console=Console(stderr=True),
        disable=not sys.stderr.isatty(),
        transient=True,
    )


rollups_app = typer.Typer(help="The statistics' rollups: counts the append keeps.")
app.add_typer(rollups_app, name="rollups")


@rollups_app.command("rebuild")
def rebuild_rollups(
    database: Annotated[
        str | None, typer.Option(help="This database (default: AUDITTRAIL_DATABASE_URL).")
    ] = None,
) -> None:
    """Recount the rollups from the records, in one transaction holding the log's lock (writers
    wait for it)."""
    counted = asyncio.run(rollups.rebuild(database or Settings().database_url))
    typer.echo(f"rollups rebuilt from {counted:,} records")


@app.command("seed")
def seed_demo(
    records: Annotated[int, typer.Option(min=generator.MINIMUM, help="How many records to write.")],
    seed: Annotated[
        int | None,
        typer.Option(
            help="Make the data from this seed: the same seed and --until give the same records "
            "(but for their ids). Default: a random one, printed."
        ),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option(
            help="When the history ends (UTC unless an offset is given; not in the future). "
            "Default: now.",
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"],
        ),
    ] = None,
) -> None:
    """Fill an empty database (AUDITTRAIL_DATABASE_URL, migrated first) with realistic demo data:
    applications with their params, and records spread over the last 90 days, in a log that
    `audittrail verify` accepts. Creates no users or API keys: the first start still bootstraps
    the admin. Exits 1, having written nothing, if the log holds records already (a writer
    arriving during the seed ends it too, keeping the whole chunks written before)."""
    if until is not None:
        until = until.replace(tzinfo=until.tzinfo or UTC).astimezone(UTC)
        if until > clock.now():
            _give_up("--until is in the future: the log's time never runs backwards.")
    settings = Settings()
    chosen = seed if seed is not None else secrets.randbelow(1_000_000)
    with _progress_bar(bar=True) as bar:
        task = bar.add_task("seeding", total=records)

        def progress(done: int) -> None:
            bar.advance(task, done)

        try:
            seeded = asyncio.run(
                loader.seed(
                    settings.database_url,
                    count=records,
                    seed=chosen,
                    progress=progress,
                    signer=LogSigner.load(settings.log_origin, settings.log_key_file),
                    until=until,
                )
            )
        except loader.LogNotEmpty as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from None
    typer.echo(
        f"seeded {seeded.records:,} records of {seeded.applications} applications, "
        f"{seeded.start:%Y-%m-%d %H:%M} to {seeded.end:%Y-%m-%d %H:%M} UTC (seed {chosen})"
    )


@app.command("export")
def export_records(
    output: Annotated[
        Path | None,
        typer.Option(
            help="Write the NDJSON or CSV export to this file (CSV: its manifest beside)."
        ),
    ] = None,
    pack: Annotated[
        Path | None, typer.Option(help="Write an evidence pack (a zip) to this file instead.")
    ] = None,
    export_format: Annotated[
        str, typer.Option("--format", help="ndjson or csv, with --output.")
    ] = "ndjson",
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            help="NAME=VALUE, repeatable: any parameter of GET /api/audit-trail/export (the "
            "record list's filters, sort_by, sort_dir, seq_from, seq_to, params_as_columns, bom).",
        ),
    ] = None,
    database: Annotated[
        str | None, typer.Option(help="From this database (default: AUDITTRAIL_DATABASE_URL).")
    ] = None,
) -> None:
    """Export records (docs/export.md) from the database, in this process, as an admin sees them,
    against a checkpoint of the log as it is now; recorded in the log as any export is."""
    if (output is None) == (pack is None):
        raise typer.BadParameter("give one of --output FILE and --pack FILE")
    spelt: dict[str, list[str]] = {"format": ["pack" if pack is not None else export_format]}
    for item in where or []:
        name, equals, value = item.partition("=")
        if not equals or not name or name == "format":
            raise typer.BadParameter(f"--filter takes NAME=VALUE (not format): {item!r}")
        spelt.setdefault(name, []).append(value)
    settings = Settings()
    if database is not None:
        settings = settings.model_copy(update={"database_url": database})
    path = pack if pack is not None else output
    assert path is not None
    try:
        export = asyncio.run(written.export_file(settings, spelt, path))
    except ValidationError as error:
        _give_up(f"bad --filter: {error.errors()[0]['loc'][-1]}: {error.errors()[0]['msg']}")
    except AppError as error:
        _give_up(error.message)
    typer.echo(
        f"exported {export.records:,} records to {path}, taken against the checkpoint of tree "
        f"size {export.snapshot.tree_size}"
    )


@app.command("import")
def import_records(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="An export's NDJSON or CSV file."),
    ],
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Check every line; write nothing (no migration either)."),
    ] = False,
    database: Annotated[
        str | None, typer.Option(help="Into this database (default: AUDITTRAIL_DATABASE_URL).")
    ] = None,
) -> None:
    """Import the records of an export's NDJSON or CSV file (docs/export.md, "Import") in this
    process, as the system. Every line is checked first: a file with any bad line stores nothing
    and exits 1, naming each. Run again on the same, unchanged file (after a failure, a kill),
    it stores nothing twice; exit 2 when it could not finish. --dry-run writes nothing: exit 2
    if the database is not migrated."""
    settings = Settings()
    if database is not None:
        settings = settings.model_copy(update={"database_url": database})
    with _progress_bar(bar=True) as bar:
        checking = bar.add_task("checking", total=None)
        storing = bar.add_task("importing", total=None, visible=False)

        def progress(phase: str, records: int) -> None:
            if phase == "checking":
                bar.advance(checking, records)
                return
            total = bar.tasks[checking].completed
            bar.update(storing, total=total, advance=records, visible=True)

        try:
            imported = asyncio.run(
                imports.import_file(file, settings, dry_run=dry_run, progress=progress)
            )
        except imports.ImportRefused as refused:
            for problem in refused.details:
                typer.echo(f"{problem.field}: {problem.message} ({problem.code})", err=True)
            typer.echo(f"error: {refused.message}", err=True)
            raise typer.Exit(1) from None
        except imports.NotMigrated as error:
            _give_up(error.message)
        except (AppError, SQLAlchemyError, OSError) as error:
            reason = error.message if isinstance(error, AppError) else str(error).partition("\n")[0]
            if dry_run:
                _give_up(f"{reason} (a dry run: nothing was stored)")
            committed = int(bar.tasks[storing].completed)
            _give_up(
                f"{reason} ({committed:,} records of the file were committed before it; "
                "import the same, unchanged file again to finish: its stored records are "
                "replayed, while an edited file is another file and would store them twice)"
            )
    if imported.dry_run:
        typer.echo(f"checked {imported.records:,} records: all fit; nothing stored (dry run)")
        return
    typer.echo(
        f"imported {imported.records:,} records: {imported.stored:,} stored, "
        f"{imported.replayed:,} replayed (imported before), 0 refused"
    )


def _report(audit: LogAudit, rollups_problems: list[rollups.Disagreement] | None) -> None:
    first = audit.first_problem()
    for disagreement in rollups_problems or []:
        typer.echo(
            f"ROLLUPS DISAGREE: {disagreement.table}: {disagreement.missing} rows of a recount "
            f"missing or different, {disagreement.extra} rows no recount gives (audittrail "
            "rollups rebuild recomputes them)",
            err=True,
        )
    if first is None:
        latest = audit.checkpoints[-1].size if audit.checkpoints else 0
        typer.echo(
            f"OK: {audit.size} records, {len(audit.checkpoints)} signed checkpoints "
            f"(latest covers {latest}) verified"
        )
        if rollups_problems == []:
            typer.echo("OK: the rollups agree with a recount of the records")
        if rollups_problems:
            raise typer.Exit(1)
        return
    where = f"seq {first.seq}" if first.seq is not None else "the log"
    typer.echo(f"FAILED at {where}: {first.kind.value}: {first.message}", err=True)
    for problem in audit.problems:
        if problem is not first:
            typer.echo(f"  also {problem}", err=True)
    raise typer.Exit(1)
