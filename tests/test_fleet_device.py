"""The box's side of the fleet link, against a real Mosquitto: nothing recorded is lost, each
event is counted once, presence is honest, and catalogue updates apply whole or not at all.

Boxes run in-process (FleetLink) or, where a kill -9 is the point, in a subprocess started
from this module's `box_main`. Link faults come from tests/fault_proxy.py.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from conftest import make_catalogue, make_procedure
from hoixa.contract import catalogue as cat
from hoixa.contract import messages, packaging, signing, topics
from hoixa.device.catalogue_store import CatalogueStore
from hoixa.device.config import FleetConfig
from hoixa.device.dialogue import SessionRecord, TurnRecord
from hoixa.device.fleet.events import build_event
from hoixa.device.fleet.health import HealthState, status_payload
from hoixa.device.fleet.link import Backoff, FleetLink, LinkTuning
from hoixa.device.fleet.outbox import Outbox
from hoixa.device.fleet.updates import STATE_NAME, CatalogueUpdater
from hoixa.device.matcher import Matcher
from hoixa.server.mosquitto import Mosquitto

TESTS_DIR = Path(__file__).resolve().parent
DEVICE, PROVINCE, COMMUNE = "box-test-01", "79", "26734"
PLACE = topics.DevicePlace(PROVINCE, COMMUNE, DEVICE)
BASE_TIME = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
TUNING = LinkTuning(
    backoff=Backoff(base_s=0.05, cap_s=0.5),
    retry_refused_s=0.2,
    stable_s=2.0,
    connect_timeout_s=2.0,
    stop_grace_s=1.0,
)

needs_mosquitto = pytest.mark.skipif(
    shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists(),
    reason="mosquitto is not installed",
)


# -- helpers ---------------------------------------------------------------------------------


def make_event(i: int) -> dict:
    """Event number i: its started_at grows strictly with i, so order can be checked."""
    record = SessionRecord(
        turns=[TurnRecord("làm giấy khai sinh", "answer", "1.001193", "fees", 0.91, [])],
        procedures=["1.001193"],
        categories=["fees"],
        termination="thanks",
        satisfaction="satisfied",
    )
    start = BASE_TIME + timedelta(seconds=i)
    return build_event(
        record,
        device_id=DEVICE,
        started_at=start,
        ended_at=start + timedelta(milliseconds=800),
        catalogue_version=1,
        software_version="test",
    )


def box_config(port: int, **changes) -> FleetConfig:
    values = dict(
        device_id=DEVICE,
        province=PROVINCE,
        commune=COMMUNE,
        broker_host="127.0.0.1",
        broker_port=port,
        tls=False,
        keepalive_seconds=2,
        heartbeat_seconds=60,
    )
    return FleetConfig(**{**values, **changes})


def wait_for(condition, timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())


class Consumer:
    """The server in miniature: a persistent MQTT v5 session recording events, status, acks."""

    def __init__(self, port: int, client_id: str = "test-consumer"):
        self.received: list[tuple[str, dict | None, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self.client.reconnect_delay_set(1, 1)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        self.client.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600  # queued for us while we are away (broker restart)
        self.client.connect("127.0.0.1", port, keepalive=5, clean_start=False, properties=props)
        self.client.loop_start()
        if not self._subscribed.wait(5):
            raise RuntimeError("test consumer could not subscribe")

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        client.subscribe([(topics.ALL_EVENTS, 1), (topics.ALL_STATUS, 1), (topics.ALL_ACKS, 1)])

    def _on_message(self, client, userdata, message):
        doc = json.loads(message.payload) if message.payload else None
        with self._lock:
            self.received.append((message.topic, doc, message.retain))

    def _of(self, kind: str) -> list[dict]:
        with self._lock:
            return [d for t, d, _ in self.received if t.endswith("/" + kind) and d is not None]

    def events(self) -> list[dict]:
        return self._of("events")

    def event_ids(self) -> list[str]:
        return [e["event_id"] for e in self.events()]

    def statuses(self) -> list[dict]:
        return self._of("status")

    def acks(self) -> list[dict]:
        return self._of("ack")

    def close(self) -> None:
        self.client.disconnect()  # wakes the network loop, so loop_stop returns at once
        self.client.loop_stop()


def retained_status(port: int) -> dict:
    """What a server that starts now learns about the box: the retained status."""
    got: list[dict] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = lambda c, u, m: got.append(dict(json.loads(m.payload), _retain=m.retain))
    client.connect("127.0.0.1", port)
    client.subscribe(PLACE.status(), qos=1)
    client.loop_start()
    try:
        assert wait_for(lambda: got, 5), "no retained status"
        return got[0]
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def broker(tmp_path):
    instance = Mosquitto(tmp_path / "broker").start()
    yield instance
    instance.stop(kill=True)


@pytest.fixture
def consumer(broker):
    instance = Consumer(broker.port)
    yield instance
    instance.close()


@pytest.fixture
def boxes():
    """Make in-process boxes; every one is stopped and closed at the end."""
    made: list[FleetLink] = []

    def make(config: FleetConfig, data_dir: Path, **kwargs) -> FleetLink:
        outbox = Outbox(data_dir / "outbox.sqlite3", config.queue_max_events)
        link = FleetLink(config, outbox, data_dir=data_dir, tuning=TUNING, **kwargs)
        made.append(link)
        return link

    yield make
    for link in made:
        link.stop()
        link.outbox.close()


@pytest.fixture
def proxies():
    from fault_proxy import FaultProxy

    made = []

    def make(port: int):
        proxy = FaultProxy("127.0.0.1", port).start()
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.stop()


# -- a box in a subprocess (for kill -9) -----------------------------------------------------


def box_main(opts_json: str) -> None:
    """Run one box: record `events` events (printing each id once recorded), then wait for a
    line on stdin to stop cleanly. Run by BoxProcess; the test may SIGKILL it at any time."""
    opts = json.loads(opts_json)
    logging.basicConfig(level=logging.WARNING)
    config = FleetConfig(**opts["fleet"])
    data_dir = Path(opts["data_dir"])
    updater = None
    if opts.get("public_key"):
        die_at = opts.get("die_at")

        def fault(step: str) -> None:
            if step == die_at:
                os.kill(os.getpid(), signal.SIGKILL)  # a power cut, right at this step

        store = CatalogueStore(data_dir / "catalogue", fault=fault)
        key = signing.load_public_key(Path(opts["public_key"]))
        updater = CatalogueUpdater(PLACE, store, key, settle_s=0.3)
    outbox = Outbox(data_dir / "outbox.sqlite3", config.queue_max_events)
    link = FleetLink(config, outbox, data_dir=data_dir, updater=updater, tuning=TUNING).start()
    print("started", flush=True)
    first = opts.get("first", 0)
    for i in range(first, first + opts.get("events", 0)):
        event = make_event(i)
        link.record_event(event)
        print(event["event_id"], flush=True)
    print("recorded", flush=True)
    sys.stdin.readline()
    link.stop()
    print("stopped", flush=True)


def outbox_main(path: str) -> None:
    """Put rows as fast as possible, printing each row id once put() has returned."""
    outbox = Outbox(Path(path), 1_000_000)
    for i in range(1_000_000):
        body = json.dumps({"i": i, "pad": "x" * (i % 700)}).encode()
        print(f"{outbox.put('t', body)} {i}", flush=True)


class BoxProcess:
    def __init__(self, log_path: Path, main: str, arg: str):
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); "
            f"import test_fleet_device as t; t.{main}(sys.argv[2])"
        )
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in kill()/stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, str(TESTS_DIR), arg],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @classmethod
    def box(cls, tmp_path: Path, data_dir: Path, config: FleetConfig, **opts) -> BoxProcess:
        arg = json.dumps({"fleet": config.__dict__, "data_dir": str(data_dir), **opts})
        return cls(tmp_path / "box.log", "box_main", arg)

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.strip())

    def event_ids(self) -> list[str]:
        return [line for line in list(self.lines) if len(line) == 36]

    def wait_line(self, text: str, timeout: float) -> bool:
        return wait_for(lambda: text in self.lines or self.proc.poll() is not None, timeout) and (
            text in self.lines
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        if sig == signal.SIGKILL:
            self.proc.wait(10)
            self._reader.join(5)
            self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("stop\n")
            self.proc.stdin.flush()
            self.proc.wait(15)
        self._reader.join(5)
        self.log.close()


@pytest.fixture
def processes():
    made: list[BoxProcess] = []
    yield made
    for process in made:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait(10)
        if not process.log.closed:
            process.log.close()


# -- backoff ---------------------------------------------------------------------------------


def test_backoff_delays_are_bounded_exponential_and_fully_jittered():
    backoff, rng = Backoff(base_s=2.0, cap_s=300.0), random.Random(7)
    for attempt in range(12):
        ceiling = min(300.0, 2.0 * 2**attempt)
        samples = [backoff.delay(attempt, rng) for _ in range(4000)]
        assert all(0.0 <= s <= ceiling for s in samples)
        # Uniform over [0, ceiling]: mean ceiling/2, spread ceiling/√12, no two alike.
        assert statistics.fmean(samples) == pytest.approx(ceiling / 2, rel=0.05)
        assert statistics.pstdev(samples) == pytest.approx(ceiling / 12**0.5, rel=0.05)
        assert min(samples) < 0.05 * ceiling and max(samples) > 0.95 * ceiling
        assert len(set(samples)) == len(samples)
    assert backoff.ceiling(10_000) == 300.0  # no overflow after days of failures


def test_boxes_returning_after_an_outage_spread_out():
    """3,000 boxes on their 6th attempt: spread evenly over the minute, not in one burst."""
    backoff, rng = Backoff(), random.Random(11)
    delays = [backoff.delay(5, rng) for _ in range(3000)]  # ceiling 64 s
    per_second = Counter(int(d) for d in delays)
    assert max(per_second.values()) < 3 * 3000 / 64
    assert len(per_second) == 64


# -- outbox ----------------------------------------------------------------------------------


def test_outbox_is_fifo_and_removes_only_what_is_acknowledged(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3", 100)
    ids = [outbox.put("t", f"{i}".encode()) for i in range(5)]
    assert [r.payload for r in outbox.peek(3)] == [b"0", b"1", b"2"]
    assert [r.id for r in outbox.peek(10, after_id=ids[2])] == ids[3:]
    assert outbox.remove([ids[1], ids[3]]) == 2
    assert [r.payload for r in outbox.peek(10)] == [b"0", b"2", b"4"]
    outbox.close()
    reopened = Outbox(tmp_path / "o.sqlite3", 100)
    assert reopened.depth() == 3
    assert reopened.path.with_name("o.sqlite3-wal").exists()  # WAL mode
    reopened.close()


def test_full_outbox_drops_the_oldest_and_every_drop_reaches_a_later_event(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3", 10)
    for i in range(25):
        outbox.put("t", lambda dropped, i=i: json.dumps([i, dropped]).encode())
    rows = [json.loads(r.payload) for r in outbox.peek(100)]
    assert [i for i, _ in rows] == list(range(15, 25))  # the newest ten
    assert outbox.dropped_total() == 15
    assert sum(dropped for _, dropped in rows) == 15  # carried over from dropped carriers
    # A non-event row (an ack) cannot carry the count: the next event does.
    outbox.put("ack", b"ack")
    outbox.put("t", lambda dropped: json.dumps([99, dropped]).encode())
    rows = [json.loads(r.payload) for r in outbox.peek(100) if r.topic == "t"]
    assert sum(dropped for _, dropped in rows) == outbox.dropped_total() == 17
    outbox.close()


def test_outbox_keeps_every_committed_row_when_killed_mid_burst(tmp_path, processes):
    path = tmp_path / "o.sqlite3"
    writer = BoxProcess(tmp_path / "writer.log", "outbox_main", str(path))
    processes.append(writer)
    assert wait_for(lambda: len(writer.lines) >= 300, 15), "writer did not start"
    writer.kill()
    committed = {}
    for line in writer.lines:
        if len(fields := line.split()) == 2:  # not a line cut short by the kill
            committed[int(fields[0])] = int(fields[1])
    outbox = Outbox(path, 1_000_000)
    rows = {r.id: json.loads(r.payload) for r in outbox.peek(1_000_000)}
    assert set(committed) <= set(rows)  # every put() that returned is there
    assert len(rows) - len(committed) <= 1  # at most the one killed before it could say so
    for row_id, doc in rows.items():  # nothing half-written
        assert doc["pad"] == "x" * (doc["i"] % 700)
        assert committed.get(row_id, doc["i"]) == doc["i"]
    outbox.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# -- events and health -----------------------------------------------------------------------


def sample_record() -> SessionRecord:
    return SessionRecord(
        turns=[
            TurnRecord("làm giấy khai sinh cho cháu", "menu", "1.001193", None, 0.82, []),
            TurnRecord("lệ phí bao nhiêu", "answer", "1.001193", "fees", 0.9, []),
            TurnRecord("con gà nhà tôi bị mất", "not_found", None, None, 0.0, []),
        ],
        procedures=["1.001193"],
        categories=["fees"],
        not_understood=["con gà nhà tôi bị mất"],
        termination=None,
        satisfaction="unsatisfied",
    )


def build(record: SessionRecord, privacy: str) -> dict:
    vietnam = timezone(timedelta(hours=7))
    return build_event(
        record,
        device_id=DEVICE,
        started_at=datetime(2026, 11, 23, 9, 0, tzinfo=vietnam),
        ended_at=datetime(2026, 11, 23, 9, 2, 30, 250000, tzinfo=vietnam),
        catalogue_version=4,
        software_version="0.1.0",
        privacy=privacy,
        timings=[{"asr_final": 310.0, "total": 1200.5}, None, {"match": 3.2, "bogus": 1}],
        asr_confidences=[0.8, None, 0.31],
        satisfaction_by="button",
    )


def test_event_keeps_transcripts_only_of_questions_not_understood():
    event = build(sample_record(), "not_understood")
    messages.validate(event, "hoixa.event/1")
    assert [t.get("heard") for t in event["turns"]] == [None, None, "con gà nhà tôi bị mất"]
    assert event["not_understood"] == ["con gà nhà tôi bị mất"]
    assert event["started_at"] == "2026-11-23T02:00:00.000Z"  # UTC
    assert event["ended_at"] == "2026-11-23T02:02:30.250Z"
    assert event["termination"] == "abandoned"  # the record never said how it ended
    assert event["turns"][0]["latency_ms"] == {"asr_final": 310.0, "total": 1200.5}
    assert event["turns"][2]["latency_ms"] == {"match": 3.2}
    assert [t.get("asr_confidence") for t in event["turns"]] == [0.8, None, 0.31]
    assert (event["satisfaction"], event["satisfaction_by"]) == ("unsatisfied", "button")
    assert build(sample_record(), "none")["event_id"] != event["event_id"]  # UUID4 each time


@pytest.mark.parametrize("privacy", ["none", "everything-please"])
def test_event_without_transcripts_when_privacy_says_none(privacy):
    event = build(sample_record(), privacy)
    messages.validate(event, "hoixa.event/1")
    text = json.dumps(event, ensure_ascii=False)
    assert "con gà" not in text and "khai sinh cho" not in text
    assert "not_understood" not in event
    assert event["procedures"] == ["1.001193"]  # the codes are still reported


def test_status_payload_reports_health(tmp_path):
    temp = tmp_path / "temp"
    temp.write_text("48312\n")
    health = HealthState(microphone_ok=True, speaker_ok=False, asr="vosk", tts="piper")
    health.catalogue_version = 12
    health.note_error("speaker: no device")
    doc = status_payload(
        DEVICE,
        online=True,
        reason="heartbeat",
        health=health,
        data_dir=tmp_path,
        queue_depth=3,
        dropped_events=1,
        cpu_temp_path=temp,
    )
    messages.validate(doc, "hoixa.status/1")
    assert doc["cpu_temp_c"] == 48.3
    assert doc["software_version"] == metadata.version("hoixa")
    assert doc["disk_free_mb"] == pytest.approx(shutil.disk_usage(tmp_path).free / 2**20, rel=0.01)
    assert (doc["microphone_ok"], doc["speaker_ok"], doc["asr"], doc["tts"]) == (
        True,
        False,
        "vosk",
        "piper",
    )
    assert (doc["catalogue_version"], doc["queue_depth"], doc["dropped_events"]) == (12, 3, 1)
    assert doc["last_error"] == "speaker: no device"
    missing = status_payload(
        DEVICE, online=True, reason="connected", health=health, cpu_temp_path=tmp_path / "absent"
    )
    assert missing["cpu_temp_c"] is None


def test_open_link_wires_outbox_updater_and_health_from_the_configuration(tmp_path):
    from hoixa.device.config import DeviceConfig
    from hoixa.device.fleet.link import open_link

    assert open_link(DeviceConfig(data_dir=tmp_path)) is None  # no broker: no reporting
    signing.generate_keypair(tmp_path / "key", tmp_path / "key.pub")
    CatalogueStore(tmp_path / "catalogue").install(catalogue(4, scope="all"))
    fleet = box_config(1883, catalogue_public_key=str(tmp_path / "key.pub"), queue_max_events=7)
    link = open_link(DeviceConfig(data_dir=tmp_path, fleet=fleet))
    assert link.outbox.path == tmp_path / "fleet" / "outbox.sqlite3"
    assert link.outbox.max_rows == 7
    assert link.updater.subscriptions() == [topics.catalogue_filter(s) for s in PLACE.scopes()]
    assert link.updater.send_ack == link.record_ack
    assert link.health.catalogue_version == 4
    link.outbox.close()


# -- delivery through a real broker ----------------------------------------------------------


@needs_mosquitto
def test_burst_survives_a_broker_restart(tmp_path, broker, consumer, boxes):
    link = boxes(box_config(broker.port), tmp_path / "box").start()
    assert wait_for(lambda: link.connected, 5)
    sent = []
    for i in range(600):
        event = make_event(i)
        link.record_event(event)
        sent.append(event["event_id"])
        if i == 200:
            broker.restart()
    assert wait_for(lambda: set(consumer.event_ids()) >= set(sent), 20), (
        f"{len(set(sent) - set(consumer.event_ids()))} events never arrived"
    )
    received = consumer.event_ids()
    assert set(received) == set(sent)  # counted once each, however often sent
    assert link.connects >= 2
    assert wait_for(lambda: link.outbox.depth() == 0, 5)


@needs_mosquitto
def test_lost_acknowledgements_cause_resends_that_dedupe_to_one_count(
    tmp_path, broker, consumer, boxes, proxies
):
    proxy = proxies(broker.port)
    link = boxes(box_config(proxy.port), tmp_path / "box").start()
    assert wait_for(lambda: link.connected, 5)
    proxy.one_way()  # the broker gets every publish, the box never hears PUBACK
    sent = []
    for i in range(60):
        event = make_event(i)
        link.record_event(event)
        sent.append(event["event_id"])
    window = TUNING.max_inflight
    assert wait_for(lambda: len(consumer.event_ids()) >= window, 5)
    # Stalled: no PINGRESP comes back either, so the box's keepalive gives the connection up
    # (after 2 × keepalive); its new connections never get a CONNACK. Up to then it may send
    # nothing beyond its window, and it forgets no row that was not acknowledged.
    assert wait_for(lambda: not link.connected, 10)
    assert len(consumer.event_ids()) == window
    assert link.outbox.depth() == len(sent)
    proxy.restore()  # the box reconnects and sends its un-acknowledged rows again
    assert wait_for(lambda: set(consumer.event_ids()) == set(sent), 10)
    assert wait_for(lambda: link.outbox.depth() == 0, 5)
    received = Counter(consumer.event_ids())
    resent = {event_id for event_id, times in received.items() if times > 1}
    assert resent >= set(sent[:window])  # the whole stalled window was sent again...
    assert sorted(received) == sorted(sent)  # ...and each id counted once, none lost


@needs_mosquitto
def test_box_killed_with_events_queued_sends_them_all_after_restart(
    tmp_path, broker, consumer, processes, proxies
):
    proxy = proxies(broker.port)
    proxy.blackhole()  # phase 1: offline, recording; killed in the middle of the burst
    config, data_dir = box_config(proxy.port), tmp_path / "box"
    first = BoxProcess.box(tmp_path, data_dir, config, events=1000)
    processes.append(first)
    assert wait_for(lambda: len(first.event_ids()) >= 600, 20)
    first.kill()
    recorded = first.event_ids()
    queued = Outbox(data_dir / "outbox.sqlite3")
    assert queued.depth() >= len(recorded) >= 600
    queued.close()
    assert consumer.event_ids() == []
    # Phase 2: back online, killed again while draining.
    proxy.restore()
    second = BoxProcess.box(tmp_path, data_dir, config, first=len(recorded) + 1, events=0)
    processes.append(second)
    assert wait_for(lambda: len(consumer.event_ids()) >= 100, 15)
    second.kill()
    # Phase 3: a third start finishes the job.
    third = BoxProcess.box(tmp_path, data_dir, config)
    processes.append(third)
    assert wait_for(lambda: set(consumer.event_ids()) >= set(recorded), 15), (
        f"{len(set(recorded) - set(consumer.event_ids()))} recorded events were lost"
    )
    unique = set(consumer.event_ids())
    assert len(unique - set(recorded)) <= 1  # at most the one killed before printing its id
    third.stop()


@needs_mosquitto
def test_long_link_cut_then_drained_in_order(tmp_path, broker, consumer, boxes, proxies):
    proxy = proxies(broker.port)
    link = boxes(box_config(proxy.port), tmp_path / "box").start()
    assert wait_for(lambda: link.connected, 5)
    proxy.blackhole()  # "hours" offline: at a conversation every few minutes, days of use
    sent = []
    for i in range(1200):
        event = make_event(i)
        link.record_event(event)
        sent.append(event["event_id"])
    assert wait_for(lambda: not link.connected, 10)  # keepalive: gone within 2 × 2 s
    assert consumer.event_ids() == []
    began = time.monotonic()
    proxy.restore()
    assert wait_for(lambda: len(consumer.event_ids()) >= 300, 10)
    proxy.cut()  # and one more reset in the middle of the drain
    assert wait_for(lambda: set(consumer.event_ids()) == set(sent), 15)
    drain_s = time.monotonic() - began
    first_seen = list(dict.fromkeys(consumer.event_ids()))
    started = [e["started_at"] for e in {e["event_id"]: e for e in consumer.events()}.values()]
    order = {e["event_id"]: e["started_at"] for e in consumer.events()}
    assert [order[i] for i in first_seen] == sorted(started)  # drained oldest first
    assert first_seen == sent
    assert wait_for(lambda: link.outbox.depth() == 0, 5)
    print(f"\ndrained {len(sent)} events through proxy and broker in {drain_s:.2f} s")


@needs_mosquitto
def test_full_queue_drops_oldest_and_reports_the_count(tmp_path, broker, consumer, boxes):
    link = boxes(box_config(broker.port, queue_max_events=10), tmp_path / "box")
    sent = [make_event(i) for i in range(25)]
    for event in sent:  # not started: the box is offline
        link.record_event(event)
    link.start()
    assert wait_for(lambda: link.outbox.depth() == 0, 10)  # all ten were acknowledged
    assert wait_for(lambda: len(consumer.events()) >= 10, 5)
    events = {e["event_id"]: e for e in consumer.events()}
    assert list(events) == [e["event_id"] for e in sent[15:]]  # the oldest fifteen dropped
    assert sum(e.get("dropped_before", 0) for e in events.values()) == 15
    connected = next(s for s in consumer.statuses() if s["reason"] == "connected")
    assert connected["dropped_events"] == 15


# -- presence --------------------------------------------------------------------------------


@needs_mosquitto
def test_status_on_connect_heartbeat_and_clean_shutdown(tmp_path, broker, consumer, boxes):
    health = HealthState(microphone_ok=True, speaker_ok=True, asr="vosk", tts="piper")
    health.catalogue_version = 3
    link = boxes(box_config(broker.port, heartbeat_seconds=1), tmp_path / "box", health=health)
    link.record_event(make_event(0))
    link.start()
    assert wait_for(lambda: any(s["reason"] == "heartbeat" for s in consumer.statuses()), 5)
    connected = consumer.statuses()[0]
    assert (connected["online"], connected["reason"]) == (True, "connected")
    assert connected["queue_depth"] == 1  # the event recorded before the link came up
    assert (connected["asr"], connected["tts"], connected["catalogue_version"]) == (
        "vosk",
        "piper",
        3,
    )
    assert connected["software_version"] == metadata.version("hoixa")
    assert connected["disk_free_mb"] > 0 and "cpu_temp_c" in connected
    late = retained_status(broker.port)  # a server starting now still knows
    assert late["_retain"] and late["online"] is True
    link.stop()
    assert wait_for(lambda: consumer.statuses()[-1]["reason"] == "shutdown", 5)
    assert consumer.statuses()[-1]["online"] is False
    time.sleep(0.5)  # an unclean end would bring the Last Will at once: none comes
    final = retained_status(broker.port)
    assert (final["online"], final["reason"]) == (False, "shutdown")


@needs_mosquitto
def test_clean_stop_is_reported_even_while_acknowledgements_are_lost(
    tmp_path, broker, consumer, boxes, proxies
):
    """A full window of unacknowledged events must not hold back the shutdown status."""
    proxy = proxies(broker.port)
    config = box_config(proxy.port, keepalive_seconds=60)  # the link lives until the stop
    link = boxes(config, tmp_path / "box").start()
    assert wait_for(lambda: link.connected, 5)
    proxy.one_way()
    for i in range(2 * TUNING.max_inflight):
        link.record_event(make_event(i))
    assert wait_for(lambda: len(consumer.event_ids()) >= TUNING.max_inflight, 5)
    link.stop()  # no acks come back: the window stays full to the end
    assert wait_for(lambda: any(s["reason"] == "shutdown" for s in consumer.statuses()), 5)
    final = retained_status(broker.port)
    assert (final["online"], final["reason"]) == (False, "shutdown")
    assert link.outbox.depth() == 2 * TUNING.max_inflight  # kept for the next start


def lost_statuses(consumer: Consumer) -> list[dict]:
    return [s for s in consumer.statuses() if s["reason"] == "lost"]


@needs_mosquitto
def test_last_will_marks_a_killed_box_offline_at_once(tmp_path, broker, consumer, processes):
    box = BoxProcess.box(tmp_path, tmp_path / "box", box_config(broker.port))
    processes.append(box)
    assert wait_for(lambda: any(s["reason"] == "connected" for s in consumer.statuses()), 10)
    box.kill()  # the kernel closes its socket: the broker sends the will at once
    assert wait_for(lambda: lost_statuses(consumer), 2)
    assert lost_statuses(consumer)[0]["online"] is False
    assert retained_status(broker.port)["reason"] == "lost"


@needs_mosquitto
def test_last_will_marks_a_frozen_box_offline_after_its_keepalive(
    tmp_path, broker, consumer, processes
):
    """A power cut or a dead 3G link: the socket stays open and the box just goes silent."""
    box = BoxProcess.box(tmp_path, tmp_path / "box", box_config(broker.port))
    processes.append(box)
    assert wait_for(lambda: any(s["reason"] == "connected" for s in consumer.statuses()), 10)
    box.kill(signal.SIGSTOP)
    stopped_at = time.monotonic()
    # Mosquitto 2.0.11 takes 1.5 × keepalive (3 s here) plus up to a few seconds.
    assert wait_for(lambda: lost_statuses(consumer), 15)
    silent_s = time.monotonic() - stopped_at
    assert silent_s >= 1.5 * 2 - 0.5
    assert retained_status(broker.port)["reason"] == "lost"
    print(f"\nLast Will after {silent_s:.1f} s of silence (keepalive 2 s)")


@needs_mosquitto
def test_publish_refused_by_the_broker_is_moved_aside_without_blocking(tmp_path, boxes):
    acl = tmp_path / "acl"
    acl.write_text(
        "topic read hoixa/v1/#\n"  # anonymous: the test consumer
        "pattern write hoixa/v1/dev/+/+/%u/#\n"  # a box writes only its own branch
    )
    broker = Mosquitto(tmp_path / "broker", acl_file=acl).start()
    try:
        consumer = Consumer(broker.port)
        link = boxes(box_config(broker.port, heartbeat_seconds=1), tmp_path / "box")
        sent = [make_event(i) for i in range(5)]
        link.record_event(sent[0])
        foreign = PLACE.branch.replace(DEVICE, "someone-else") + "/events"
        refused_row = link.outbox.put(foreign, messages.encode(make_event(99), "hoixa.event/1"))
        for event in sent[1:]:
            link.record_event(event)
        link.start()
        assert wait_for(lambda: len(consumer.event_ids()) == 5, 5)  # the queue did not stall
        assert consumer.event_ids() == [e["event_id"] for e in sent]
        assert wait_for(lambda: link.outbox.rejected(), 5)
        [(row_id, topic, reason)] = link.outbox.rejected()
        assert (row_id, topic) == (refused_row, foreign) and "135" in reason
        assert link.outbox.depth() == 0
        assert "135" in link.health.last_error
        assert wait_for(lambda: "135" in (consumer.statuses()[-1].get("last_error") or ""), 5)
        consumer.close()
    finally:
        broker.stop(kill=True)


@needs_mosquitto
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_box_connects_over_tls_with_its_client_certificate_and_only_to_a_trusted_broker(
    tmp_path, boxes
):
    from hoixa.server import tls
    from hoixa.server.mosquitto import TlsFiles

    ca = tls.make_ca(tmp_path / "ca")
    server = tls.make_server_cert(tmp_path / "server", ca, ["127.0.0.1"])
    box_cert = tls.make_client_cert(tmp_path / "box-cert", ca, DEVICE)
    stranger_ca = tls.make_ca(tmp_path / "other-ca")
    files = TlsFiles(ca.cert, server.cert, server.key, require_certificate=True)
    broker = Mosquitto(tmp_path / "broker", tls=files).start()
    try:
        secure = dict(tls=True, client_cert=str(box_cert.cert), client_key=str(box_cert.key))
        good = boxes(box_config(broker.port, ca_file=str(ca.cert), **secure), tmp_path / "a")
        good.record_event(make_event(0))
        good.start()
        assert wait_for(lambda: good.outbox.depth() == 0, 10)  # PUBACKed over TLS
        wary = boxes(
            box_config(broker.port, ca_file=str(stranger_ca.cert), **secure), tmp_path / "b"
        )
        wary.start()
        assert wait_for(lambda: "certificate verify failed" in (wary.health.last_error or ""), 5)
        assert not wary.connected
    finally:
        broker.stop(kill=True)


# -- catalogue updates -----------------------------------------------------------------------


def catalogue(version: int, scope: str = f"province/{PROVINCE}", extra: int = 0) -> dict:
    procedures = [
        make_procedure("1.001193", "Đăng ký khai sinh", ["làm giấy khai sinh"]),
        make_procedure("1.000894", "Đăng ký kết hôn", ["làm hôn thú"]),
        make_procedure("1.000656", "Đăng ký khai tử", ["làm giấy chứng tử", "báo tử"]),
    ]
    procedures[0]["result"] = f"Giấy khai sinh (danh mục phiên bản {version})"
    procedures += [
        make_procedure(f"9.{i:06d}", f"Thủ tục thử nghiệm số {i} về việc {i % 37}", [f"việc {i}"])
        for i in range(extra)
    ]
    return make_catalogue(procedures, version=version, scope=scope)


def still_answers(store: CatalogueStore) -> int:
    """The version the box answers from, after checking it still answers a real question."""
    doc = store.load()
    decision = Matcher(doc).match("làm giấy khai sinh")
    assert decision.action == "answer" and decision.procedure["code"] == "1.001193"
    return doc["version"]


def publish(port: int, manifest: dict, chunks: list[bytes], scope: str | None = None) -> None:
    """What the server does: chunks first, then the manifest, all retained, QoS 1."""
    scope = scope or manifest["scope"]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = [
            client.publish(topics.catalogue_chunk(scope, i), chunk, qos=1, retain=True)
            for i, chunk in enumerate(chunks)
        ]
        payload = json.dumps(manifest).encode()
        infos.append(client.publish(topics.catalogue_manifest(scope), payload, qos=1, retain=True))
        for info in infos:
            info.wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture(scope="module")
def central_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def key_file(tmp_path, central_key) -> Path:
    path = tmp_path / "central.pub"
    path.write_bytes(signing.public_pem(central_key.public_key()))
    return path


@pytest.fixture
def box_store(tmp_path) -> CatalogueStore:
    """The box's store, already answering from version 1 (scope all)."""
    store = CatalogueStore(tmp_path / "box" / "catalogue")
    store.install(catalogue(1, scope="all"))
    return store


