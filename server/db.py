"""The central server's database: what the boxes reported, which boxes exist, the catalogues.

One schema for SQLite (a small province, tests, a laptop) and PostgreSQL (the national
server), written with SQLAlchemy 2.x and created only through the Alembic migrations in
server/migrations/ (`upgrade_database(url)`), never with `create_all`, so a database made
today and one made a year ago end up with the same tables.

The web console reads these models; the ingestion worker (server/ingest.py) writes events,
turns, acks and box status; the statistics (server/stats.py) are plain SQL over them:
  - one `Event` row per conversation, one `Turn` row per thing the villager said, with the
    day (Vietnam time), province and commune copied onto the turn, so "questions about
    procedure X in province Y last month" needs no join;
  - `ProcedureField` maps a procedure code to its field (lĩnh vực) and name, refreshed from
    every catalogue stored, so "statistics per field" is one join.
Timestamps are stored in UTC (timezone-aware in Python); `local_date` is the day in
Vietnam (UTC+7, no daylight saving), the day an official counts in.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    create_engine,
    event,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VIETNAM_OFFSET = timedelta(hours=7)  # Asia/Ho_Chi_Minh: UTC+7 all year

ROLES = ("central", "province", "commune")
# Turn actions (device/dialogue.py) that are a villager's question the box tried to place.
QUESTION_ACTIONS = ("answer", "menu", "clarify", "not_found", "referral")
# Turns where the box told about a procedure: what "asked about procedure X" counts.
ANSWER_ACTIONS = ("answer", "menu")
NOT_UNDERSTOOD_ACTION = "not_found"


def utc(moment: datetime) -> datetime:
    """A timezone-aware datetime in UTC (naive ones are refused: their zone is a guess)."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def local_date_of(moment: datetime) -> date:
    """The day in Vietnam of a moment."""
    return (utc(moment) + VIETNAM_OFFSET).date()


class UtcDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on every backend (SQLite has no zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        value = utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JsonDoc = JSON().with_variant(postgresql.JSONB(), "postgresql")
# SQLite only auto-numbers an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Device(Base):
    """A box. `enrolled_at` is None for a box the server heard from before it was enrolled
    (the broker let it in, so it has an account; the console shows it for an admin to
    confirm). `retired_at` set: the box is gone and left out of presence counts."""

    __tablename__ = "devices"

    device_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    province: Mapped[str] = mapped_column(String(2), index=True)
    commune: Mapped[str] = mapped_column(String(5), index=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    first_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    enrolled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # any message
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_status_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # status received
    status_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # its "at" field
    software_version: Mapped[str | None] = mapped_column(String(100))
    catalogue_version: Mapped[int | None] = mapped_column(Integer)
    health: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    queue_depth: Mapped[int | None] = mapped_column(Integer)
    dropped_events: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)

    @property
    def enrolled(self) -> bool:
        return self.enrolled_at is not None


class Event(Base):
    """One conversation reported by a box (`hoixa.event/1`), counted once per event_id.
    Province and commune are the topic's (the broker's ACL lets a box publish only under
    its own place), kept on the row so a box moved later does not move its history."""

    __tablename__ = "events"
    __table_args__ = (
        Index(None, "local_date"),
        Index(None, "province", "local_date"),
        Index(None, "commune", "local_date"),
        Index(None, "device_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id"))
    province: Mapped[str] = mapped_column(String(2))
    commune: Mapped[str] = mapped_column(String(5))
    session_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime)
    local_date: Mapped[date] = mapped_column(Date)
    software_version: Mapped[str | None] = mapped_column(String(100))
    catalogue_version: Mapped[int] = mapped_column(Integer)
    termination: Mapped[str] = mapped_column(String(20))
    satisfaction: Mapped[str | None] = mapped_column(String(20))
    satisfaction_by: Mapped[str | None] = mapped_column(String(20))
    dropped_before: Mapped[int] = mapped_column(Integer, default=0)
    turn_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    raw: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)


