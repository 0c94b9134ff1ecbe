"""The ingestion worker against a real Mosquitto, with real paho clients playing the boxes,
storing into SQLite and into a real PostgreSQL."""

from __future__ import annotations

import copy
import json
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from pg import database_url, postgres  # noqa: F401  (fixtures)
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hoixa.contract import messages, topics
from hoixa.server import db, ingest
from hoixa.server.mosquitto import Mosquitto

pytestmark = pytest.mark.skipif(
    not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()),
    reason="mosquitto is not installed (apt-get install mosquitto)",
)
ROOT = Path(__file__).resolve().parents[1]
PLACE = topics.DevicePlace("87", "30001", "box-001")


def event(device_id: str = "box-001", **extra) -> dict:
    doc = {
        "schema": "hoixa.event/1",
        "event_id": str(uuid.uuid4()),
        "device_id": device_id,
        "session_id": str(uuid.uuid4()),
        "started_at": "2026-03-02T01:02:03.000Z",
        "ended_at": "2026-03-02T01:04:10.500Z",
        "software_version": "0.1.0",
        "catalogue_version": 3,
        "turns": [
            {
                "action": "menu",
                "procedure": "1.001193",
                "category": None,
                "confidence": 0.91,
                "asr_confidence": 0.8,
                "latency_ms": {"asr_final": 310.0, "match": 4.5, "total": 1200.0},
            },
            {"action": "answer", "procedure": "1.001193", "category": "fees", "confidence": 0.9},
            {"action": "not_found", "heard": "xin cấp sổ đỏ", "confidence": 0.1},
        ],
        "procedures": ["1.001193"],
        "categories": ["fees"],
        "not_understood": ["xin cấp sổ đỏ"],
        "termination": "thanks",
        "satisfaction": "satisfied",
        "satisfaction_by": "voice",
        "dropped_before": 0,
    }
    doc.update(extra)
    return doc


def encode(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


class Box:
    """A box's MQTT client: MQTT v5, QoS 1, its device id as client id."""

    def __init__(self, port: int, place: topics.DevicePlace = PLACE, will: bytes | None = None):
        self.place = place
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=place.device_id, protocol=mqtt.MQTTv5
        )
        self.client.max_inflight_messages_set(500)
        if will is not None:
            self.client.will_set(place.status(), will, qos=1, retain=True)
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()

    def send(self, topic: str, payloads: list[bytes], retain: bool = False) -> None:
        infos = [self.client.publish(topic, p, qos=1, retain=retain) for p in payloads]
        for info in infos:
            info.wait_for_publish(30)
            assert info.rc == mqtt.MQTT_ERR_SUCCESS

    def events(self, docs: list[dict]) -> None:
        self.send(self.place.events(), [encode(d) for d in docs])

    def cut(self) -> None:
        """Drop the connection without DISCONNECT, like a power cut: the broker sends the Will."""
        self.client.socket().shutdown(socket.SHUT_RDWR)
        self.client.loop_stop()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def broker(tmp_path):
    server = Mosquitto(tmp_path / "broker", extra=["log_type subscribe"]).start()
    yield server
    server.stop()


@pytest.fixture
def engine(database_url):  # noqa: F811
    db.upgrade_database(database_url)
    engine = db.make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def start_worker(broker, database_url):  # noqa: F811
    workers = []

    def start(**options) -> ingest.IngestWorker:
        options.setdefault("client_id", "ingest-test")
        worker = ingest.IngestWorker(database_url, "127.0.0.1", broker.port, **options).start()
        assert worker.wait_connected(), "the worker did not connect"
        time.sleep(0.2)  # its SUBSCRIBE reaches the broker before the boxes publish
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def boxes(broker):
    opened = []

    def open_box(place: topics.DevicePlace = PLACE, **kw) -> Box:
        box = Box(broker.port, place, **kw)
        opened.append(box)
        return box

    yield open_box
    for box in opened:
        box.close()


def counters(engine) -> dict[str, int]:
    with Session(engine) as session:
        return db.counters(session)


def count(engine, model) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def stored_ids(engine) -> list[str]:
    with Session(engine) as session:
        return [str(i) for i in session.scalars(select(db.Event.event_id))]