@pytest.fixture
def update_box(tmp_path, broker, boxes, box_store, central_key):
    """Start an in-process box that follows catalogue updates; returns (link, applied list)."""

    def start() -> tuple[FleetLink, list[dict]]:
        applied: list[dict] = []
        updater = CatalogueUpdater(
            PLACE,
            CatalogueStore(box_store.folder),
            central_key.public_key(),
            on_applied=applied.append,
            settle_s=0.3,
        )
        link = boxes(box_config(broker.port), tmp_path / "box", updater=updater).start()
        assert wait_for(lambda: link.connected, 5)
        return link, applied

    return start


def ack_for(consumer: Consumer, version: int, timeout: float = 5) -> dict:
    assert wait_for(lambda: any(a["version"] == version for a in consumer.acks()), timeout), (
        f"no ack for version {version}: {consumer.acks()}"
    )
    return [a for a in consumer.acks() if a["version"] == version][-1]


@needs_mosquitto
def test_signed_update_is_applied_acked_and_not_reinstalled(
    tmp_path, broker, consumer, update_box, box_store, central_key
):
    link, applied = update_box()
    publish(broker.port, *packaging.package(catalogue(2), central_key, chunk_bytes=600))
    ack = ack_for(consumer, 2)
    assert (ack["result"], ack["reason"], ack["catalogue_version"]) == ("applied", None, 2)
    assert (ack["scope"], ack["kind"]) == (f"province/{PROVINCE}", "update")
    assert [doc["version"] for doc in applied] == [2]
    assert still_answers(box_store) == 2
    installed_at = box_store.current().installed_at
    # Restart: the same retained manifest comes again and is recognised as handled.
    link.stop()
    link, applied = update_box()
    time.sleep(0.5)
    assert len(consumer.acks()) == 1 and applied == []
    # Even with the state file lost, an equal version is "already applied", not reinstalled.
    link.stop()
    (box_store.folder.parent / STATE_NAME).unlink()
    link, applied = update_box()
    assert wait_for(lambda: len(consumer.acks()) == 2, 5)
    assert consumer.acks()[-1]["result"] == "applied" and applied == []
    assert box_store.current().installed_at == installed_at


