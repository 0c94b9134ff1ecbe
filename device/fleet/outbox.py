"""The on-device queue of messages waiting for the broker: nothing recorded is ever lost.

A box loses power and its link often, so every report is written to SQLite before anything is
sent, and removed only when the broker has acknowledged it (PUBACK). `put()` returns once the
row is committed with `synchronous=FULL` in WAL mode: from then on the event counts as
recorded and survives a kill -9 or a power cut. Rows are sent oldest first.

The queue is bounded. When it is full the OLDEST rows are dropped (recent usage matters more
than old usage, and the box must keep working); the drops are counted in a persistent
`dropped_total`, and the next event put carries them in `dropped_before`. A dropped event's own
`dropped_before` is carried forward too, so the `dropped_before` of all the events the server
receives always add up to the number of events the box dropped.

A row the broker refuses again and again (v5 PUBACK reason code >= 0x80, e.g. 135 not
authorized) is moved to a `rejected` table so that it cannot block the queue forever.

Threads: one SQLite connection shared by every thread, every statement under one lock. The
writer (voice loop) and the sender (MQTT link) each hold it for one short transaction; WAL
keeps readers and the fsync cheap enough for a few events a minute and thousands a second.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from hoixa.contract import messages

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at TEXT NOT NULL,
    dropped_before INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at TEXT NOT NULL,
    rejected_at TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO counters (name, value) VALUES ('dropped_total', 0), ('dropped_pending', 0);
"""

# A payload given as a function is an event: it is called, inside the transaction, with the
# number of drops not yet reported, and must return the payload bytes carrying that number.
PayloadMaker = Callable[[int], bytes]


@dataclass(frozen=True)
class Row:
    id: int
    topic: str
    payload: bytes
    created_at: str
    failures: int


class Outbox:
    """A bounded, durable FIFO of (topic, payload) rows in one SQLite file."""

    def __init__(self, path: Path, max_rows: int = 50_000):
        if max_rows < 1:
            raise ValueError("the outbox must hold at least one row")
        self.path = Path(path)
        self.max_rows = max_rows
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        # Counting 50,000 rows takes ~20 ms, too slow for every put: count once, then keep
        # the number up to date under the lock (one process owns the file).
        self._depth = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing --------------------------------------------------------------------------

    def put(self, topic: str, payload: bytes | PayloadMaker) -> int:
        """Store one message durably (dropping the oldest if full); returns its row id."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                excess = max(0, self._depth + 1 - self.max_rows)
                count = 0
                pending = self._counter("dropped_pending")
                if excess:
                    oldest = db.execute(
                        "SELECT COALESCE(SUM(dropped_before), 0), COUNT(*), MAX(id) FROM "
                        "(SELECT id, dropped_before FROM outbox ORDER BY id LIMIT ?)",
                        (excess,),
                    ).fetchone()
                    carried, count, last_id = oldest
                    db.execute("DELETE FROM outbox WHERE id <= ?", (last_id,))
                    pending += count + carried
                    db.execute(
                        "UPDATE counters SET value = value + ? WHERE name = 'dropped_total'",
                        (count,),
                    )
                if callable(payload):
                    data, carried_now = payload(pending), pending
                    pending = 0
                else:
                    data, carried_now = payload, 0
                cursor = db.execute(
                    "INSERT INTO outbox (topic, payload, created_at, dropped_before) "
                    "VALUES (?, ?, ?, ?)",
                    (topic, bytes(data), messages.utc_now(), carried_now),
                )
                db.execute(
                    "UPDATE counters SET value = ? WHERE name = 'dropped_pending'", (pending,)
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._depth += 1 - count
            return int(cursor.lastrowid)

    def remove(self, ids: Iterable[int]) -> int:
        """Forget rows the broker acknowledged; returns how many were still there."""
        ids = list(ids)
        if not ids:
            return 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._db.executemany(
                    "DELETE FROM outbox WHERE id = ?", [(i,) for i in ids]
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._depth -= cursor.rowcount
            return cursor.rowcount

    def note_failure(self, row_id: int) -> int:
        """Count one refusal of a row by the broker; returns its refusals so far (0: gone)."""
        with self._lock:
            self._db.execute("UPDATE outbox SET failures = failures + 1 WHERE id = ?", (row_id,))
            row = self._db.execute("SELECT failures FROM outbox WHERE id = ?", (row_id,)).fetchone()
            return row[0] if row else 0

    def reject(self, row_id: int, reason: str) -> bool:
        """Move a row the broker will never accept out of the queue, keeping it for people."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                cursor = db.execute(
                    "INSERT INTO rejected (id, topic, payload, created_at, rejected_at, reason) "
                    "SELECT id, topic, payload, created_at, ?, ? FROM outbox WHERE id = ?",
                    (messages.utc_now(), reason[:500], row_id),
                )
                moved = cursor.rowcount == 1
                if moved:
                    carried = db.execute(
                        "SELECT dropped_before FROM outbox WHERE id = ?", (row_id,)
                    ).fetchone()[0]
                    db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
                    # Its drop count must still reach the server: hand it to the next event.
                    db.execute(
                        "UPDATE counters SET value = value + ? WHERE name = 'dropped_pending'",
                        (carried,),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._depth -= moved
            return moved

    # -- reading --------------------------------------------------------------------------

    def peek(self, n: int, after_id: int = 0) -> list[Row]:
        """Up to n rows, oldest first, with ids above `after_id` (those not yet in flight)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, created_at, failures FROM outbox "
                "WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, n),
            ).fetchall()
        return [Row(i, t, bytes(p), c, f) for i, t, p, c, f in rows]

    def depth(self) -> int:
        with self._lock:
            return self._depth

    def dropped_total(self) -> int:
        with self._lock:
            return self._counter("dropped_total")

    def rejected(self) -> list[tuple[int, str, str]]:
        """(id, topic, reason) of the rows moved aside, oldest first."""
        with self._lock:
            return self._db.execute("SELECT id, topic, reason FROM rejected ORDER BY id").fetchall()

    def _counter(self, name: str) -> int:
        return self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0]