# -- events ---------------------------------------------------------------------------------


def test_events_are_stored_once_with_their_turns_and_an_unknown_box_is_kept(
    engine, start_worker, boxes
):
    worker = start_worker()
    box = boxes()
    docs = [event() for _ in range(20)]
    box.events(docs)
    box.events(docs[:5])  # a box resending after a lost PUBACK
    wait_until(lambda: counters(engine).get("received", 0) == 25, "25 messages")
    got = counters(engine)
    assert (got["stored"], got["duplicates"]) == (20, 5)
    # the worker adds to its running totals after the batch is committed and acknowledged
    wait_until(lambda: worker.totals["stored"] == 20, "the worker's totals")
    assert sorted(stored_ids(engine)) == sorted(d["event_id"] for d in docs)
    assert count(engine, db.Turn) == 60
    with Session(engine) as session:  # the daily sums count each conversation once too
        day = session.scalars(select(db.DailyDevice)).one()
        assert (day.conversations, day.questions, day.not_understood) == (20, 60, 20)
    with Session(engine) as session:
        device = session.get(db.Device, "box-001")
        assert (device.province, device.commune, device.enrolled_at) == ("87", "30001", None)
        assert device.last_seen_at is not None
        stored = session.scalars(
            select(db.Event).where(db.Event.event_id == uuid.UUID(docs[0]["event_id"]))
        ).one()
        assert stored.raw == docs[0]
        assert (stored.local_date.isoformat(), stored.satisfaction) == ("2026-03-02", "satisfied")
        turns = session.scalars(
            select(db.Turn).where(db.Turn.event_pk == stored.id).order_by(db.Turn.turn_index)
        ).all()
        assert [t.action for t in turns] == ["menu", "answer", "not_found"]
        assert turns[0].latency_asr_final_ms == 310.0 and turns[0].latency_first_audio_ms is None
        assert (turns[2].heard, turns[2].heard_key) == ("xin cấp sổ đỏ", "xin cấp sổ đỏ")
        assert turns[1].province == "87" and turns[1].category == "fees"


def test_bad_messages_are_counted_by_reason_and_the_worker_goes_on(engine, start_worker, boxes):
    start_worker()
    box = boxes()
    not_a_date = event(started_at="2026-13-45T00:00:00Z")  # the pattern allows it
    wrong_schema = event()
    del wrong_schema["turns"]
    bad = [
        b"{not json",
        b"\xff\xfe\x00",
        encode(wrong_schema),
        encode(event(device_id="box-999")),  # another box's id on this box's topic
        encode(not_a_date),
        b"{" + b" " * messages.MAX_PAYLOAD_BYTES + b"}",
        encode({"schema": "hoixa.status/1", "device_id": "box-001", "online": True}),
    ]
    box.send(PLACE.events(), bad)
    good = event(turns=[{"action": "not_found", "heard": "nul \u0000 ở giữa", "confidence": 0}])
    box.events([good])
    wait_until(lambda: counters(engine).get("received", 0) == 8, "8 messages")
    got = counters(engine)
    assert got["malformed"] == 7
    reasons = {k.split(".", 1)[1]: v for k, v in got.items() if k.startswith("malformed.")}
    assert reasons == {
        "not_json": 1,
        "not_utf8": 1,
        "schema": 2,
        "device_mismatch": 1,
        "bad_value": 1,
        "oversized": 1,
    }
    assert stored_ids(engine) == [good["event_id"]]
    with Session(engine) as session:  # PostgreSQL refuses NUL in text: it is dropped
        assert session.scalars(select(db.Turn.heard)).one() == "nul  ở giữa"


def test_a_burst_of_5000_events_from_several_boxes_is_all_stored(engine, start_worker, boxes):
    start_worker()
    places = [topics.DevicePlace("87", f"3000{i}", f"box-{i:03d}") for i in range(5)]
    docs = {p.device_id: [event(p.device_id) for _ in range(1000)] for p in places}
    senders = [threading.Thread(target=boxes(p).events, args=(docs[p.device_id],)) for p in places]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    wait_until(lambda: count(engine, db.Event) == 5000, "5000 events stored", timeout=30)
    expected = {d["event_id"] for batch in docs.values() for d in batch}
    assert set(stored_ids(engine)) == expected
    assert count(engine, db.Turn) == 15000
    assert counters(engine)["stored"] == 5000