def forged(key, other):
    return packaging.package(catalogue(3), other)


def tampered(key, other):
    manifest, chunks = packaging.package(catalogue(3), key)
    return dict(manifest, version=4), chunks


def wrong_hash(key, other):
    manifest, chunks = packaging.package(catalogue(3), key)
    return signing.sign(dict(manifest, sha256="0" * 64), key), chunks


def truncated_chunk(key, other):
    manifest, chunks = packaging.package(catalogue(3), key, chunk_bytes=600)
    return manifest, [chunks[0][:-7], *chunks[1:]]


def replayed_old_version(key, other):
    return packaging.package(catalogue(1), key)


def other_scope(key, other):
    return packaging.package(catalogue(3, scope="commune/99999"), key)


@needs_mosquitto
@pytest.mark.parametrize(
    ("make", "code"),
    [
        (forged, "bad_signature"),
        (tampered, "bad_signature"),
        (wrong_hash, "bad_hash"),
        (truncated_chunk, "bad_chunk"),
        (replayed_old_version, "stale_version"),
        (other_scope, "wrong_scope"),
    ],
)
def test_bad_update_is_rejected_and_the_old_catalogue_keeps_answering(
    broker, consumer, update_box, box_store, central_key, make, code
):
    _link, applied = update_box()
    publish(broker.port, *packaging.package(catalogue(2), central_key))
    assert ack_for(consumer, 2)["result"] == "applied"
    manifest, chunks = make(central_key, Ed25519PrivateKey.generate())
    publish(broker.port, manifest, chunks, scope=f"province/{PROVINCE}")
    assert wait_for(lambda: len(consumer.acks()) == 2, 5), consumer.acks()
    ack = consumer.acks()[-1]
    assert ack["result"] == "rejected" and ack["reason"].startswith(f"{code}: ")
    assert ack["catalogue_version"] == 2
    assert still_answers(box_store) == 2
    assert [doc["version"] for doc in applied] == [2]


