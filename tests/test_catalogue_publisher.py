"""Publishing catalogues and tracking acks on a real Mosquitto with the fleet's ACL, as the
server account; boxes are MQTT v5 clients logged in with their own accounts."""

from __future__ import annotations

import copy
import functools
import json
import logging
import re
import shutil
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hoixa.contract import catalogue as cat
from hoixa.contract import messages, packaging, topics
from hoixa.server import broker_auth
from hoixa.server.catalogue_publisher import (
    AckTracker,
    PublishError,
    publish_catalogue,
    read_retained,
)
from hoixa.server.mosquitto import Mosquitto

pytestmark = pytest.mark.skipif(
    not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()),
    reason="mosquitto is not installed",
)

WAIT_S = 5.0
SCOPE = "province/79"
PROTOCOL_DOC = Path(__file__).resolve().parents[1] / "docs" / "fleet-protocol.md"

BOXES = {
    name: broker_auth.DeviceAccount(name, province, commune, broker_auth.new_password())
    for name, province, commune in (
        ("box-a", "79", "26734"),
        ("box-b", "79", "26737"),
        ("box-c", "01", "00004"),
        ("box-d", "79", "26734"),
    )
}
SERVER_PASSWORD = broker_auth.new_password()


def connect(port: int, username: str, password: str) -> mqtt.Client:
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"{username}-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set(username, password)
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: connected.set() if rc == 0 else None
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    assert connected.wait(WAIT_S), f"{username} could not connect"
    return client


class Box:
    """A box's catalogue subscription, recording every message in arrival order."""

    def __init__(self, port: int, name: str):
        self.account = BOXES[name]
        self.client = connect(port, name, self.account.password)
        self._cond = threading.Condition()
        self.arrivals: list[tuple[str, bytes, bool]] = []
        self._answers: dict[int, list] = {}
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_ack
        self.client.on_unsubscribe = self._on_ack
        self.client.on_publish = lambda c, u, mid, rc, p: self._on_ack(c, u, mid, [rc], p)

    def _on_message(self, client, userdata, msg) -> None:
        with self._cond:
            self.arrivals.append((msg.topic, msg.payload, msg.retain))
            self._cond.notify_all()

    def _on_ack(self, client, userdata, mid, reason_codes, properties) -> None:
        with self._cond:
            self._answers[mid] = reason_codes
            self._cond.notify_all()

    def _wait(self, mid: int) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: mid in self._answers, WAIT_S)
            assert not any(rc.is_failure for rc in self._answers[mid]), self._answers[mid]

    def subscribe(self, scope: str) -> None:
        self._wait(self.client.subscribe(topics.catalogue_filter(scope), qos=1)[1])

    def retained(self, scope: str) -> tuple[dict | None, dict[int, bytes]]:
        """The retained manifest and chunks: everything a box connecting now would get.

        Subscribe, then unsubscribe: Mosquitto sends a subscription's retained messages
        before it answers the next packet, so after the UNSUBACK all of them are here.
        """
        with self._cond:
            self.arrivals.clear()
        self.subscribe(scope)
        self._wait(self.client.unsubscribe(topics.catalogue_filter(scope))[1])
        manifest, chunks = None, {}
        for topic, payload, _ in self.arrivals:
            _, what, index = topics.parse_catalogue_topic(topic)
            if what == "manifest":
                manifest = messages.decode(payload, "hoixa.manifest/1")
            else:
                chunks[index] = payload
        return manifest, chunks

    def send_ack(self, payload: bytes) -> None:
        self._wait(self.client.publish(self.account.place.ack(), payload, qos=1).mid)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker(tmp_path):
    """A broker per test: each starts with nothing retained."""
    folder = tmp_path
    files = broker_auth.BrokerFiles(folder / "passwd", folder / "acl")
    files.write_all(BOXES.values(), SERVER_PASSWORD)
    broker = Mosquitto(
        folder / "broker", password_file=files.password_file, acl_file=files.acl_file
    )
    yield broker.start()
    broker.stop()


@pytest.fixture
def server(broker):
    client = connect(broker.port, broker_auth.DEFAULT_SERVER_USERNAME, SERVER_PASSWORD)
    yield client
    client.disconnect()
    client.loop_stop()


@pytest.fixture
def boxes(broker):
    opened: list[Box] = []

    def open_box(name: str) -> Box:
        opened.append(Box(broker.port, name))
        return opened[-1]

    yield open_box
    for box in opened:
        box.close()


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@functools.cache
def default_catalogue() -> cat.Catalogue:
    return cat.load_default()


