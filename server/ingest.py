"""The ingestion worker: every box's events, status and acks, from the broker into the database.

    worker = IngestWorker("postgresql+psycopg://…", "broker.example", 8883,
                          username="hoixa-server", password=…, client_id="ingest-1").start()
    …; worker.stop()
    python -m hoixa.server.ingest --database URL --host H --port P --client-id ingest-1

Guarantees (docs/server-database.md):
  - Nothing acknowledged is lost. Messages are QoS 1 and paho runs with `manual_ack=True`:
    a message is acknowledged to the broker only after the transaction holding it has
    committed. A worker killed at any moment leaves its unacknowledged messages in its
    persistent broker session (fixed client id, clean_start=False, session expiry), and the
    broker sends them again when the worker (same client id) comes back.
  - Nothing is counted twice: an event is stored once per event_id (INSERT … ON CONFLICT DO
    NOTHING), an ack once per (device, scope, version, kind, result, at). Redeliveries are
    counted as duplicates.
  - A bad message never stops the worker: it is logged with its reason, counted in
    `ingest_counters` ("malformed", "malformed.<reason>") and acknowledged, so the broker
    does not send it again.
  - Several workers can share the load: they subscribe to the same MQTT 5 shared
    subscriptions (`$share/<group>/…`); each needs its own stable client id.

One gap, measured on Mosquitto 2.0.11: a broker restart does not restore shared
subscriptions from its persistence file (plain ones it does). Until the worker reconnects
and subscribes again, events the boxes publish are acknowledged to them and delivered to
nobody. `group=None` (`--direct`) subscribes without sharing, so the subscription survives
a broker restart; several such workers split the load by province (`provinces=[…]`).

A box the database does not know yet is created as unenrolled (`Device.enrolled_at` is None)
with the place from its topic, and its data is kept: the broker only let it publish there
because it has an account, so dropping its reports would lose real usage; the console lists
unenrolled boxes for an admin to confirm.

Writes are batched: up to `batch_size` messages (1,000) or `batch_interval_s` (0.2 s) after
the first one, whichever comes first, in one transaction. The broker lets `receive_maximum`
messages wait unacknowledged, which must be well above the batch size.
"""

from __future__ import annotations

import argparse
import json
import logging
import operator
import os
import queue
import signal
import socket
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import JSON, Date, Uuid, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from hoixa.contract import messages, topics
from hoixa.server import db
from hoixa.vietnamese import normalize

log = logging.getLogger(__name__)

SCHEMA_BY_KIND = {"events": "hoixa.event/1", "status": "hoixa.status/1", "ack": "hoixa.ack/1"}
HEALTH_KEYS = (
    "reason",
    "uptime_s",
    "disk_free_mb",
    "cpu_temp_c",
    "microphone_ok",
    "speaker_ok",
    "asr",
    "tts",
)
LATENCY_COLUMNS = {
    "asr_final": "latency_asr_final_ms",
    "match": "latency_match_ms",
    "first_audio": "latency_first_audio_ms",
    "total": "latency_total_ms",
}
DEFAULT_SESSION_EXPIRY_S = 7 * 24 * 3600  # a worker down for a week still finds its queue
# 1,000 rather than 500: half the commits, and the per-batch statements (device last-seen,
# daily sums, counters) cover twice the events; on PostgreSQL about 15 % more events/s
# (docs/server-database.md). Keep it well under the receive maximum (5,000).
DEFAULT_BATCH_SIZE = 1000
RETRY_DELAYS_S = (0.2, 0.5, 1, 2, 5, 10)


class Malformed(ValueError):
    """A message to refuse; `reason` is a short class name for the counters."""

    def __init__(self, reason: str, detail: str):
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason}: {detail}")


# -- decoding -------------------------------------------------------------------------------


@cache
def _fast_validator(schema_id: str) -> Callable[[Any], bool] | None:
    """A compiled validator for the contract's schema (jsonschema-rs, about 300 times faster
    than the pure-Python one), or None when it is not installed."""
    try:
        import jsonschema_rs
    except ImportError:
        log.warning("jsonschema-rs is not installed: validating in pure Python (slow)")
        return None
    path = resources.files("hoixa.contract").joinpath("schemas", messages.KINDS[schema_id])
    schema = json.loads(path.read_text("utf-8"))
    return jsonschema_rs.validator_for(schema, validate_formats=True).is_valid