@needs_mosquitto
def test_box_coming_online_later_gets_the_newest_retained_catalogue(
    broker, consumer, update_box, box_store, central_key
):
    publish(broker.port, *packaging.package(catalogue(5, scope="all"), central_key))
    publish(broker.port, *packaging.package(catalogue(7), central_key, chunk_bytes=500))
    _link, applied = update_box()
    ack = ack_for(consumer, 7)
    assert ack["result"] == "applied"
    assert wait_for(lambda: len(consumer.acks()) == 2, 5)
    older = ack_for(consumer, 5)  # applied first, or refused as older than 7: never last
    assert older["result"] == "applied" or older["reason"].startswith("stale_version: ")
    assert still_answers(box_store) == 7
    assert applied[-1]["version"] == 7


@needs_mosquitto
def test_signed_newer_rollback_goes_back_and_old_or_unsigned_ones_are_refused(
    broker, consumer, update_box, box_store, central_key
):
    early_rollback = packaging.package(catalogue(2), central_key, kind="rollback")
    time.sleep(0.01)
    _link, _applied = update_box()
    published = {}
    for version in (2, 3):
        published[version] = packaging.package(catalogue(version), central_key)
        publish(broker.port, *published[version])
        assert ack_for(consumer, version)["result"] == "applied"
    publish(broker.port, *early_rollback)  # ordered before version 3 was applied: too old
    assert wait_for(lambda: len(consumer.acks()) == 3, 5)
    assert consumer.acks()[-1]["reason"].startswith("stale_rollback: ")
    unsigned = packaging.package(catalogue(2), Ed25519PrivateKey.generate(), kind="rollback")
    publish(broker.port, *unsigned)
    assert wait_for(lambda: len(consumer.acks()) == 4, 5)
    assert consumer.acks()[-1]["reason"].startswith("bad_signature: ")
    assert still_answers(box_store) == 3
    publish(broker.port, *packaging.package(catalogue(2), central_key, kind="rollback"))
    assert wait_for(lambda: len(consumer.acks()) == 5, 5)
    ack = consumer.acks()[-1]
    assert (ack["result"], ack["kind"], ack["catalogue_version"]) == ("applied", "rollback", 2)
    assert still_answers(box_store) == 2
    assert box_store.load() == catalogue(2)
    # The update the rollback undid, replayed, cannot undo the rollback...
    publish(broker.port, *published[3])
    assert wait_for(lambda: len(consumer.acks()) == 6, 5)
    assert consumer.acks()[-1]["reason"].startswith("stale_version: ")
    assert still_answers(box_store) == 2
    # ...but a new update issued after it is applied as usual.
    publish(broker.port, *packaging.package(catalogue(4), central_key))
    assert ack_for(consumer, 4)["result"] == "applied"