def catalogue_for(scope: str, version: int, procedures: int | None = None) -> cat.Catalogue:
    doc = copy.deepcopy(default_catalogue())
    doc.update(scope=scope, version=version)
    if procedures is not None:
        doc["procedures"] = doc["procedures"][:procedures]
    return doc


# -- publishing ------------------------------------------------------------------------------


def test_a_box_connecting_later_gets_the_whole_catalogue(server, boxes, key):
    doc = catalogue_for(SCOPE, default_catalogue()["version"] + 1)
    manifest = publish_catalogue(server, doc, key, chunk_bytes=2500)
    assert len(manifest["chunks"]) >= 5 and manifest["scope"] == SCOPE

    late_box = boxes("box-b")  # connects after the publication
    retained_manifest, chunks = late_box.retained(SCOPE)
    assert retained_manifest == manifest
    assert all(retain for _, _, retain in late_box.arrivals)
    assert packaging.unpack(retained_manifest, chunks, key.public_key()) == doc


def test_a_smaller_version_replaces_the_chunks_and_the_manifest_comes_last(server, boxes, key):
    version = default_catalogue()["version"] + 1
    big = publish_catalogue(server, catalogue_for(SCOPE, version), key, chunk_bytes=2000)
    watcher = boxes("box-a")  # online during the next publication
    watcher.subscribe(SCOPE)

    small_doc = catalogue_for(SCOPE, version + 1, procedures=3)
    small = publish_catalogue(server, small_doc, key, chunk_bytes=2000)
    assert 1 <= len(small["chunks"]) < len(big["chunks"])

    manifest, chunks = boxes("box-d").retained(SCOPE)
    assert manifest == small
    assert sorted(chunks) == list(range(len(small["chunks"])))  # no leftover of version 20
    assert packaging.unpack(manifest, chunks, key.public_key()) == small_doc

    # What the online box saw live (retain flag off; the retained copies of version 2 came at
    # subscription): new chunks, then the manifest, then the removal of the old chunks.
    manifest_topic = topics.catalogue_manifest(SCOPE)
    removed = len(big["chunks"]) - len(small["chunks"])
    with watcher._cond:
        assert watcher._cond.wait_for(
            lambda: sum(1 for _, p, r in watcher.arrivals if not p and not r) == removed, WAIT_S
        )
        seen = [(t, p) for t, p, retained in watcher.arrivals if not retained]
    at = [t for t, _ in seen].index(manifest_topic)
    assert sorted(topics.parse_catalogue_topic(t)[2] for t, _ in seen[:at]) == list(
        range(len(small["chunks"]))
    )
    cleared = [topics.parse_catalogue_topic(t)[2] for t, p in seen[at + 1 :]]
    assert cleared == list(range(len(small["chunks"]), len(big["chunks"])))
    assert not any(p for _, p in seen[at + 1 :])


def test_versions_are_one_sequence_across_scopes_and_only_a_rollback_goes_back(server, boxes, key):
    scope = "commune/26734"
    publish_catalogue(server, catalogue_for(scope, 5, procedures=4), key)
    publish_catalogue(server, catalogue_for("all", 6, procedures=3), key)
    # Older; the same version with other content; a version another scope already has.
    for version, procedures in ((4, 4), (5, 5), (6, 4)):
        with pytest.raises(PublishError, match="not above"):
            publish_catalogue(server, catalogue_for(scope, version, procedures), key)
    publish_catalogue(server, catalogue_for(scope, 5, procedures=4), key)  # a retry is fine
    retained = read_retained(server, scope)
    assert {s: m["version"] for s, m in retained.manifests.items()} == {scope: 5, "all": 6}
    assert retained.next_version() == 7
    publish_catalogue(server, catalogue_for(scope, 7, procedures=4), key)

    rollback = publish_catalogue(
        server, catalogue_for(scope, 4, procedures=2), key, kind="rollback"
    )
    manifest, chunks = boxes("box-a").retained(scope)
    assert manifest == rollback and manifest["kind"] == "rollback"
    assert packaging.unpack(manifest, chunks, key.public_key())["version"] == 4


def test_a_refused_publication_raises_and_leaves_the_broker_as_it_was(broker, server, boxes, key):
    scope = "commune/26737"
    before = publish_catalogue(server, catalogue_for(scope, 2, procedures=2), key)
    account = BOXES["box-b"]  # a box account may read its scope but not write it
    intruder = connect(broker.port, account.device_id, account.password)
    try:
        with pytest.raises(PublishError, match="refused") as err:
            publish_catalogue(intruder, catalogue_for(scope, 3, procedures=2), key)
        assert "(135)" in str(err.value)
    finally:
        intruder.disconnect()
        intruder.loop_stop()
    manifest, chunks = boxes("box-b").retained(scope)
    assert manifest == before
    assert packaging.unpack(manifest, chunks, key.public_key())["version"] == 2