class Turn(Base):
    """One thing the villager said and what the box did with it. `heard` is only there for
    questions not understood, and only when the box's privacy setting allows it;
    `heard_key` is its normalised spelling, so equal questions group in SQL."""

    __tablename__ = "turns"
    __table_args__ = (
        Index(None, "local_date", "action"),
        Index(None, "province", "local_date"),
        Index(None, "commune", "local_date"),
        Index(None, "procedure_code", "local_date"),
    )

    event_pk: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    turn_index: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    local_date: Mapped[date] = mapped_column(Date)
    province: Mapped[str] = mapped_column(String(2))
    commune: Mapped[str] = mapped_column(String(5))
    action: Mapped[str] = mapped_column(String(40))
    procedure_code: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(20))
    confidence: Mapped[float | None] = mapped_column(Float)
    asr_confidence: Mapped[float | None] = mapped_column(Float)
    heard: Mapped[str | None] = mapped_column(String(500))
    heard_key: Mapped[str | None] = mapped_column(String(500))
    audio_problem: Mapped[str | None] = mapped_column(String(40))
    latency_asr_final_ms: Mapped[float | None] = mapped_column(Float)
    latency_match_ms: Mapped[float | None] = mapped_column(Float)
    latency_first_audio_ms: Mapped[float | None] = mapped_column(Float)
    latency_total_ms: Mapped[float | None] = mapped_column(Float)