@needs_mosquitto
@pytest.mark.parametrize("step", ["written", "previous_saved"])
def test_power_cut_during_install_leaves_the_previous_catalogue(
    tmp_path, broker, consumer, processes, key_file, box_store, central_key, update_box, step
):
    publish(broker.port, *packaging.package(catalogue(2), central_key, chunk_bytes=700))
    data_dir = box_store.folder.parent
    dying = BoxProcess.box(
        tmp_path, data_dir, box_config(broker.port), public_key=str(key_file), die_at=step
    )
    processes.append(dying)
    assert wait_for(lambda: dying.proc.poll() is not None, 15), "the box did not reach the cut"
    assert dying.proc.returncode == -signal.SIGKILL
    assert still_answers(CatalogueStore(box_store.folder)) == 1
    assert consumer.acks() == []
    _link, _applied = update_box()  # power back: the retained update is fetched again
    assert ack_for(consumer, 2)["result"] == "applied"
    assert still_answers(box_store) == 2


@needs_mosquitto
def test_the_servers_publisher_and_ack_tracker_see_the_box_apply(
    broker, update_box, box_store, central_key
):
    from hoixa.server import catalogue_publisher as publisher

    server = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="server", protocol=mqtt.MQTTv5)
    server.connect("127.0.0.1", broker.port)
    server.loop_start()
    try:
        tracker = publisher.AckTracker([PLACE])
        tracker.attach(server)
        _link, applied = update_box()
        scope = f"province/{PROVINCE}"
        publisher.publish_catalogue(server, catalogue(2, extra=200), central_key, chunk_bytes=900)
        assert wait_for(lambda: tracker.states(scope, 2)[DEVICE].state == "applied", 10)
        # A smaller version 3: the server deletes the chunks it no longer needs.
        publisher.publish_catalogue(server, catalogue(3), central_key, chunk_bytes=900)
        assert wait_for(lambda: tracker.states(scope, 3)[DEVICE].state == "applied", 10)
        assert tracker.states(scope, 3)[DEVICE].catalogue_version == 3
        assert tracker.invalid_count == 0
        assert [doc["version"] for doc in applied] == [2, 3]
        assert still_answers(box_store) == 3
    finally:
        server.disconnect()
        server.loop_stop()