def test_a_client_without_mqtt5_is_refused(broker, key):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    with pytest.raises(PublishError, match="v5"):
        publish_catalogue(client, catalogue_for(SCOPE, 99), key)


# -- acks ------------------------------------------------------------------------------------


def ack(device: str, result: str, *, version: int = 30, scope: str = SCOPE, **extra) -> bytes:
    doc = {
        "schema": "hoixa.ack/1",
        "device_id": device,
        "at": messages.utc_now(),
        "scope": scope,
        "version": version,
        "kind": "update",
        "result": result,
        "reason": None if result == "applied" else "bad_signature: signed with another key",
        "catalogue_version": version if result == "applied" else version - 1,
        **extra,
    }
    return json.dumps(doc).encode()


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_ack_tracker_follows_each_expected_box(server, boxes, caplog):
    tracker = AckTracker(account.place for account in BOXES.values())
    tracker.attach(server)
    a, b, c = boxes("box-a"), boxes("box-b"), boxes("box-c")
    caplog.set_level(logging.WARNING, logger="hoixa.server.catalogue_publisher")

    b.send_ack(ack("box-b", "rejected"))
    a.send_ack(ack("box-a", "applied"))
    invalid = [
        b"\xff not even utf-8",
        b'{"schema": "hoixa.ack/1", "device_id": "box-a"}',  # fields missing
        ack("box-b", "applied"),  # box-a speaking for box-b
        ack("box-a", "applied", scope="province/01"),  # a scope box-a does not follow
        ack("box-a", "applied", result_detail="extra field"),
    ]
    for payload in invalid:
        a.send_ack(payload)
    c.send_ack(ack("box-c", "applied", scope="province/01"))  # valid, another scope
    wait_until(lambda: tracker.invalid_count == len(invalid), "the invalid acks")
    wait_until(lambda: len(tracker.acks(SCOPE, 30)) == 2, "box-a's and box-b's acks")

    states = tracker.states(SCOPE, 30)
    assert set(states) == {"box-a", "box-b", "box-d"}  # box-c follows province 01
    assert states["box-a"].state == "applied" and states["box-a"].catalogue_version == 30
    assert states["box-b"].state == "rejected"
    assert states["box-b"].reason.startswith("bad_signature")
    assert states["box-d"].state == "pending"
    assert tracker.states(SCOPE, 29)["box-a"].state == "pending"  # acks are per version
    assert [r for _, r in tracker.recent_invalid][2].startswith("device_id 'box-b'")
    assert sum("invalid ack" in r.getMessage() for r in caplog.records) == len(invalid)

    b.send_ack(ack("box-b", "applied"))  # box-b tries again and succeeds; tracker still alive
    wait_until(lambda: tracker.states(SCOPE, 30)["box-b"].state == "applied", "box-b's retry")
    wait_until(lambda: "box-c" in tracker.acks("province/01", 30), "box-c's ack")


def test_a_late_delivery_of_an_older_ack_does_not_win():
    tracker = AckTracker([BOXES["box-a"].place])
    topic = BOXES["box-a"].place.ack()
    newer = ack("box-a", "applied", at="2026-11-23T10:00:00.5Z")
    older = ack("box-a", "rejected", at="2026-11-23T10:00:00Z")
    assert tracker.handle(topic, newer) is not None
    assert tracker.handle(topic, older) is not None
    assert tracker.states(SCOPE, 30)["box-a"].state == "applied"
    assert tracker.handle(BOXES["box-a"].place.events(), newer) is None  # not an ack topic
    assert tracker.handle(topic, ack("box-a", "applied", at="2026-13-45T10:00:00Z")) is None
    assert tracker.invalid_count == 2


# -- the protocol document -------------------------------------------------------------------


def test_every_example_payload_in_the_protocol_document_is_valid():
    if not PROTOCOL_DOC.exists():
        pytest.skip(f"{PROTOCOL_DOC} not written yet")
    blocks = re.findall(r"```json\n(.*?)```", PROTOCOL_DOC.read_text("utf-8"), re.S)
    kinds = []
    for block in blocks:
        doc = json.loads(block)
        messages.validate(doc, doc["schema"])
        kinds.append(doc["schema"])
    assert set(kinds) == set(messages.KINDS)