class DailyDevice(Base):
    """Per Vietnam day and box: the sums the dashboard shows, kept up to date by the worker
    in the same transaction as the events (only events stored for the first time count).
    A year has at most boxes × days rows whatever the number of conversations, so
    country-wide figures stay fast as usage grows."""

    __tablename__ = "daily_devices"
    __table_args__ = (
        Index(None, "province", "local_date"),
        Index(None, "commune", "local_date"),
    )

    local_date: Mapped[date] = mapped_column(Date, primary_key=True)
    province: Mapped[str] = mapped_column(String(2), primary_key=True)
    commune: Mapped[str] = mapped_column(String(5), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    conversations: Mapped[int] = mapped_column(Integer, default=0)
    questions: Mapped[int] = mapped_column(Integer, default=0)
    not_understood: Mapped[int] = mapped_column(Integer, default=0)
    satisfied: Mapped[int] = mapped_column(Integer, default=0)
    unsatisfied: Mapped[int] = mapped_column(Integer, default=0)
    no_answer: Mapped[int] = mapped_column(Integer, default=0)


class DailyProcedure(Base):
    """Per Vietnam day, province and procedure: questions that told about it and the
    conversations they were in (kept like DailyDevice; bounded by days × provinces ×
    procedures). Per commune the statistics read the turns, which one commune keeps few of."""

    __tablename__ = "daily_procedures"
    __table_args__ = (Index(None, "province", "local_date"),)

    local_date: Mapped[date] = mapped_column(Date, primary_key=True)
    province: Mapped[str] = mapped_column(String(2), primary_key=True)
    procedure_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    questions: Mapped[int] = mapped_column(Integer, default=0)
    conversations: Mapped[int] = mapped_column(Integer, default=0)


class Ack(Base):
    """A box's answer to a catalogue manifest. The same ack delivered twice (at-least-once)
    is stored once: the unique key is everything the box said, including its clock."""

    __tablename__ = "acks"
    __table_args__ = (
        UniqueConstraint("device_id", "scope", "version", "kind", "result", "at"),
        Index(None, "scope", "version"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id"))
    scope: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20), default="update")
    result: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(500))
    catalogue_version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CatalogueVersion(Base):
    """A catalogue as the central office issued it; `published_at` once it is on the broker."""

    __tablename__ = "catalogue_versions"

    scope: Mapped[str] = mapped_column(String(20), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str | None] = mapped_column(String(100))
    content: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    stored_at: Mapped[datetime] = mapped_column(UtcDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ProcedureField(Base):
    """Procedure code → field (lĩnh vực) and name, from the latest catalogue that has it."""

    __tablename__ = "procedure_fields"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    field: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(20))
    catalogue_version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class User(Base):
    """A console account: central sees everything, province its province, commune its commune."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLES!r}", name="role"),
        CheckConstraint(
            "(role = 'central') OR (role = 'province' AND province IS NOT NULL) "
            "OR (role = 'commune' AND province IS NOT NULL AND commune IS NOT NULL)",
            name="place_for_role",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    province: Mapped[str | None] = mapped_column(String(2))
    commune: Mapped[str | None] = mapped_column(String(5))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class IngestCounter(Base):
    """The ingestion worker's running totals ("received", "stored", "duplicates",
    "malformed", "malformed.<reason>", …), written in the same transaction as the data
    they count, so they stay exact across crashes."""

    __tablename__ = "ingest_counters"

    kind: Mapped[str] = mapped_column(String(80), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


# -- engines, sessions, migrations ---------------------------------------------------------


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # the console reads while the worker writes
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across a crash of
    cursor.execute("PRAGMA busy_timeout=10000")  # the process (not of the OS)
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB instead of 2: the dashboard's sums
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings this schema expects (SQLite: foreign keys, WAL)."""
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextlib.contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on any exception."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def alembic_config(url: str | None = None, connection: Connection | None = None):
    """Alembic's configuration, built in code (no alembic.ini): the migrations folder, and
    either a URL or an open connection to run on."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")  # version_locations split on os.pathsep
    config.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    if url is not None:
        config.attributes["url"] = url  # not set_main_option: a '%' in a password breaks it
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_database(url: str | Engine, revision: str = "head") -> None:
    """Create or bring the schema up to `revision`; running it again changes nothing."""
    from alembic import command

    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection=connection), revision)
    finally:
        if not isinstance(url, Engine):
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


# -- writing helpers shared by the worker and the console ----------------------------------


def dialect_insert(session_or_bind: Session | Engine | Connection, table):
    """INSERT with ON CONFLICT support for the backend in use (SQLite or PostgreSQL)."""
    bind = session_or_bind.get_bind() if isinstance(session_or_bind, Session) else session_or_bind
    name = bind.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no ON CONFLICT insert for {name}")


def add_to_counters(session: Session, amounts: dict[str, int]) -> None:
    """counter += amount for each kind, creating missing counters (safe with several workers)."""
    now = utc_now()  # sorted: several workers lock the same rows in the same order
    rows = [{"kind": k, "count": n, "updated_at": now} for k, n in sorted(amounts.items()) if n]
    if not rows:
        return
    stmt = dialect_insert(session, IngestCounter)
    stmt = stmt.on_conflict_do_update(
        index_elements=["kind"],
        set_={
            "count": IngestCounter.count + stmt.excluded.count,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    session.execute(stmt, rows)


def counters(session: Session) -> dict[str, int]:
    return {
        kind: count
        for kind, count in session.execute(select(IngestCounter.kind, IngestCounter.count))
    }


def enrol_device(
    session: Session,
    device_id: str,
    province: str,
    commune: str,
    display_name: str | None = None,
    at: datetime | None = None,
) -> Device:
    """Register a box, or confirm one the server already heard from (keeps its history)."""
    device = session.get(Device, device_id)
    if device is None:
        device = Device(device_id=device_id, online=False)
        session.add(device)
    device.province, device.commune = province, commune
    device.display_name = display_name
    device.enrolled_at = at or utc_now()
    device.retired_at = None
    return device


def store_catalogue_version(
    session: Session,
    content: dict[str, Any],
    *,
    created_by: str | None = None,
    manifest: dict[str, Any] | None = None,
    published_at: datetime | None = None,
) -> CatalogueVersion:
    """Keep a catalogue (validated elsewhere) and refresh procedure → field from it."""
    now = utc_now()
    scope, version = content["scope"], int(content["version"])
    issued_at = datetime.fromisoformat(content["issued_at"].replace("Z", "+00:00"))
    row = session.get(CatalogueVersion, (scope, version))
    if row is None:
        row = CatalogueVersion(scope=scope, version=version, stored_at=now)
        session.add(row)
    row.issued_at, row.created_by, row.content = issued_at, created_by, content
    row.manifest, row.published_at = manifest, published_at
    by_code = {
        p["code"]: {
            "code": p["code"],
            "field": p["field"],
            "name": p["name"],
            "scope": scope,
            "catalogue_version": version,
            "updated_at": now,
        }
        for p in content.get("procedures", [])
    }
    mapping = [by_code[code] for code in sorted(by_code)]
    if mapping:
        stmt = dialect_insert(session, ProcedureField)
        stmt = stmt.on_conflict_do_update(
            index_elements=["code"],
            set_={
                key: getattr(stmt.excluded, key)
                for key in ("field", "name", "scope", "catalogue_version", "updated_at")
            },
        )
        session.execute(stmt, mapping)
    return row