@needs_mosquitto
def test_two_thousand_procedure_catalogue_arrives_in_chunks_and_applies(
    broker, consumer, update_box, box_store, central_key
):
    big = catalogue(9, extra=1997)
    manifest, chunks = packaging.package(big, central_key, chunk_bytes=4096)
    assert len(big["procedures"]) == 2000 and len(chunks) > 3
    _link, _applied = update_box()
    began = time.monotonic()
    publish(broker.port, manifest, chunks)
    assert ack_for(consumer, 9, timeout=20)["result"] == "applied"
    apply_s = time.monotonic() - began
    assert still_answers(box_store) == 9
    assert len(box_store.load()["procedures"]) == 2000
    print(f"\n2,000-procedure catalogue ({len(chunks)} chunks) applied in {apply_s:.2f} s")


# -- the updater's own rules, without a broker -----------------------------------------------


def fed_updater(tmp_path, key, settle_s=0.2) -> tuple[CatalogueUpdater, list[dict]]:
    store = CatalogueStore(tmp_path / "catalogue")
    store.install(catalogue(1, scope="all"))
    acks: list[dict] = []
    updater = CatalogueUpdater(
        PLACE, store, key.public_key(), send_ack=acks.append, settle_s=settle_s
    )
    return updater, acks


def feed(updater, manifest, chunks, scope=f"province/{PROVINCE}", order="chunks_first"):
    messages_in = [(topics.catalogue_chunk(scope, i), c) for i, c in enumerate(chunks)]
    head = (topics.catalogue_manifest(scope), json.dumps(manifest).encode())
    for topic, payload in [*messages_in, head] if order == "chunks_first" else [head, *messages_in]:
        updater.process(topic, payload)