# -- at-least-once across a killed worker ---------------------------------------------------

WORKER = [sys.executable, "-m", "hoixa.server.ingest"]

# A worker that holds what it receives and never commits: it writes how many messages it is
# holding to a file, so the test knows they reached it before killing it.
HOLDING_WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from hoixa.server import ingest

    def hold(self, valid, counts):
        Path(sys.argv[3]).write_text(str(counts["received"]))
        time.sleep(3600)

    ingest.IngestWorker._store = hold
    ingest.IngestWorker(
        sys.argv[1], "127.0.0.1", int(sys.argv[2]), client_id="ingest-test",
        batch_size=100000, batch_interval_s=1.0,
    ).run_forever()
    """
)


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(10)


def test_messages_received_but_not_committed_come_back_after_a_kill(
    engine,
    database_url,  # noqa: F811
    broker,
    start_worker,
    boxes,
    tmp_path,
):
    """The worker acknowledges only after committing (paho's manual_ack): with automatic
    acks these 300 events would be acknowledged on arrival and lost with the process."""
    holding = tmp_path / "holding"
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDING_WORKER, database_url, str(broker.port), str(holding)],
        cwd=ROOT,
    )
    try:
        wait_until(lambda: subscribed(broker), "the worker's subscriptions")
        docs = [event() for _ in range(300)]
        boxes().events(docs)
        wait_until(lambda: holding.exists() and holding.read_text() == "300", "300 held")
        assert count(engine, db.Event) == 0
    finally:
        kill(process)
    start_worker()  # same client id: the broker resends what was never acknowledged
    wait_until(lambda: count(engine, db.Event) == 300, "300 events after the restart")
    assert sorted(stored_ids(engine)) == sorted(d["event_id"] for d in docs)


def subscribed(broker: Mosquitto) -> bool:
    """The worker's last subscription is in place (the broker logs subscriptions)."""
    log = broker.log_path.read_text(errors="replace") if broker.log_path.exists() else ""
    return topics.shared("ingest", topics.ALL_ACKS) in log


def test_a_worker_killed_mid_burst_loses_nothing_and_counts_nothing_twice(
    engine,
    database_url,  # noqa: F811
    broker,
    start_worker,
    boxes,
):
    command = [*WORKER, "--database", database_url, "--port", str(broker.port)]
    command += ["--client-id", "ingest-test", "--batch-size", "200"]
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL)
    docs = [event(f"box-{i % 4:03d}") for i in range(4000)]
    try:
        wait_until(lambda: subscribed(broker), "the worker's subscriptions")
        box_list = [boxes(topics.DevicePlace("87", "30001", f"box-{i:03d}")) for i in range(4)]
        by_box = {
            b.place.device_id: [d for d in docs if d["device_id"] == b.place.device_id]
            for b in box_list
        }
        first = [
            threading.Thread(target=b.events, args=(by_box[b.place.device_id][:500],))
            for b in box_list
        ]
        for t in first:
            t.start()
        for t in first:
            t.join()
        wait_until(lambda: count(engine, db.Event) >= 300, "some events stored", timeout=20)
    finally:
        kill(process)  # mid-burst: some stored, some received and not committed, some queued
    assert count(engine, db.Event) < 4000
    rest = [
        threading.Thread(target=b.events, args=(by_box[b.place.device_id][500:],)) for b in box_list
    ]
    for t in rest:
        t.start()
    for t in rest:
        t.join()  # the broker queues these for the dead worker's session
    start_worker()
    wait_until(lambda: count(engine, db.Event) == 4000, "all 4000 events", timeout=30)
    assert sorted(stored_ids(engine)) == sorted(d["event_id"] for d in docs)
    wait_until(lambda: counters(engine).get("stored") == 4000, "counters")
    got = counters(engine)
    assert got["stored"] == 4000
    assert got["received"] == got["stored"] + got.get("duplicates", 0)