def decode(data: bytes, expected: str, max_bytes: int = messages.MAX_PAYLOAD_BYTES) -> dict:
    """Parse and validate a payload exactly as `messages.decode` judges it.

    The fast validator only ever says yes quicker: whatever it refuses goes to the
    contract's own validator, which decides and gives the reason (tests check that the
    fast one never accepts what the contract refuses)."""
    if len(data) > max_bytes:
        raise Malformed("oversized", f"{len(data)} bytes, over the {max_bytes}-byte limit")
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise Malformed("not_utf8", "payload is not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise Malformed("not_json", f"{exc.msg} at {exc.pos}") from exc
    fast = _fast_validator(expected)
    if fast is not None and isinstance(doc, dict) and fast(doc):
        return doc
    try:
        return messages.validate(doc, expected)
    except messages.PayloadError as exc:
        raise Malformed("schema", exc.reason) from exc


def _without_nul(value: Any) -> Any:
    """PostgreSQL stores no NUL character in text or JSONB; JSON allows it ("\\u0000")."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {k.replace("\x00", ""): _without_nul(v) for k, v in value.items()}
    return value


MAX_INT = 2**31 - 1  # INTEGER columns; the schemas set no upper bound


def check_int(value: int, name: str) -> int:
    if value > MAX_INT:
        raise Malformed("bad_value", f"{name} {value} is out of range")
    return value


def parse_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise Malformed("bad_value", f"not a timestamp: {text[:40]!r}") from exc


def event_rows(doc: dict, place: topics.DevicePlace, received_at: datetime) -> tuple[dict, list]:
    """The events row and its turns' rows (without event_pk) of a valid event payload."""
    started = parse_time(doc["started_at"])
    try:
        event_id, session_id = uuid.UUID(doc["event_id"]), uuid.UUID(doc["session_id"])
    except ValueError as exc:
        raise Malformed("bad_value", "event_id or session_id is not a UUID") from exc
    local_date = db.local_date_of(started)
    row = {
        "event_id": event_id,
        "device_id": place.device_id,
        "province": place.province,
        "commune": place.commune,
        "session_id": session_id,
        "started_at": started,
        "ended_at": parse_time(doc["ended_at"]),
        "local_date": local_date,
        "software_version": (doc.get("software_version") or "")[:100] or None,
        "catalogue_version": check_int(doc["catalogue_version"], "catalogue_version"),
        "termination": doc["termination"],
        "satisfaction": doc.get("satisfaction"),
        "satisfaction_by": doc.get("satisfaction_by"),
        "dropped_before": check_int(doc.get("dropped_before", 0), "dropped_before"),
        "turn_count": len(doc["turns"]),
        "received_at": received_at,
        "raw": doc,
    }
    turns = []
    for index, turn in enumerate(doc["turns"]):
        heard = turn.get("heard")
        latency = turn.get("latency_ms") or {}
        turns.append(
            {
                "turn_index": index,
                "local_date": local_date,
                "province": place.province,
                "commune": place.commune,
                "action": turn["action"],
                "procedure_code": turn.get("procedure"),
                "category": turn.get("category"),
                "confidence": turn.get("confidence"),
                "asr_confidence": turn.get("asr_confidence"),
                "heard": heard,
                "heard_key": (normalize(heard) or None) if heard else None,
                "audio_problem": turn.get("audio_problem"),
                **{column: latency.get(key) for key, column in LATENCY_COLUMNS.items()},
            }
        )
    return row, turns


# -- the batch ------------------------------------------------------------------------------


@dataclass
class Incoming:
    """One MQTT message as paho handed it over, not yet acknowledged."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int  # which connection it came on: only those of the current one are acked
    received_at: datetime


@dataclass
class Parsed:
    """A valid message and what it becomes: (event row, turn rows), an ack row, or the
    status's own clock."""

    message: Incoming
    place: topics.DevicePlace
    kind: str
    doc: dict
    prepared: Any = None


@dataclass
class BatchResult:
    counts: Counter = field(default_factory=Counter)
    new_devices: set[str] = field(default_factory=set)


def parse(message: Incoming, max_bytes: int) -> Parsed:
    try:
        place, kind = topics.parse_device_topic(message.topic)
    except topics.TopicError as exc:
        raise Malformed("bad_topic", str(exc)) from exc
    doc = decode(message.payload, SCHEMA_BY_KIND[kind], max_bytes)
    if doc["device_id"] != place.device_id:
        raise Malformed(
            "device_mismatch",
            f"payload says {doc['device_id'][:63]!r}, topic says {place.device_id!r}",
        )
    had_nul = b"\\u0000" in message.payload
    if had_nul:
        doc = _without_nul(doc)
    if kind == "events":
        prepared: Any = event_rows(doc, place, message.received_at)
        # The payload as received is the JSON to keep: no need to serialise it again.
        prepared[0]["raw"] = doc if had_nul else message.payload.decode("utf-8")
    elif kind == "ack":
        prepared = ack_row(doc, place, message.received_at)
    else:
        for key in ("catalogue_version", "queue_depth", "dropped_events"):
            if key in doc:
                check_int(doc[key], key)
        prepared = parse_time(doc["at"]) if "at" in doc else None
    return Parsed(message, place, kind, doc, prepared)


def ack_row(doc: dict, place: topics.DevicePlace, received_at: datetime) -> dict:
    return {
        "device_id": place.device_id,
        "scope": doc["scope"],
        "version": check_int(doc["version"], "version"),
        "kind": doc.get("kind") or "update",
        "result": doc["result"],
        "reason": doc.get("reason"),
        "catalogue_version": check_int(doc["catalogue_version"], "catalogue_version"),
        "at": parse_time(doc["at"]),
        "received_at": received_at,
    }


def write_batch(session: Session, items: list[Parsed], known_devices: set[str]) -> BatchResult:
    """Store one batch of valid messages; the caller commits (or rolls back) the session."""
    result = BatchResult()
    _ensure_devices(session, items, known_devices, result)
    _store_events(session, [p for p in items if p.kind == "events"], result)
    _apply_statuses(session, [p for p in items if p.kind == "status"], result)
    _store_acks(session, [p for p in items if p.kind == "ack"], result)
    _touch_last_seen(session, items)
    return result


def _ensure_devices(
    session: Session, items: list[Parsed], known: set[str], result: BatchResult
) -> None:
    places = {p.place.device_id: p for p in items if p.place.device_id not in known}
    if not places:
        return
    rows = [
        {
            "device_id": device_id,
            "province": places[device_id].place.province,
            "commune": places[device_id].place.commune,
            "first_seen_at": places[device_id].message.received_at,
            "online": False,
        }
        for device_id in sorted(places)
    ]
    stmt = db.dialect_insert(session, db.Device.__table__).on_conflict_do_nothing(
        index_elements=["device_id"]
    )
    created = session.execute(stmt.returning(db.Device.__table__.c.device_id), rows).all()
    result.counts["devices.created"] += len(created)
    for (device_id,) in created:
        log.info("box %s is not enrolled: created it as unenrolled", device_id)
    result.new_devices.update(places)


def _store_events(session: Session, items: list[Parsed], result: BatchResult) -> None:
    rows, turns_by_id = [], {}
    for p in items:
        row, turns = p.prepared
        if row["event_id"] in turns_by_id:  # the same event twice in one batch
            result.counts["duplicates"] += 1
            continue
        rows.append(row)
        turns_by_id[row["event_id"]] = turns
    if not rows:
        return
    rows.sort(key=lambda r: r["event_id"])  # a fixed lock order for concurrent workers
    connection = session.connection()
    dialect = connection.dialect.name
    cursor = connection.connection.cursor()
    try:
        inserted = _EVENT_INSERT[dialect].execute(cursor, rows)
        result.counts["stored"] += len(inserted)
        result.counts["duplicates"] += len(rows) - len(inserted)
        # SQLite hands the ids back as the hex text it stores
        key = (lambda v: v.hex) if dialect == "sqlite" else (lambda v: v)
        turns_by_key = {key(event_id): turns for event_id, turns in turns_by_id.items()}
        turn_rows = [
            {**turn, "event_pk": pk} for pk, stored in inserted for turn in turns_by_key[stored]
        ]
        if turn_rows:
            _TURN_INSERT[dialect].execute(cursor, turn_rows)
    finally:
        cursor.close()
    rows_by_key = {key(row["event_id"]): row for row in rows}
    add_to_rollups(session, [(rows_by_key[stored], turns_by_key[stored]) for _, stored in inserted])


def add_to_rollups(session: Session, new_events: list[tuple[dict, list[dict]]]) -> None:
    """Add the events stored for the first time to the daily sums (same transaction)."""
    per_device: dict[tuple, Counter] = defaultdict(Counter)
    per_procedure: dict[tuple, Counter] = defaultdict(Counter)
    for row, turns in new_events:
        sums = per_device[(row["local_date"], row["province"], row["commune"], row["device_id"])]
        sums["conversations"] += 1
        sums[SATISFACTION_COLUMN[row["satisfaction"]]] += 1
        asked: Counter = Counter()
        for turn in turns:
            if turn["action"] in db.QUESTION_ACTIONS:
                sums["questions"] += 1
                sums["not_understood"] += turn["action"] == db.NOT_UNDERSTOOD_ACTION
            if turn["action"] in db.ANSWER_ACTIONS and turn["procedure_code"]:
                asked[turn["procedure_code"]] += 1
        for code, n in asked.items():
            counts = per_procedure[(row["local_date"], row["province"], code)]
            counts["questions"] += n
            counts["conversations"] += 1
    _upsert_sums(session, db.DailyDevice.__table__, per_device, DEVICE_SUMS)
    _upsert_sums(session, db.DailyProcedure.__table__, per_procedure, PROCEDURE_SUMS)


SATISFACTION_COLUMN = {"satisfied": "satisfied", "unsatisfied": "unsatisfied", None: "no_answer"}
DEVICE_SUMS = (
    "conversations",
    "questions",
    "not_understood",
    "satisfied",
    "unsatisfied",
    "no_answer",
)
PROCEDURE_SUMS = ("questions", "conversations")


def _upsert_sums(session: Session, table, sums: dict[tuple, Counter], columns) -> None:
    if not sums:
        return
    keys = [c.name for c in table.primary_key.columns]
    rows = [
        {**dict(zip(keys, key, strict=True)), **{c: sums[key][c] for c in columns}}
        for key in sorted(sums)  # one lock order for concurrent workers
    ]
    connection = session.connection()
    cursor = connection.connection.cursor()
    try:
        _SUM_UPSERT[table.name][connection.dialect.name].execute(cursor, rows)
    finally:
        cursor.close()


def _apply_statuses(session: Session, items: list[Parsed], result: BatchResult) -> None:
    """Presence and health, in arrival order. A status whose own clock is older than the one
    already applied is stale (a late redelivery) and skipped; the Last Will has no clock of
    its own worth trusting (it was written at connect time) and always applies."""
    if not items:
        return
    ids = sorted({p.place.device_id for p in items})
    devices = {
        d.device_id: d
        for d in session.scalars(
            select(db.Device).where(db.Device.device_id.in_(ids)).with_for_update()
        )
    }
    for p in items:
        device, doc, sent_at = devices[p.place.device_id], p.doc, p.prepared
        if sent_at and doc["online"] and device.status_sent_at and sent_at < device.status_sent_at:
            result.counts["status.stale"] += 1
            continue
        device.online = doc["online"]
        device.last_status_at = p.message.received_at
        if sent_at:
            device.status_sent_at = sent_at
        if "software_version" in doc:
            device.software_version = doc["software_version"][:100]
        for key in ("catalogue_version", "queue_depth", "dropped_events"):
            if key in doc:
                setattr(device, key, doc[key])
        if "last_error" in doc:
            device.last_error = doc["last_error"]
        health = {k: doc[k] for k in HEALTH_KEYS if k in doc}
        if health:
            device.health = {**(device.health or {}), **health}
        result.counts["status"] += 1
    session.flush()


def _store_acks(session: Session, items: list[Parsed], result: BatchResult) -> None:
    rows = {}
    for p in items:
        row = p.prepared
        key = tuple(row[k] for k in ("device_id", "scope", "version", "kind", "result", "at"))
        rows.setdefault(key, row)
    if not rows:
        return
    result.counts["acks.duplicates"] += len(items) - len(rows)
    acks = db.Ack.__table__
    stmt = (
        db.dialect_insert(session, acks)
        .on_conflict_do_nothing(
            index_elements=["device_id", "scope", "version", "kind", "result", "at"]
        )
        .returning(acks.c.id)
    )
    stored = len(session.execute(stmt, [rows[k] for k in sorted(rows, key=str)]).all())
    result.counts["acks"] += stored
    result.counts["acks.duplicates"] += len(rows) - stored


def _touch_last_seen(session: Session, items: list[Parsed]) -> None:
    """One statement for the batch: its messages arrived within `batch_interval_s` of each
    other, so the batch's last arrival is every sender's last-seen time to that precision."""
    if not items:
        return
    at = max(p.message.received_at for p in items)
    devices = db.Device.__table__
    session.execute(
        update(devices)
        .where(devices.c.device_id.in_(sorted({p.place.device_id for p in items})))
        .where(devices.c.last_seen_at.is_(None) | (devices.c.last_seen_at < at))
        .values(last_seen_at=at)
    )


SQLITE_MAX_PARAMS = 30000  # per statement, under SQLite's limit of 32766


class FastInsert:
    """Many-row INSERTs sent straight through the database driver.

    At thousands of rows a second SQLAlchemy's per-row parameter processing costs several
    times the database's own work, so the busy tables (events, turns, the daily sums) are
    written here, converting values exactly as the models' column types store them, and
    everything else goes through SQLAlchemy. PostgreSQL gets COPY (into a temporary table
    first when rows must be filtered or added up by ON CONFLICT, or come back with
    RETURNING); SQLite gets multi-row VALUES when rows must come back and executemany
    otherwise.

    `unique` names the conflict target: without `add`, a conflicting row is skipped (DO
    NOTHING); with `add`, those columns are added to the stored row's (DO UPDATE SET
    n = n + excluded.n)."""

    def __init__(
        self,
        table,
        dialect: str,
        *,
        unique: list[str] | None = None,
        returning=(),
        add: tuple[str, ...] = (),
    ):
        self.dialect = dialect
        self.columns = [c for c in table.columns if not (c.primary_key and c.autoincrement is True)]
        names = ", ".join(c.name for c in self.columns)
        tail = ""
        if unique:
            tail = f" ON CONFLICT ({', '.join(unique)}) DO "
            tail += (
                "UPDATE SET " + ", ".join(f"{c} = {table.name}.{c} + excluded.{c}" for c in add)
                if add
                else "NOTHING"
            )
        tail += f" RETURNING {', '.join(returning)}" if returning else ""
        self.returning = bool(returning)
        if dialect == "postgresql":
            adapters = [_json_text if isinstance(c.type, JSON) else None for c in self.columns]
            self.staging = None
            if unique or returning:  # COPY cannot skip conflicts nor return rows: stage first
                self.staging = f"_incoming_{table.name}"
                self.prepare = (
                    f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.staging} ON COMMIT DELETE ROWS "
                    f"AS SELECT {names} FROM {table.name} WITH NO DATA"
                )
                # ORDER BY: rows are locked in one order whichever worker writes them
                order = f" ORDER BY {', '.join(unique)}" if unique else ""
                self.sql = f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {self.staging}"
                self.sql += order + tail
                self.clear = f"DELETE FROM {self.staging}"
            self.copy = f"COPY {self.staging or table.name} ({names}) FROM STDIN"
        else:
            self.head = f"INSERT INTO {table.name} ({names}) VALUES "
            self.row_sql = "(" + ", ".join("?" * len(self.columns)) + ")"
            self.tail = tail
            adapters = [_sqlite_adapter(c.type) for c in self.columns]
            self.chunk = max(1, SQLITE_MAX_PARAMS // len(self.columns))
        # Built once: a row's values in column order, then only the columns that need it
        # converted (a few of fifteen), which halves the per-row cost of a plain loop.
        self.values_of = operator.itemgetter(*(c.name for c in self.columns))
        self.adapters = [(i, adapt) for i, adapt in enumerate(adapters) if adapt is not None]

    def _values(self, rows: list[dict]) -> list[list]:
        values_of, adapters = self.values_of, self.adapters
        out = []
        for row in rows:
            values = list(values_of(row))
            for i, adapt in adapters:
                values[i] = adapt(values[i])
            out.append(values)
        return out

    def execute(self, cursor, rows: list[dict]) -> list[tuple]:
        """Insert the rows; what RETURNING gave back (PostgreSQL native values, SQLite text)."""
        if not rows:
            return []
        values = self._values(rows)
        if self.dialect == "postgresql":
            if self.staging:
                cursor.execute(self.prepare)
            with cursor.copy(self.copy) as copy:
                for row in values:
                    copy.write_row(row)
            if not self.staging:
                return []
            cursor.execute(self.sql)
            out = cursor.fetchall() if self.returning else []
            # emptied now, not only at commit: a second call in the same transaction must
            # not insert (or add to the sums) these rows again
            cursor.execute(self.clear)
            return out
        if not self.returning:
            cursor.executemany(self.head + self.row_sql + self.tail, values)
            return []
        out: list[tuple] = []
        for start in range(0, len(values), self.chunk):
            part = values[start : start + self.chunk]
            flat = [v for row in part for v in row]
            cursor.execute(self.head + ", ".join([self.row_sql] * len(part)) + self.tail, flat)
            out.extend(cursor.fetchall())
        return out


def _json_text(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else json.dumps(value)


def _sqlite_time(value: datetime | None) -> str | None:
    """'2026-03-02 01:02:03.000000', UTC: SQLAlchemy's SQLite DateTime storage format."""
    if value is None:
        return None
    return db.utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_adapter(column_type) -> Callable | None:
    """How SQLAlchemy's SQLite types store a value: UTC text, hex UUIDs, JSON text."""
    if isinstance(column_type, db.UtcDateTime):
        return _sqlite_time
    if isinstance(column_type, Uuid):
        return lambda v: None if v is None else v.hex
    if isinstance(column_type, Date):
        return lambda v: None if v is None else v.isoformat()
    if isinstance(column_type, JSON):
        return _json_text
    return None


_EVENT_INSERT = {
    d: FastInsert(db.Event.__table__, d, unique=["event_id"], returning=("id", "event_id"))
    for d in ("sqlite", "postgresql")
}
_TURN_INSERT = {d: FastInsert(db.Turn.__table__, d) for d in ("sqlite", "postgresql")}
_SUM_UPSERT = {
    table.name: {
        d: FastInsert(table, d, unique=[c.name for c in table.primary_key.columns], add=columns)
        for d in ("sqlite", "postgresql")
    }
    for table, columns in (
        (db.DailyDevice.__table__, DEVICE_SUMS),
        (db.DailyProcedure.__table__, PROCEDURE_SUMS),
    )
}


def subscriptions(group: str | None, provinces: list[str] | None = None) -> list[str]:
    """The topic filters of one worker: every box's, or only some provinces' (to split the
    load between workers without shared subscriptions); shared in `group` unless None."""
    if provinces:
        filters = [
            f"{topics.ROOT}/dev/{province}/+/+/{kind}"
            for province in provinces
            for kind in ("events", "status", "ack")
        ]
    else:
        filters = [topics.ALL_EVENTS, topics.ALL_STATUS, topics.ALL_ACKS]
    return [topics.shared(group, f) for f in filters] if group else filters


# -- the worker -----------------------------------------------------------------------------


class IngestWorker:
    """Subscribes as one member of a shared-subscription group and stores what arrives."""

    def __init__(
        self,
        database_url: str,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        username: str | None = None,
        password: str | None = None,
        group: str | None = "ingest",
        provinces: list[str] | None = None,
        client_id: str | None = None,
        ca_file: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        batch_interval_s: float = 0.2,
        receive_maximum: int = 5000,
        session_expiry_s: int = DEFAULT_SESSION_EXPIRY_S,
        max_payload_bytes: int = messages.MAX_PAYLOAD_BYTES,
        upgrade: bool = True,
    ):
        self.database_url = database_url
        self.host, self.port = host, port
        self.group = group
        self.subscriptions = subscriptions(group, provinces)
        self.client_id = client_id or f"hoixa-{group or 'ingest'}-{socket.gethostname()}"
        self.batch_size, self.batch_interval_s = batch_size, batch_interval_s
        self.receive_maximum = receive_maximum
        self.session_expiry_s = session_expiry_s
        self.max_payload_bytes = max_payload_bytes
        self.upgrade = upgrade
        self.totals: Counter = Counter()  # since start, for logs and tests; the DB has the rest
        self.connected = threading.Event()
        self._queue: queue.Queue[Incoming] = queue.Queue()
        self._stopping = threading.Event()
        self._generation = 0
        self._known_devices: set[str] = set()
        self._writer: threading.Thread | None = None
        self._heartbeat = time.monotonic()
        self._engine = None
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if username:
            self.client.username_pw_set(username, password)
        if ca_file:
            self.client.tls_set(ca_certs=ca_file)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 30)

    # paho's thread --------------------------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        with self._lock:
            self._generation += 1
        log.info(
            "connected as %s (session %s)",
            self.client_id,
            "resumed" if flags.session_present else "new",
        )
        client.subscribe([(topic_filter, 1) for topic_filter in self.subscriptions])
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if not self._stopping.is_set():
            log.warning("disconnected from the broker (%s); paho reconnects", reason_code)

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        if self._stopping.is_set():
            return  # not acknowledged: the broker keeps it for this session
        self._queue.put(
            Incoming(
                message.topic,
                message.payload,
                message.mid,
                message.qos,
                self._generation,
                db.utc_now(),
            )
        )

    # the writer's thread --------------------------------------------------------------

    def _next_batch(self) -> list[Incoming]:
        try:
            first = self._queue.get(timeout=0.1)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.batch_interval_s
        while len(batch) < self.batch_size:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=left))
            except queue.Empty:
                break
        return batch

    def alive(self, stale_after_s: float = 30.0) -> bool:
        """The writer thread runs and went round its loop lately (systemd's watchdog asks)."""
        writer = self._writer
        fresh = time.monotonic() - self._heartbeat < stale_after_s
        return writer is not None and writer.is_alive() and fresh

    def _write_loop(self) -> None:
        while True:
            self._heartbeat = time.monotonic()
            batch = self._next_batch()
            if batch:
                self.process(batch)
            elif self._stopping.is_set():
                return

    def process(self, batch: list[Incoming]) -> Counter:
        """Parse, store and acknowledge one batch; returns what was counted."""
        counts: Counter = Counter(received=len(batch))
        valid: list[Parsed] = []
        for message in batch:
            try:
                valid.append(parse(message, self.max_payload_bytes))
            except Malformed as exc:
                counts["malformed"] += 1
                counts[f"malformed.{exc.reason}"] += 1
                log.warning("refused a message on %s: %s", message.topic[:200], exc)
        stored = self._store(valid, counts)
        if stored is None:
            return counts  # not stored and not acknowledged: the broker will send it again
        counts += stored
        self._acknowledge(batch)
        self.totals.update(counts)
        return counts

    def _store(self, valid: list[Parsed], counts: Counter) -> Counter | None:
        """Write the batch in one transaction; retry while the database is unreachable
        (None if the worker is asked to stop meanwhile); if the database refuses the batch,
        store message by message and count the ones it refuses alone as malformed."""
        attempt = 0
        while True:
            try:
                return self._commit(valid, counts)
            except (OperationalError, InterfaceError) as exc:
                self._heartbeat = time.monotonic()  # waiting for the database is not hanging
                delay = RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)]
                log.error("database unavailable (%s); retrying in %s s", exc.orig, delay)
                if self._stopping.wait(delay) and attempt >= 2:
                    return None
                attempt += 1
            except DBAPIError as exc:
                log.warning("batch refused (%s): storing its messages one by one", exc.orig)
                try:
                    return self._store_one_by_one(valid, counts)
                except (OperationalError, InterfaceError):
                    # Lost the database half-way: what was committed is kept, the rest
                    # comes again from the broker (counters may count a few twice).
                    return None

    def _commit(self, items: list[Parsed], counts: Counter) -> Counter:
        with Session(self._engine) as session, session.begin():
            result = write_batch(session, items, self._known_devices)
            db.add_to_counters(session, counts + result.counts)
        self._known_devices |= result.new_devices
        return result.counts

    def _store_one_by_one(self, valid: list[Parsed], counts: Counter) -> Counter:
        self._commit([], counts)  # what was received, and refused while parsing
        total: Counter = Counter()
        for p in valid:
            try:
                total += self._commit([p], Counter())
            except (OperationalError, InterfaceError):
                raise
            except DBAPIError as exc:
                log.warning("database refused a message on %s: %s", p.message.topic[:200], exc.orig)
                refused = Counter({"malformed": 1, "malformed.database": 1})
                self._commit([], refused)
                total += refused
        return total

    def _acknowledge(self, batch: list[Incoming]) -> None:
        generation = self._generation
        for message in batch:
            if message.qos > 0 and message.generation == generation:
                self.client.ack(message.mid, message.qos)

    # life cycle -----------------------------------------------------------------------

    def start(self) -> IngestWorker:
        self._engine = db.make_engine(self.database_url)
        if self.upgrade:
            db.upgrade_database(self._engine)
        with Session(self._engine) as session:
            self._known_devices = set(session.scalars(select(db.Device.device_id)))
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer")
        self._writer.start()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry_s
        props.ReceiveMaximum = self.receive_maximum
        self.client.connect_async(
            self.host, self.port, keepalive=30, clean_start=False, properties=props
        )
        self.client.loop_start()
        return self

    def wait_connected(self, timeout: float = 10) -> bool:
        return self.connected.wait(timeout)

    def stop(self, timeout: float = 30) -> None:
        """Store and acknowledge what has arrived, then leave (the broker keeps the session)."""
        self._stopping.set()
        if self._writer is not None:
            self._writer.join(timeout)
            self._writer = None
        self.client.disconnect()
        self.client.loop_stop()
        if self._engine is not None:
            self._engine.dispose()

    def run_forever(self) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.start()
        last = Counter()
        while not stop.wait(60):
            if self.totals != last:
                log.info("since start: %s", dict(self.totals))
                last = Counter(self.totals)
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--config",
        help="the server's settings file (/etc/hoixa/server.toml): database and broker from "
        "it; the options below override it",
    )
    parser.add_argument("--database", default=os.environ.get("HOIXA_DATABASE_URL"))
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--username")
    parser.add_argument(
        "--password-file", help="file holding the broker password (or HOIXA_BROKER_PASSWORD)"
    )
    parser.add_argument("--ca-file", help="CA certificate of the broker (TLS)")
    parser.add_argument("--group", default="ingest", help="shared-subscription group")
    parser.add_argument(
        "--direct",
        action="store_true",
        help="plain subscriptions instead of shared ones (they survive a broker restart)",
    )
    parser.add_argument("--provinces", help="only these provinces, e.g. 01,79 (split the load)")
    parser.add_argument("--client-id", help="stable and unique per worker (default: host name)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--batch-interval", type=float, default=0.2)
    args = parser.parse_args(argv)
    _fill_from_config(parser, args)
    if not args.database:
        parser.error("--database (or HOIXA_DATABASE_URL, or --config) is required")
    password = os.environ.get("HOIXA_BROKER_PASSWORD")
    if args.password_file:
        try:
            with open(args.password_file, encoding="utf-8") as f:
                password = f.read().strip()
        except OSError as exc:
            parser.error(f"{args.password_file}: cannot read the broker password ({exc.strerror})")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    worker = IngestWorker(
        args.database,
        args.host or "127.0.0.1",
        args.port or 1883,
        username=args.username,
        password=password,
        group=None if args.direct else args.group,
        provinces=args.provinces.split(",") if args.provinces else None,
        client_id=args.client_id,
        ca_file=args.ca_file,
        batch_size=args.batch_size,
        batch_interval_s=args.batch_interval,
    )
    from hoixa.server.liveness import start_liveness

    start_liveness([worker.alive])
    worker.run_forever()


def _fill_from_config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Options not given on the command line come from the server's settings file, so an
    extra worker (hoixa-ingest@.service) writes to the same database and logs in to the same
    broker as `hoixa server run`, from one file."""
    if not args.config:
        return
    from hoixa.server.config import ServerConfigError, load_server_config

    try:
        config = load_server_config(args.config)
    except ServerConfigError as exc:
        parser.error(str(exc))
    broker = config.broker
    args.database = args.database or config.database_url()
    args.host = args.host or broker.host
    args.port = args.port or broker.port
    args.username = args.username or broker.username
    args.password_file = args.password_file or broker.password_file
    args.ca_file = args.ca_file or broker.ca_file or None


if __name__ == "__main__":
    main()