def test_chunks_may_come_before_or_after_their_manifest(tmp_path, central_key):
    updater, acks = fed_updater(tmp_path, central_key)
    feed(
        updater,
        *packaging.package(catalogue(2), central_key, chunk_bytes=500),
        order="manifest_first",
    )
    feed(updater, *packaging.package(catalogue(3), central_key, chunk_bytes=500))
    assert [(a["version"], a["result"]) for a in acks] == [(2, "applied"), (3, "applied")]


def test_a_box_still_on_the_shipped_catalogue_takes_the_servers_first_version(
    tmp_path, central_key
):
    # The shipped catalogue carries a version of its own (2 or more); a new server numbers
    # its catalogues from 1. A fresh box must not refuse them as older.
    assert cat.load_default()["version"] > 1
    store = CatalogueStore(tmp_path / "catalogue")
    acks: list[dict] = []
    updater = CatalogueUpdater(PLACE, store, central_key.public_key(), send_ack=acks.append)
    feed(updater, *packaging.package(catalogue(1), central_key, chunk_bytes=500))
    assert [(a["version"], a["result"]) for a in acks] == [(1, "applied")]
    assert still_answers(store) == 1
    # From then on the server's sequence rules: the same version again is not reinstalled.
    feed(updater, *packaging.package(catalogue(1), central_key, chunk_bytes=500))
    assert [a["result"] for a in acks] == ["applied", "applied"]
    assert store.current().version == 1


