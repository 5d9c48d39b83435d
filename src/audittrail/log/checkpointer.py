"""Signs a checkpoint of the log head at most once per interval per log, whatever the number of
processes, while the log grows.

Every process runs this loop; one signs at a time. The turn is taken inside the transaction
that adds the checkpoint: on PostgreSQL a transaction-scoped advisory lock, tried and not waited
for (whoever holds it is signing now, so there is nothing left to do); on SQLite the writer's
BEGIN IMMEDIATE, the database's one write lock. Holding the turn, a process reads the latest
checkpoint again and signs only if the head has grown past it and it is at least an interval
old: so the log gets at most one checkpoint per interval, and every process serves the same
latest one (it is read from the database, never kept per process). The interval is measured on
the clock of whoever signs: several hosts on one database need their clocks kept in step (NTP),
as a log's readers expect anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from datetime import timedelta

import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import clock
from audittrail.db.engine import Database
from audittrail.log import head as log_head
from audittrail.log import repository as repo
from audittrail.log.signer import LogSigner

log = structlog.get_logger(__name__)

# The advisory lock's key on PostgreSQL: any constant no other code of the database uses; the
# first eight bytes of this name's SHA-256, as the signed bigint the function takes.
SIGNER_LOCK = int.from_bytes(
    hashlib.sha256(b"audittrail checkpoint signer").digest()[:8], "big", signed=True
)
_TRY_SIGNER_LOCK = text("SELECT pg_try_advisory_xact_lock(:key)").bindparams(key=SIGNER_LOCK)


async def checkpoint_head(
    database: Database, signer: LogSigner, *, interval: float = 0.0
) -> int | None:
    """Sign the current head if no checkpoint covers it yet and the latest is at least
    ``interval`` seconds old; the new checkpoint's size, if one was signed here."""
    async with database.read_session() as session:  # most rounds end here, taking no lock
        head = await log_head.read(session)
        latest = await repo.latest_checkpoint_size(session)
    if latest is not None and latest >= head.size:
        return None
    try:
        async with database.write_session() as session:
            if not await _signing_turn(session):
                return None
            return await _sign_if_due(session, signer, interval)
    except IntegrityError:  # a checkpoint of this size added by a process of an older release
        return None


async def _signing_turn(session: AsyncSession) -> bool:
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        return True  # the write session's BEGIN IMMEDIATE is the turn
    return bool((await connection.execute(_TRY_SIGNER_LOCK)).scalar_one())


async def _sign_if_due(session: AsyncSession, signer: LogSigner, interval: float) -> int | None:
    head = await log_head.read(session)
    latest = await repo.latest_checkpoint(session)
    now = clock.now()
    if latest is not None:
        if latest.tree_size >= head.size:
            return None
        if now - latest.created_at < timedelta(seconds=interval):
            return None
    note = signer.sign(head.size, head.root_hash)
    await repo.add_checkpoint(session, head.size, head.root_hash, note, now)
    return head.size


class ForeignSigner(Exception):
    """The configured key or origin did not sign this log's checkpoints."""


async def check_signer(database: Database, signer: LogSigner, *, replaced: bool = False) -> None:
    """Refuse to serve a log whose latest checkpoint this signer cannot have signed, unless the
    key was ``replaced`` on purpose (then it is only logged).

    A host started without the deployment's key file would make a key of its own and sign the
    shared log with it (and a changed origin names another log): every verifier holding the
    published key would then reject the log's new checkpoints. Better not to start.
    """
    async with database.read_session() as session:
        latest = await repo.latest_checkpoint(session)
    problem = None if latest is None else signer.disowns(latest.note)
    if problem is None:
        return
    if replaced:
        log.warning("the log key was replaced", error=problem)
        return
    raise ForeignSigner(
        "The log's checkpoints were not signed with this key and origin "
        f"(AUDITTRAIL_LOG_KEY_FILE, AUDITTRAIL_LOG_ORIGIN): {problem}. Give every process the "
        "deployment's key file and origin, or, to replace the key on purpose, set "
        "AUDITTRAIL_LOG_KEY_REPLACED=true for one start (docs/operations.md, Rotate keys)."
    )


async def last_round(database: Database, signer: LogSigner) -> None:
    """At a clean stop: cover what this process committed, due or not, so that a stop never
    leaves acknowledged records without a checkpoint (the one exception to one checkpoint per
    interval: a stop's, at most one per process and stop). A database away is logged, not
    raised: the next start, or another process, signs them."""
    try:
        await checkpoint_head(database, signer)
    except (DBAPIError, OSError) as error:
        log.warning("no checkpoint at shutdown", error=str(error).splitlines()[0])


async def run(database: Database, signer: LogSigner, interval: float, stop: asyncio.Event) -> None:
    """Until ``stop`` is set: checkpoint when due, wait an interval, repeat. A failure is logged
    and retried next round. Stopped by the event, never cancelled, so a round always ends its
    transaction itself (a cancelled one could leave SQLite's write lock taken)."""
    while not stop.is_set():
        try:
            await checkpoint_head(database, signer, interval=interval)
        except (DBAPIError, OSError) as error:  # the database is away: expected, say it briefly
            log.warning(
                "checkpoint skipped: database unavailable", error=str(error).splitlines()[0]
            )
        except Exception:
            log.exception("checkpoint failed; retrying", interval=interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