def test_a_direct_worker_s_subscription_survives_a_broker_restart(
    engine, broker, start_worker, boxes
):
    """Plain (not shared) subscriptions are kept in the broker's persistence file, so what
    boxes send while the broker is back and the worker not yet is kept for it."""
    worker = start_worker(group=None, provinces=["87"], client_id="ingest-87")
    worker.stop()
    broker.restart()
    far = topics.DevicePlace("01", "00004", "box-far")
    docs = [event() for _ in range(50)]
    boxes().events(docs)
    boxes(far).events([event("box-far") for _ in range(5)])  # another worker's province
    start_worker(group=None, provinces=["87"], client_id="ingest-87")
    wait_until(lambda: count(engine, db.Event) == 50, "the 50 events sent meanwhile")
    time.sleep(0.5)
    assert sorted(stored_ids(engine)) == sorted(d["event_id"] for d in docs)


# -- status and acks ------------------------------------------------------------------------


def status(online: bool, **extra) -> bytes:
    doc = {"schema": "hoixa.status/1", "device_id": PLACE.device_id, "online": online, **extra}
    return messages.encode(doc, "hoixa.status/1")


def test_status_and_the_last_will_set_the_box_online_and_offline(engine, start_worker, boxes):
    start_worker()
    box = boxes(will=status(False, reason="lost"))
    health = {
        "reason": "connected",
        "at": "2026-03-02T01:00:00.000Z",
        "uptime_s": 12.5,
        "disk_free_mb": 900,
        "microphone_ok": True,
        "queue_depth": 3,
        "software_version": "0.2.0",
        "catalogue_version": 7,
        "last_error": None,
    }
    box.send(PLACE.status(), [status(True, **health)], retain=True)
    wait_until(lambda: counters(engine).get("status") == 1, "the first status")
    with Session(engine) as session:
        device = session.get(db.Device, "box-001")
        assert device.online is True
        assert (device.software_version, device.catalogue_version, device.queue_depth) == (
            "0.2.0",
            7,
            3,
        )
        assert device.health["disk_free_mb"] == 900 and device.health["reason"] == "connected"
        first_status_at = device.last_status_at
    # A late copy of an older heartbeat does not undo the newer one.
    box.send(PLACE.status(), [status(True, at="2026-03-02T00:59:00.000Z", queue_depth=99)])
    wait_until(lambda: counters(engine).get("status.stale") == 1, "the stale status")
    box.cut()
    wait_until(lambda: counters(engine).get("status") == 2, "the Last Will")
    with Session(engine) as session:
        device = session.get(db.Device, "box-001")
        assert device.online is False
        assert device.queue_depth == 3  # from the newest status, not the stale one
        assert device.health == {**device.health, "reason": "lost", "disk_free_mb": 900}
        assert device.last_status_at > first_status_at


def test_acks_are_stored_once_even_when_delivered_twice(engine, start_worker, boxes):
    start_worker()
    ack = messages.encode(
        {
            "schema": "hoixa.ack/1",
            "device_id": "box-001",
            "at": "2026-03-02T01:00:00.000Z",
            "scope": "province/87",
            "version": 8,
            "result": "rejected",
            "reason": "bad_signature: manifest signature does not verify",
            "catalogue_version": 7,
        },
        "hoixa.ack/1",
    )
    boxes().send(PLACE.ack(), [ack, ack])
    wait_until(lambda: counters(engine).get("received") == 2, "both acks")
    with Session(engine) as session:
        stored = session.scalars(select(db.Ack)).one()
    assert (stored.scope, stored.version, stored.kind, stored.result) == (
        "province/87",
        8,
        "update",
        "rejected",
    )
    assert counters(engine)["acks.duplicates"] == 1


