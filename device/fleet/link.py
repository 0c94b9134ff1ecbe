"""The box's MQTT link: reports leave the outbox in order, and nothing is lost on the way.

Delivery is at-least-once: a row leaves the outbox only when the broker's PUBACK for it says
success; anything in flight when the link drops stays queued and is sent again after the
reconnect. The server counts each event_id once, so every recorded event is counted exactly
once however often it is resent.

One paho client per connection (MQTT v5, client id = device id). Its in-memory queue and
message ids die with the connection: the outbox is the only source of truth. Reconnection is
our own loop with exponential backoff and FULL jitter, so 3,000 boxes that lose the broker at
the same moment do not come back at the same moment.

Presence: the Last Will is a retained status {online: false, reason: "lost"}; on connect the
box publishes a retained status {online: true, reason: "connected", …health}, then one every
`heartbeat_seconds` ("heartbeat"), and {online: false, reason: "shutdown"} on a clean stop.

Threads: `connection` (connect, paho network loop, backoff), `sender` (outbox → broker, acks,
heartbeats) and the updater's own. paho callbacks never block: acks go through a queue.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from hoixa.contract import catalogue as cat
from hoixa.contract import messages, signing, topics
from hoixa.device.catalogue_store import CatalogueStore
from hoixa.device.config import DeviceConfig, FleetConfig
from hoixa.device.fleet.health import HealthState, status_payload
from hoixa.device.fleet.outbox import Outbox
from hoixa.device.fleet.updates import CatalogueUpdater

log = logging.getLogger(__name__)

EVENT, STATUS, ACK = "hoixa.event/1", "hoixa.status/1", "hoixa.ack/1"

# paho counts every QoS 1 publish against its in-flight limit, statuses included. It gets this
# many slots more than the outbox window, so a status (connected, heartbeat, shutdown) never
# takes an outbox row's slot, and never waits behind rows whose acks are lost: a shutdown
# status stuck there is never sent, and the box would stay "online" after a clean stop.
STATUS_SLOTS = 4


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base·2ⁿ))."""

    base_s: float = 2.0
    cap_s: float = 300.0

    def ceiling(self, attempt: int) -> float:
        return min(self.cap_s, self.base_s * 2.0 ** min(max(attempt, 0), 60))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        return (rng or random).uniform(0.0, self.ceiling(attempt))


@dataclass(frozen=True)
class LinkTuning:
    """Knobs that are not in the box's configuration file (tests shrink them)."""

    backoff: Backoff = field(default_factory=Backoff)
    max_inflight: int = 20  # outbox rows sent and not yet acknowledged, at once
    max_refusals: int = 3  # refusals (PUBACK >= 0x80) before a row is moved aside
    retry_refused_s: float = 60.0  # a refused row is tried again after this long
    stable_s: float = 60.0  # a connection that lasted this long resets the backoff
    connect_timeout_s: float = 10.0
    stop_grace_s: float = 2.0  # on stop, wait this long for acks of rows in flight


