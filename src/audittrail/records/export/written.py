"""An export written to a file, by a job or by `audittrail export`; and the command's export,
run in its own process against the database."""

from __future__ import annotations

import zipfile
from pathlib import Path

import orjson

from audittrail.access import Visibility
from audittrail.config import Settings
from audittrail.db.engine import Database
from audittrail.errors import Unprocessable
from audittrail.integrity.pack import MANIFEST
from audittrail.log import checkpointer
from audittrail.log.append import append
from audittrail.log.signer import LogSigner
from audittrail.records.export import pack, parameters
from audittrail.records.export.formats import Format
from audittrail.records.export.service import Export
from audittrail.records.export.snapshot import covering, pinned
from audittrail.records.query import MAX_SEQ

# Who the command's exports are recorded as: whoever runs it holds the database's credentials.
COMMAND_LINE = "system:command-line"


async def write(export: Export, database: Database, signer: LogSigner, path: Path) -> str:
    """Write the export's file; its signed manifest."""
    if export.request.format is Format.PACK:
        await pack.write(export, database, signer, path)
        with zipfile.ZipFile(path) as done:
            return done.read(MANIFEST).decode()
    with path.open("wb") as out:
        async for chunk in export.data(database):
            out.write(chunk)
        if export.request.format is Format.CSV:
            return export.manifest(signer)
        line = export.manifest_line(signer)
        out.write(line)
    manifest: str = orjson.loads(line)["manifest"]
    return manifest


async def export_file(settings: Settings, spelt: dict[str, list[str]], path: Path) -> Export:
    """Export from the database to a file, as an admin sees the records, against a checkpoint
    of the log as it is now (signed here if the server has not yet: none may be running), or
    the one of `tree_size`, and record it. The manifest of a CSV file is written beside it, as
    <file>.manifest.txt. 422 for a parameter no export takes."""
    pinned_size = spelt.pop("tree_size", [None])[-1]
    strange = parameters.unknown(spelt)
    if strange:
        raise Unprocessable(f"No export takes {', '.join(strange)}.", code="UNKNOWN_PARAMETER")
    wanted = parameters.parsed_again(
        spelt, Visibility(None, sees_sensitive=True), COMMAND_LINE, parameters.stated(spelt)
    )
    signer = LogSigner.load(settings.log_origin, settings.log_key_file)
    database = Database.connect(settings.database_url, pool_size=2)
    try:
        if pinned_size is not None:
            snapshot = await pinned(database, _size(pinned_size))
        else:
            await checkpointer.checkpoint_head(database, signer)
            snapshot = await covering(database, settings.checkpoint_interval)
        export = Export(wanted, snapshot)
        await export.start(database)
        manifest = await write(export, database, signer, path)
        if wanted.format is Format.CSV:
            path.with_name(path.name + ".manifest.txt").write_text(manifest)
        async with database.write_session() as session:
            await append(session, [export.record(None)])
        return export
    finally:
        await database.dispose()


def _size(text: str) -> int:
    if not text.isdigit() or int(text) > MAX_SEQ:
        raise Unprocessable(f"tree_size {text!r} is not a tree size.", code="INVALID_TREE_SIZE")
    return int(text)