def test_a_batch_the_database_refuses_is_stored_one_message_at_a_time(engine, monkeypatch):
    """One message the database will not take must not hold up the others (nor come back
    for ever): the batch is retried message by message and only that one is refused."""
    worker = ingest.IngestWorker(str(engine.url), client_id="unit-test")
    worker._engine = engine
    poison = event()
    real_write = ingest.write_batch

    def refusing(session, items, known):
        if any(p.kind == "events" and p.doc["event_id"] == poison["event_id"] for p in items):
            raise IntegrityError("INSERT INTO events …", {}, Exception("refused for the test"))
        return real_write(session, items, known)

    monkeypatch.setattr(ingest, "write_batch", refusing)
    good = [event() for _ in range(4)]
    payloads = [encode(d) for d in (good[0], good[1], poison, good[2], good[3])] + [b"{nope"]
    now = db.utc_now()
    batch = [ingest.Incoming(PLACE.events(), p, i, 0, 0, now) for i, p in enumerate(payloads)]
    worker.process(batch)
    assert sorted(stored_ids(engine)) == sorted(d["event_id"] for d in good)
    got = counters(engine)
    assert (got["received"], got["stored"], got["malformed"]) == (6, 4, 2)
    assert (got["malformed.database"], got["malformed.not_json"]) == (1, 1)


def test_two_batches_in_one_transaction_add_each_event_to_the_daily_sums_once(engine):
    """The driver-level writes stage rows in a temporary table on PostgreSQL: a second batch
    in the same transaction must not store or add the first one's rows again."""
    first, second = [event() for _ in range(3)], [event(satisfaction=None) for _ in range(2)]
    second.append(first[0])  # a duplicate: counted once, summed once
    now = db.utc_now()

    def parsed(docs: list[dict]) -> list[ingest.Parsed]:
        return [
            ingest.parse(ingest.Incoming(PLACE.events(), encode(d), i, 0, 0, now), 1 << 20)
            for i, d in enumerate(docs)
        ]

    known: set[str] = set()
    with Session(engine) as session, session.begin():
        one = ingest.write_batch(session, parsed(first), known)
        known |= one.new_devices
        two = ingest.write_batch(session, parsed(second), known)
    assert (one.counts["stored"], two.counts["stored"], two.counts["duplicates"]) == (3, 2, 1)
    with Session(engine) as session:
        day = session.scalars(select(db.DailyDevice)).one()
        procedure = session.scalars(select(db.DailyProcedure)).one()
    assert (day.conversations, day.questions, day.not_understood) == (5, 15, 5)
    assert (day.satisfied, day.unsatisfied, day.no_answer) == (3, 0, 2)
    assert (procedure.questions, procedure.conversations) == (10, 5)
    assert count(engine, db.Turn) == 15


# -- the fast validator ---------------------------------------------------------------------


def mutations(doc: dict):
    """Variants of a valid event, most of them invalid in some way."""
    for key in list(doc):
        without = copy.deepcopy(doc)
        del without[key]
        yield without
        for value in (None, "", "x" * 600, -1, 1.5, 3.0, True, [], {}, "2026-03-02T01:02:03Z"):
            changed = copy.deepcopy(doc)
            changed[key] = value
            yield changed
    for turn_key in ("action", "procedure", "category", "confidence", "heard", "latency_ms"):
        for value in (None, "steps", "bogus", 2, -0.5, "x" * 501, {"total": -1}, {"x": 1}):
            changed = copy.deepcopy(doc)
            changed["turns"][0][turn_key] = value
            yield changed
    yield {**doc, "extra": 1}
    yield {**doc, "device_id": "box-001\n"}
    yield {**doc, "event_id": "not-a-uuid"}
    yield {**doc, "turns": [{}] * 201}


def test_the_fast_validator_never_accepts_what_the_contract_refuses():
    checked = 0
    for doc in mutations(event()):
        try:
            messages.validate(doc, "hoixa.event/1")
            contract_ok = True
        except messages.PayloadError:
            contract_ok = False
        try:
            ingest.decode(encode(doc), "hoixa.event/1")
            ours_ok = True
        except ingest.Malformed:
            ours_ok = False
        assert ours_ok == contract_ok, doc
        checked += 1
    assert checked > 200
    if ingest._fast_validator("hoixa.event/1") is None:
        pytest.skip("jsonschema-rs is not installed: only the contract's validator ran")


def test_the_worker_module_runs_as_a_command():
    result = subprocess.run([*WORKER, "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "--client-id" in result.stdout
