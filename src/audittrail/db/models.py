"""The SQLAlchemy models: one metadata for both databases, ids and timestamps made in Python."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    case,
    func,
    literal_column,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column, relationship

from audittrail import clock
from audittrail.db.types import JSONType, UTCDateTime
from audittrail.ids import new_id

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(JSONType)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)


class AuthSession(Base):
    """A signed-in browser or token: the cookie and the access token both point at one row."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    # Noted at most once a minute: idle sessions end (settings.session_idle_seconds).
    last_seen_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(256))


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # Unique forever, revoked keys included: "api_key:<name>" must name one key in every record.
    name: Mapped[str] = mapped_column(String(128), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    # The ids of the applications the key is bound to; NULL: not bound.
    application_ids: Mapped[list[str] | None] = mapped_column(JSONType)
    created_by: Mapped[str | None] = mapped_column(String(320))
    # The user who created it: disabling them revokes it. NULL for the bootstrap key.
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    # After a rotation, the old secret's hash, valid until previous_valid_until (grace period).
    previous_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    previous_valid_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class ParamDefinition(Base):
    __tablename__ = "param_definitions"
    __table_args__ = (UniqueConstraint("application_id", "key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(16))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(String(1024))
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    enum_values: Mapped[list[str] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)


class Application(Base):
    __tablename__ = "applications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(String(1024))
    accent_color: Mapped[str] = mapped_column(String(7))
    allow_unknown_params: Mapped[bool] = mapped_column(Boolean, default=True)
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)
    param_count: Mapped[int] = column_property(
        select(func.count(ParamDefinition.id))
        .where(ParamDefinition.application_id == id)
        .correlate_except(ParamDefinition)
        .scalar_subquery()
    )


class Record(Base):
    """One audit event. Append-only: written once by the sequencer, never updated."""

    __tablename__ = "records"
    __table_args__ = (
        Index("ix_records_created_at_seq", "created_at", "seq"),
        # Each serves its filter with the default order, and the list sorted by it (migration
        # 0007; sort keys: SORT_KEYS below).
        Index("ix_records_event_type_created_at_seq", "event_type", "created_at", "seq"),
        Index("ix_records_category_created_at_seq", "category", "created_at", "seq"),
        Index("ix_records_severity_created_at", "severity", "created_at"),
        Index("ix_records_entity_created_at", "entity_type", "entity_id", "created_at"),
        # An id without its type: through the index above, a scan of all of it (80 ms for 87
        # rows at a million records); through this one, 6 ms.
        Index("ix_records_entity_id_created_at", "entity_id", "created_at"),
        Index("ix_records_application_id_created_at", "application_id", "created_at"),
        Index("ix_records_application_key_created_at", "application_key", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    created_at: Mapped[datetime]
    event_type: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(String(1024))
    severity: Mapped[str] = mapped_column(String(8))
    actor: Mapped[str | None] = mapped_column(String(400))
    application_id: Mapped[str | None] = mapped_column(ForeignKey("applications.id"))
    application_key: Mapped[str | None] = mapped_column(String(64))
    entity_type: Mapped[str | None] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(128))
    params: Mapped[dict[str, Any]]
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    source: Mapped[str] = mapped_column(String(8))
    # Not a field of the record: the Merkle tree's hashes this record's append completed, its
    # leaf hash first (log/tree_store.py); NULL only where the tree lacks them. Loaded on demand.
    tree_hashes: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    # Not a field of the record either: the words full-text search finds it by
    # (search_words.py), written by the append. NULL for records loaded around the service.
    search_text: Mapped[str | None] = mapped_column(Text, deferred=True)

    # viewonly: a record names its application by application_id; loading it is for responses.
    application: Mapped[Application | None] = relationship(lazy="raise", viewonly=True)


# The record list's sort keys that are expressions, spelled with constants rather than bound
# parameters so that a query's expression is the index's (records/query.py): a record without an
# actor sorts as "", severities by rank.
SEVERITY_RANKS = {"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
ACTOR_KEY = func.coalesce(Record.actor, literal_column("''"))
SEVERITY_KEY = case(
    {
        literal_column(f"'{name}'"): literal_column(str(rank))
        for name, rank in SEVERITY_RANKS.items()
    },
    value=Record.severity,
    else_=literal_column("-1"),
)
# PostgreSQL counts an actors filter from this index alone only if it holds the column too: its
# planner does not see that coalesce(actor, '') is all the query needs of actor (280 -> 35 ms).
Index(
    "ix_records_actor_created_at_seq",
    ACTOR_KEY,
    Record.created_at,
    Record.seq,
    postgresql_include=["actor"],
)
Index("ix_records_severity_rank_created_at_seq", SEVERITY_KEY, Record.created_at, Record.seq)

# PostgreSQL's indexes for full text and for params and metadata by value (migration 0007);
# SQLite's full-text index is the FTS5 table records_search, which the models do not describe.
# The words as PostgreSQL's lexemes, taken as they are (search_words.py says why), by the
# function migration 0007 creates.
SEARCH_VECTOR = func.audittrail_words(Record.search_text)
Index("ix_records_search", SEARCH_VECTOR, postgresql_using="gin").ddl_if(dialect="postgresql")
for _column in ("params", "metadata"):
    Index(
        f"ix_records_{_column}",
        Record.__table__.c[_column],
        postgresql_using="gin",
        postgresql_ops={_column: "jsonb_path_ops"},
    ).ddl_if(dialect="postgresql")


# SQLite stores the rollups' rows in their key's order: a range of hours or days is one pass over
# the table itself, not an index and then the table.
WITHOUT_ROWID = {"sqlite_with_rowid": False}


class RollupHour(Base):
    """How many records the log holds per UTC hour and per application, event type, category,
    severity and entity type (log/rollups.py keeps it in the append's transaction). Absent
    values are stored as "" (application, entity type); entity types as "=" + the type, so
    that a record's "" is not its absence."""

    __tablename__ = "rollup_hours"
    __table_args__ = (WITHOUT_ROWID,)

    hour: Mapped[datetime] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(128), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    severity: Mapped[str] = mapped_column(String(8), primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(65), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class RollupApplicationHour(Base):
    """The same counts per UTC hour by application alone: what a series without other filters
    reads (a few rows an hour, against dozens)."""

    __tablename__ = "rollup_application_hours"
    __table_args__ = (WITHOUT_ROWID,)

    hour: Mapped[datetime] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class RollupDay(Base):
    """The same counts per UTC day: what a range of whole days reads."""

    __tablename__ = "rollup_days"
    __table_args__ = (WITHOUT_ROWID,)

    day: Mapped[datetime] = mapped_column(primary_key=True)
    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(128), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    severity: Mapped[str] = mapped_column(String(8), primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(65), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class RollupActor(Base):
    """How many records each actor has in each application (both "" when absent), all time."""

    __tablename__ = "rollup_actors"
    __table_args__ = (WITHOUT_ROWID,)

    actor: Mapped[str] = mapped_column(String(400), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    total: Mapped[int] = mapped_column(BigInteger)


class RollupActorDay(Base):
    """An actor's running total in an application at the end of each UTC day it has records:
    its count over whole days is two lookups, however long the range (docs/stats.md)."""

    __tablename__ = "rollup_actor_days"
    __table_args__ = (WITHOUT_ROWID,)

    actor: Mapped[str] = mapped_column(String(400), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    day: Mapped[datetime] = mapped_column(primary_key=True)
    total: Mapped[int] = mapped_column(BigInteger)


class RollupActorKind(Base):
    """How many records each actor has of each application, event type, category, severity and
    entity type (stored as in rollup_hours), all time: for actors under those filters."""

    __tablename__ = "rollup_actor_kinds"
    __table_args__ = (WITHOUT_ROWID,)

    actor: Mapped[str] = mapped_column(String(400), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(128), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    severity: Mapped[str] = mapped_column(String(8), primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(65), primary_key=True)
    total: Mapped[int] = mapped_column(BigInteger)


class RollupActorKindDay(Base):
    """Those counts' running totals at the end of each UTC day with records (as
    rollup_actor_days)."""

    __tablename__ = "rollup_actor_kind_days"
    __table_args__ = (WITHOUT_ROWID,)

    actor: Mapped[str] = mapped_column(String(400), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(128), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    severity: Mapped[str] = mapped_column(String(8), primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(65), primary_key=True)
    day: Mapped[datetime] = mapped_column(primary_key=True)
    total: Mapped[int] = mapped_column(BigInteger)


class LogHead(Base):
    """The single row that serialises appends: its lock orders every batch, across processes."""

    __tablename__ = "log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    last_created_at: Mapped[datetime | None]
    # Bumped with every system record, which every change to credentials, users, applications
    # or param definitions leaves: what was checked against version V still holds while the
    # head says V (records/intake.py).
    registry_version: Mapped[int] = mapped_column(BigInteger, server_default="0")


class SignedCheckpoint(Base):
    """A signed note "the log had tree_size records and this root". Every one is kept."""

    __tablename__ = "checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text)


class IdempotencyKey(Base):
    """A client's Idempotency-Key, kept for good with the record it created. Append-only.

    Scoped per application (per credential for records without one), so two applications can
    use the same keys without meeting.
    """

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class ExportJob(Base):
    """An export written to a file in the background (records/export/job_runner.py). State, not
    log: its row changes as the job runs, and its file is removed once it expires."""

    __tablename__ = "export_jobs"
    __table_args__ = (
        # The runner's: the next queued job, running ones gone quiet, done ones expiring.
        Index("ix_export_jobs_status_created_at", "status", "created_at"),
        # A caller's own jobs, newest first.
        Index("ix_export_jobs_owner_created_at", "owner", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # Who made it (an actor, as records name them), and what they could see then: the job runs
    # with the rights of its maker at its making.
    owner: Mapped[str] = mapped_column(String(400))
    application_ids: Mapped[list[str] | None] = mapped_column(JSONType)
    sees_sensitive: Mapped[bool] = mapped_column(Boolean)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    format: Mapped[str] = mapped_column(String(8))
    # The filters as given (what the manifest states), and every export parameter as the
    # request spelt it: parsed again, by the same declarations, when the job runs.
    filters: Mapped[dict[str, Any]]
    parameters: Mapped[dict[str, Any]]
    # The signed checkpoint it is taken against, pinned when it is made: a job run again
    # writes the same records.
    tree_size: Mapped[int] = mapped_column(BigInteger)
    estimated_total: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(8))
    records_written: Mapped[int] = mapped_column(BigInteger, default=0)
    # The process running it: each claim's own token, and when it last said it is alive.
    runner: Mapped[str | None] = mapped_column(String(36))
    heartbeat_at: Mapped[datetime | None]
    # Its file's name in settings.export_directory (its manifest: <id>.manifest.txt beside it).
    file_name: Mapped[str] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
