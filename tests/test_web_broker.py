"""The console with a real Mosquitto: publishing from the form signs and puts the catalogue
on the broker, boxes' acks come back through the ingestion worker and show per box; and
`hoixa server run` serves the console and stores what boxes send, in one process."""

# ruff: noqa: F811  (the fixtures imported from test_web_console are pytest parameters here)
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from test_web_console import (  # noqa: F401  (fixtures)
    PASSWORD,
    SECRET,
    clock,
    csrf_of,
    database,
    database_template,
    login,
)

from hoixa.contract import catalogue as cat
from hoixa.contract import messages, packaging, signing, topics
from hoixa.server.ingest import IngestWorker
from hoixa.server.mosquitto import Mosquitto, free_port
from hoixa.server.web.app import create_app
from hoixa.server.web.catalogue_ops import broker_publisher

pytestmark = pytest.mark.skipif(
    not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()),
    reason="mosquitto is not installed",
)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def broker(tmp_path):
    server = Mosquitto(tmp_path / "broker").start()
    yield server
    server.stop()


class Box:
    """A box's MQTT client: receives the retained catalogue of its scopes, sends acks."""

    def __init__(self, port: int, place: topics.DevicePlace):
        self.place = place
        self.retained: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=place.device_id, protocol=mqtt.MQTTv5
        )
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        for scope in place.scopes():
            self.client.subscribe(topics.catalogue_filter(scope), qos=1)

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.retained[msg.topic] = msg.payload

    def catalogue(self, scope: str) -> tuple[dict, dict] | None:
        """(manifest, catalogue) once every chunk has arrived and verified, else None."""
        with self.lock:
            raw = self.retained.get(topics.catalogue_manifest(scope))
            if not raw:
                return None
            manifest = json.loads(raw)
            chunks = [
                self.retained.get(topics.catalogue_chunk(scope, i))
                for i in range(len(manifest["chunks"]))
            ]
        if any(c is None for c in chunks):
            return None
        return manifest, dict(enumerate(chunks))

    def ack(self, scope: str, version: int, result: str, reason: str | None = None) -> None:
        doc = {
            "schema": "hoixa.ack/1",
            "device_id": self.place.device_id,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "scope": scope,
            "version": version,
            "kind": "update",
            "result": result,
            "catalogue_version": version if result == "applied" else 1,
        }
        if reason:
            doc["reason"] = reason
        info = self.client.publish(self.place.ack(), messages.encode(doc, "hoixa.ack/1"), qos=1)
        info.wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(condition, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_publishing_from_the_console_reaches_boxes_and_their_acks_come_back(
    broker, database, clock, tmp_path
):
    public_key = signing.generate_keypair(tmp_path / "central.key", tmp_path / "central.pub")
    publisher = broker_publisher("127.0.0.1", broker.port, str(tmp_path / "central.key"))
    worker = IngestWorker(
        database, "127.0.0.1", broker.port, group=None, client_id="ingest-web-test"
    ).start()
    boxes = [
        Box(broker.port, topics.DevicePlace("79", "26734", "box-a")),
        Box(broker.port, topics.DevicePlace("79", "26737", "box-b")),
        Box(broker.port, topics.DevicePlace("01", "00004", "box-c")),
    ]
    try:
        assert worker.wait_connected(), "the ingestion worker did not connect"
        app = create_app(database, secret_key=SECRET, publisher=publisher, clock=clock)
        client = login(app, "tinh79")
        page = client.get("/catalogue/1?scope=all").text
        response = client.post(
            "/catalogue/publish",
            data={"csrf": csrf_of(page), "scope": "all", "version": "1", "target": "province/79"},
        )
        assert response.headers["location"] == "/catalogue/2?scope=province/79"

        box_a, box_b, box_c = boxes
        wait_until(lambda: box_a.catalogue("province/79"), "the catalogue on box-a")
        manifest, chunks = box_a.catalogue("province/79")
        signing.verify(manifest, public_key)  # signed with the central key
        content = packaging.unpack(manifest, chunks, public_key)
        assert content["version"] == 2 and content["scope"] == "province/79"
        cat.validate(content)
        assert box_c.catalogue("province/79") is None  # not subscribed to province 79

        box_a.ack("province/79", 2, "applied")
        box_b.ack("province/79", 2, "rejected", "bad_signature: chữ ký không khớp")

        def shown() -> bool:
            text = client.get("/catalogue/2?scope=province/79").text
            return "1 đã áp dụng" in text and "1 từ chối" in text

        wait_until(shown, "both acks on the catalogue page")
        text = client.get("/catalogue/2?scope=province/79").text
        assert "chữ ký không khớp" in text and "0 đang chờ" in text
    finally:
        for box in boxes:
            box.close()
        worker.stop()


def test_hoixa_server_run_serves_the_console_and_stores_what_boxes_send(broker, tmp_path):
    data = tmp_path / "data"
    port = free_port()
    # Stand in for systemd: the notify socket the unit (Type=notify) would give it.
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(30)
    env = dict(os.environ, PYTHONUNBUFFERED="1", NOTIFY_SOCKET=str(tmp_path / "notify"))
    hoixa = [sys.executable, "-m", "hoixa.cli"]
    added = subprocess.run(
        [*hoixa, "server", "add-user", "trung", "--role", "central", "--data-dir", str(data)],
        input=PASSWORD + "\n",
        text=True,
        capture_output=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )
    assert added.returncode == 0, added.stderr
    server = subprocess.Popen(
        [
            *hoixa,
            "server",
            "run",
            "--data-dir",
            str(data),
            "--broker",
            f"127.0.0.1:{broker.port}",
            "--listen",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    box = None
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert server.poll() is None, server.stdout.read()
            try:
                return httpx.get(f"{base}/login", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, "the console to answer", timeout=30)
        # READY=1 once the console answers and the worker runs, then watchdog pings.
        assert notify.recv(1024).startswith(b"READY=1")
        assert notify.recv(1024) == b"WATCHDOG=1"
        assert (data / "hoixa.db").exists()
        assert (data / "console-secret").stat().st_mode & 0o077 == 0

        device = f"box-{uuid.uuid4().hex[:8]}"
        box = Box(broker.port, topics.DevicePlace("48", "20194", device))
        box.ack("all", 1, "applied")

        def listed() -> bool:
            boxes = httpx.get(f"{base}/api/v1/boxes", auth=("trung", PASSWORD), timeout=5)
            return any(b["device_id"] == device for b in boxes.json())

        wait_until(listed, "the box's ack to reach the database through the worker")
        boxes = httpx.get(f"{base}/api/v1/boxes", auth=("trung", PASSWORD), timeout=5).json()
        mine = next(b for b in boxes if b["device_id"] == device)
        assert (mine["province"], mine["commune"], mine["enrolled"]) == ("48", "20194", False)
        assert httpx.get(f"{base}/api/v1/boxes", timeout=5).status_code == 401
    finally:
        notify.close()
        if box is not None:
            box.close()
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode == 0, server.stdout.read()


def test_the_console_app_is_usable_with_testclient_alone(database, clock):
    """Without a publisher configured, the publish form is replaced by an explanation."""
    app = create_app(database, secret_key=SECRET, clock=clock)
    client = login(app, "trung")
    page = client.get("/catalogue/1?scope=all").text
    assert "chưa thể phát hành" in page and 'action="/catalogue/publish"' not in page
    response = client.post(
        "/catalogue/publish",
        data={"csrf": csrf_of(page), "scope": "all", "version": "1", "target": "all"},
    )
    assert response.status_code == 503
    assert TestClient(app).get("/static/console.css").status_code == 200
