"""The landing page: the last 30 days at a glance, the latest signed checkpoint, and the newest
records checked against it. Each part shows for a principal whose scopes reach it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import clock
from audittrail.access import RECORDS_READ, STATS_READ, CurrentPrincipal, Principal, Visibility
from audittrail.db.models import Application, SignedCheckpoint
from audittrail.errors import NotFound
from audittrail.integrity.canonical import record_leaf_hash
from audittrail.integrity.verify import InclusionVerifier, VerificationError, verify_checkpoint
from audittrail.log import service as log
from audittrail.log.replica import FromReplica
from audittrail.log.signer import LogSigner
from audittrail.records import query as q
from audittrail.records import service as records
from audittrail.records.schemas import Severity
from audittrail.records.stats import buckets as b
from audittrail.records.stats import service as stats
from audittrail.records.stats.schemas import Stats
from audittrail.web import charts
from audittrail.web.templating import render
from audittrail.web.views import RecordsLinks, ViewerZone, series_chart, visible_applications

router = APIRouter(include_in_schema=False)

NO_APPLICATION = "(no application)"
DAYS = 30
# The newest records checked on every load: a proof each, so few.
NEWEST = 20


Within = Callable[..., str | None]
"""A link to the records of the days shown, with more filters (None: no link)."""


@dataclass(frozen=True)
class Failure:
    record_id: str | None
    """None: the checkpoint itself failed."""
    seq: int | None
    reason: str


@dataclass(frozen=True)
class Verification:
    checked: int
    """The newest records the checkpoint covers."""
    verified: int
    awaiting: int
    """Newer records: the next checkpoint covers them."""
    failures: list[Failure]


async def verify_newest(
    session: AsyncSession, principal: Principal, checkpoint: SignedCheckpoint, signer: LogSigner
) -> Verification:
    """The newest records the principal may see, checked as an auditor would: the checkpoint's
    signature against the log's key, and each record's leaf hash, recomputed from the record as
    stored, through its inclusion proof to the checkpoint's root.

    The records are read unmasked, for their hashes: their values are never shown."""
    try:
        stated = verify_checkpoint(checkpoint.note, signer.verifier_key, origin=signer.origin)
    except VerificationError as error:
        return Verification(0, 0, 0, [Failure(None, None, f"the checkpoint: {error}")])
    unmasked = Visibility(principal.visibility.application_ids, sees_sensitive=True)
    newest = await records.search(
        session, q.RecordQuery(unmasked), offset=0, limit=NEWEST, counted=False
    )
    covered = sorted((r for r in newest.records if r.seq < stated.size), key=lambda r: r.seq)
    verifier = InclusionVerifier(stated.size, stated.root_hash)
    failures = []
    for record in covered:  # in seq order: neighbours' proofs share their upper levels
        proof = await log.inclusion_proof(
            session, record.id, stated.size, principal.visibility, retry_after=1
        )
        leaf = record_leaf_hash(record.leaf_fields())
        try:
            verifier.verify(record.seq, leaf, proof.inclusion_path)
        except VerificationError as error:
            failures.append(Failure(record.id, record.seq, str(error)))
    return Verification(
        len(covered),
        len(covered) - len(failures),
        len(newest.records) - len(covered),
        failures,
    )


async def log_part(request: Request, session: AsyncSession, principal: Principal) -> dict[str, Any]:
    try:
        checkpoint = await log.latest_checkpoint(session)
    except NotFound:
        return {"checkpoint": None}
    signer: LogSigner = request.app.state.signer
    return {
        "checkpoint": checkpoint,
        "root_hash": log.b64(checkpoint.root_hash),
        "key_name": signer.key_name,
        "verification": await verify_newest(session, principal, checkpoint, signer),
    }


async def counts_part(session: AsyncSession, principal: Principal, tz: str) -> dict[str, Any]:
    """The last DAYS local days: records per day, by severity and by application."""
    zone = b.zone(tz)
    today = clock.now().astimezone(zone).date()
    start = b.midnight(today - timedelta(days=DAYS - 1), zone)
    end = b.midnight(today + timedelta(days=1), zone)
    query = q.RecordQuery(principal.visibility, date_from=start, date_to=end - timedelta.resolution)
    found = await stats.statistics(session, query, bucket=b.Bucket.DAY, tz_name=tz, limit=20)
    links = RecordsLinks({}, query, zone) if principal.holds(RECORDS_READ) else None
    known = {a.key: a for a in await visible_applications(session, principal)}

    def within(**changes: str) -> str | None:
        return links.within(start, end, **changes) if links else None

    return {
        "stats": found,
        "days": series_chart(found.series, b.Bucket.DAY, links),
        "all_link": within(),
        "severities": severity_bars(found, within),
        "applications": application_bars(found, known, within),
        "known": known,
    }


def severity_bars(found: Stats, within: Within) -> list[charts.Share]:
    """Every severity, most severe first."""
    counts = {item.value: item.count for item in found.top.severities.items}

    def href(value: str) -> str | None:
        return within(severities=value) if value in counts else None

    return charts.shares([(s.value, counts.get(s.value, 0), href(s.value)) for s in Severity])


def application_bars(
    found: Stats, known: dict[str, Application], within: Within
) -> list[charts.Share]:
    """The busiest applications, by key; linked by id where the principal may list them."""

    def href(key: str | None) -> str | None:
        if key is None:
            return None
        if key in known:
            return within(application_id=known[key].id)
        return within(application_key=key)

    items = found.top.applications.items
    return charts.shares([(i.value or NO_APPLICATION, i.count, href(i.value)) for i in items])


@router.get("/", response_class=HTMLResponse)
async def dashboard(
    request: Request, principal: CurrentPrincipal, reads: FromReplica, tz: ViewerZone
) -> HTMLResponse:
    """Read from the replica where there is one (log/replica.py), checkpoint and proofs alike:
    a replica's checkpoint covers records it holds."""
    context: dict[str, Any] = {"days_shown": DAYS, "newest": NEWEST, "tz": tz}
    if principal.holds(STATS_READ):
        context["counts"] = await counts_part(reads.session, principal, tz)
    if principal.holds(RECORDS_READ):
        context["log"] = await log_part(request, reads.session, principal)
    return render(request, "dashboard.html", principal, **context)