def test_stale_chunks_of_an_older_manifest_wait_for_the_right_ones(tmp_path, central_key):
    updater, acks = fed_updater(tmp_path, central_key, settle_s=0.2)
    _old_manifest, old_chunks = packaging.package(catalogue(2), central_key, chunk_bytes=500)
    new_manifest, new_chunks = packaging.package(catalogue(3), central_key, chunk_bytes=500)
    assert len(old_chunks) == len(new_chunks) > 1
    feed(updater, {}, old_chunks)  # old retained chunks in memory; a manifest with no version
    assert acks == []  # is refused without an ack (an ack must name the version it answers)
    feed(updater, {"schema": "hoixa.manifest/1", "version": 2}, [])
    assert acks[-1]["reason"].startswith("invalid_manifest: ") and acks[-1]["version"] == 2
    scope = f"province/{PROVINCE}"
    updater.process(topics.catalogue_manifest(scope), json.dumps(new_manifest).encode())
    assert len(acks) == 1  # every index is there, but with the older content: wait
    for i, chunk in enumerate(new_chunks):
        updater.process(topics.catalogue_chunk(scope, i), chunk)
    assert [(a["version"], a["result"]) for a in acks[1:]] == [(3, "applied")]
    # A chunk that never gets fixed is refused once after settle_s; a late fix still applies.
    manifest, chunks = packaging.package(catalogue(4), central_key, chunk_bytes=500)
    feed(updater, manifest, [*chunks[:-1], b"x" + chunks[-1][1:]])
    time.sleep(0.25)
    updater.tick()
    updater.tick()
    assert [a["reason"].split(":")[0] for a in acks[2:]] == ["bad_chunk"]
    updater.process(topics.catalogue_chunk(scope, len(chunks) - 1), chunks[-1])
    assert (acks[-1]["version"], acks[-1]["result"]) == (4, "applied")
    assert updater.store.current().version == 4


def test_a_chunk_that_never_comes_is_reported_once_and_applied_when_it_does(tmp_path, central_key):
    updater, acks = fed_updater(tmp_path, central_key)
    updater.missing_s = 0.2
    scope = f"province/{PROVINCE}"
    manifest, chunks = packaging.package(catalogue(2), central_key, chunk_bytes=500)
    last = topics.catalogue_chunk(scope, len(chunks) - 1)
    updater.process(last, chunks[-1])
    updater.process(last, b"")  # deleted again (an empty retained message)
    feed(updater, manifest, chunks[:-1])
    assert acks == []  # waiting for it
    time.sleep(0.25)
    updater.tick()
    updater.tick()
    assert [a["reason"].split(":")[0] for a in acks] == ["missing_chunk"]
    assert updater.store.current().version == 1
    updater.process(last, chunks[-1])
    assert (acks[-1]["version"], acks[-1]["result"]) == (2, "applied")