class FleetLink:
    """Send the outbox to the broker, publish presence, feed catalogue messages to the updater."""

    def __init__(
        self,
        config: FleetConfig,
        outbox: Outbox,
        *,
        health: HealthState | None = None,
        data_dir: Path | None = None,
        updater: CatalogueUpdater | None = None,
        tuning: LinkTuning | None = None,
    ):
        self.config = config
        self.place = topics.DevicePlace(config.province, config.commune, config.device_id)
        self.outbox = outbox
        self.health = health or HealthState()
        self.data_dir = data_dir
        self.updater = updater
        self.tuning = tuning or LinkTuning()
        if updater is not None and updater.send_ack is None:
            updater.send_ack = self.record_ack
        self._lock = threading.Lock()
        self._client: mqtt.Client | None = None
        self._generation = 0
        self._connected_generation = 0  # generation whose CONNACK succeeded, 0: none
        self._acks: queue.Queue[tuple[int, int, ReasonCode]] = queue.Queue()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.connects = 0  # successful connections so far (tests, diagnostics)

    # -- recording (any thread; never touches the network) -------------------------------

    def record_event(self, payload: dict[str, Any]) -> int:
        """Validate and queue one event durably; returns its outbox row id."""
        if payload.get("device_id") != self.place.device_id:
            raise messages.PayloadError("event device_id is not this box's")
        plain = messages.encode(payload, EVENT)  # refuse before anything is dropped for it

        def stamped(dropped: int) -> bytes:
            return (
                messages.encode(dict(payload, dropped_before=dropped), EVENT) if dropped else plain
            )

        row = self.outbox.put(self.place.events(), stamped)
        self._wake.set()
        return row

    def record_ack(self, payload: dict[str, Any]) -> int:
        row = self.outbox.put(self.place.ack(), messages.encode(payload, ACK))
        self._wake.set()
        return row

    # -- life cycle -----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected_generation != 0 and self._connected_generation == self._generation

    def start(self) -> FleetLink:
        if self.updater is not None:
            self.updater.start()
        for name, target in (
            ("fleet-connection", self._connection_loop),
            ("fleet-sender", self._send_loop),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Finish in-flight sends briefly, publish the retained 'shutdown' status, disconnect."""
        self._stopping.set()
        self._wake.set()
        sender = next((t for t in self._threads if t.name == "fleet-sender"), None)
        if sender is not None:
            sender.join(self.tuning.stop_grace_s + 5)
        with self._lock:
            client, live = self._client, self.connected
        if client is not None:
            if live:
                try:
                    info = client.publish(
                        self.place.status(),
                        self._status_bytes(False, "shutdown"),
                        qos=1,
                        retain=True,
                    )
                    info.wait_for_publish(timeout=self.tuning.stop_grace_s)
                except (RuntimeError, ValueError) as exc:
                    log.warning("could not publish the shutdown status: %s", exc)
            client.disconnect()
        for thread in self._threads:
            thread.join(self.tuning.connect_timeout_s + 5)
        self._threads.clear()
        if self.updater is not None:
            self.updater.stop()

    def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Poll `condition` until true or `timeout` (tools and tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.02)
        return condition()

    # -- connection -----------------------------------------------------------------------

    def _new_client(self, generation: int) -> mqtt.Client:
        cfg = self.config
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=cfg.device_id,
            protocol=mqtt.MQTTv5,
            userdata=generation,
            reconnect_on_failure=False,
        )
        client.username_pw_set(cfg.username or cfg.device_id, cfg.password or None)
        if cfg.tls:
            client.tls_set(
                ca_certs=cfg.ca_file or None,
                certfile=cfg.client_cert or None,
                keyfile=cfg.client_key or None,
            )
        client.will_set(
            self.place.status(),
            messages.encode(status_payload(cfg.device_id, online=False, reason="lost"), STATUS),
            qos=1,
            retain=True,
        )
        client.max_inflight_messages_set(self.tuning.max_inflight + STATUS_SLOTS)
        client.connect_timeout = self.tuning.connect_timeout_s
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _connection_loop(self) -> None:
        attempt = 0
        while not self._stopping.wait(self.tuning.backoff.delay(attempt)):
            with self._lock:
                self._generation += 1
                generation = self._generation
            client = self._new_client(generation)
            try:
                client.connect(
                    self.config.broker_host,
                    self.config.broker_port,
                    keepalive=self.config.keepalive_seconds,
                    clean_start=True,
                )
            except (OSError, ValueError) as exc:
                self.health.note_error(f"cannot reach the broker: {exc}")
                log.warning(
                    "cannot reach broker %s:%s: %s",
                    self.config.broker_host,
                    self.config.broker_port,
                    exc,
                )
                attempt += 1
                continue
            with self._lock:
                if self._stopping.is_set():
                    client.disconnect()
                    return
                self._client = client
            began = time.monotonic()
            try:
                client.loop_forever(timeout=0.5)
            except Exception:
                log.exception("MQTT network loop failed")
            with self._lock:
                self._client = None
                was_connected = self._connected_generation == generation
                self._connected_generation = 0
            client.on_disconnect = None
            with contextlib.suppress(Exception):  # make sure the socket is closed
                client.disconnect()
            self._wake.set()
            stable = was_connected and time.monotonic() - began >= self.tuning.stable_s
            attempt = 0 if stable else attempt + 1

    def _on_connect(self, client, generation, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.health.note_error(f"broker refused the connection: {reason_code}")
            log.error("broker refused the connection: %s", reason_code)
            return
        self.connects += 1
        client.publish(
            self.place.status(), self._status_bytes(True, "connected"), qos=1, retain=True
        )
        if self.updater is not None:
            for topic_filter in self.updater.subscriptions():
                client.subscribe(topic_filter, qos=1)
        with self._lock:
            self._connected_generation = generation
        log.info("connected to %s:%s", self.config.broker_host, self.config.broker_port)
        self._wake.set()

    def _on_disconnect(self, client, generation, flags, reason_code, properties) -> None:
        with self._lock:
            if self._connected_generation == generation:
                self._connected_generation = 0
        log.info("disconnected: %s", reason_code)
        self._wake.set()

    def _on_publish(self, client, generation, mid, reason_code, properties) -> None:
        self._acks.put((generation, mid, reason_code))
        self._wake.set()

    def _on_message(self, client, generation, message) -> None:
        if self.updater is not None and message.topic.startswith(f"{topics.ROOT}/catalogue/"):
            self.updater.receive(message.topic, message.payload)

    def _status_bytes(self, online: bool, reason: str) -> bytes:
        doc = status_payload(
            self.config.device_id,
            online=online,
            reason=reason,
            health=self.health,
            data_dir=self.data_dir,
            queue_depth=self.outbox.depth(),
            dropped_events=self.outbox.dropped_total(),
        )
        return messages.encode(doc, STATUS)

    # -- sending --------------------------------------------------------------------------

    def _send_loop(self) -> None:
        sender = _Sender(self)
        while True:
            self._wake.wait(0.5)
            self._wake.clear()
            try:
                if self._stopping.is_set():
                    sender.finish(self.tuning.stop_grace_s)
                    return
                sender.step()
            except Exception:
                log.exception("sending from the outbox failed; retrying")
                time.sleep(0.5)


class _Sender:
    """The sender thread's state: which outbox rows are in flight on which connection."""

    def __init__(self, link: FleetLink):
        self.link = link
        self.generation = 0
        self.inflight: dict[int, int] = {}  # mid → outbox row id
        self.last_sent = 0  # highest row id sent on this connection
        self.refused_at: float | None = None
        self.next_heartbeat = 0.0

    def step(self) -> None:
        link = self.link
        with link._lock:
            client = link._client
            generation = link._connected_generation if link.connected else 0
        self.take_acks()
        if generation != self.generation:  # a new connection (or none): resend what was in flight
            self.generation, self.inflight, self.last_sent = generation, {}, 0
            self.next_heartbeat = time.monotonic() + link.config.heartbeat_seconds
        if not generation or client is None:
            return
        self.send(client)
        if time.monotonic() >= self.next_heartbeat:
            self.next_heartbeat = time.monotonic() + link.config.heartbeat_seconds
            client.publish(
                link.place.status(), link._status_bytes(True, "heartbeat"), qos=1, retain=True
            )

    def send(self, client: mqtt.Client) -> None:
        tuning = self.link.tuning
        free = tuning.max_inflight - len(self.inflight)
        if free <= 0:
            return
        rows = self.link.outbox.peek(free, after_id=self.last_sent)
        retry_due = (
            self.refused_at is not None
            and time.monotonic() - self.refused_at >= tuning.retry_refused_s
        )
        if not rows and not self.inflight and retry_due:
            self.refused_at, self.last_sent = None, 0  # one more pass for refused rows
            rows = self.link.outbox.peek(free)
        for row in rows:
            info = client.publish(row.topic, row.payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                break  # the connection is going; the next one resends from the outbox
            self.inflight[info.mid] = row.id
            self.last_sent = row.id
        if rows:
            self.link._wake.set()  # there may be more than one window's worth

    def take_acks(self) -> None:
        done: list[int] = []
        while True:
            try:
                generation, mid, reason = self.link._acks.get_nowait()
            except queue.Empty:
                break
            row_id = self.inflight.pop(mid, None) if generation == self.generation else None
            if row_id is None:
                if reason.is_failure:
                    log.error("broker refused a status publish: %s (%d)", reason, reason.value)
                continue
            if reason.is_failure:
                self.refused(row_id, reason)
            else:
                done.append(row_id)
        self.link.outbox.remove(done)

    def refused(self, row_id: int, reason: ReasonCode) -> None:
        link = self.link
        text = f"broker refused outbox row {row_id}: {reason} ({reason.value})"
        log.error("%s", text)
        link.health.note_error(text)
        self.refused_at = time.monotonic()
        if link.outbox.note_failure(row_id) >= link.tuning.max_refusals:
            link.outbox.reject(row_id, f"{reason} ({reason.value})")
            log.error(
                "outbox row %d moved aside after %d refusals", row_id, link.tuning.max_refusals
            )

    def finish(self, grace_s: float) -> None:
        """On stop: wait a little for the acks of rows in flight, to spare resends."""
        deadline = time.monotonic() + grace_s
        self.take_acks()
        while self.inflight and self.link.connected and time.monotonic() < deadline:
            self.link._wake.wait(0.05)
            self.link._wake.clear()
            self.take_acks()


def open_link(
    config: DeviceConfig,
    *,
    health: HealthState | None = None,
    on_applied: Callable[[cat.Catalogue], None] | None = None,
    tuning: LinkTuning | None = None,
) -> FleetLink | None:
    """The link a box's configuration asks for, not yet started (None: no broker configured)."""
    fleet = config.fleet
    if not fleet.broker_host:
        return None
    health = health or HealthState()
    outbox = Outbox(config.data_dir / "fleet" / "outbox.sqlite3", fleet.queue_max_events)
    updater = None
    if fleet.catalogue_public_key:
        public_key = signing.load_public_key(Path(fleet.catalogue_public_key))

        def applied(doc: cat.Catalogue) -> None:
            health.catalogue_version = doc["version"]
            if on_applied is not None:
                on_applied(doc)

        place = topics.DevicePlace(fleet.province, fleet.commune, fleet.device_id)
        store = CatalogueStore(config.data_dir / "catalogue")
        if not health.catalogue_version and (pointer := store.current()) is not None:
            health.catalogue_version = pointer.version
        updater = CatalogueUpdater(place, store, public_key, on_applied=applied)
    return FleetLink(
        fleet, outbox, health=health, data_dir=config.data_dir, updater=updater, tuning=tuning
    )
