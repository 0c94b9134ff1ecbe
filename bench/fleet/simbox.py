"""Simulated boxes: hundreds of MQTT clients driven by ONE thread, with the real link's wire habits.

The real box link (device/fleet/link.py) runs two or three threads per box; 3,000 of them would
measure Python's threads, not the broker. Here one process drives all of its boxes from one
thread: paho's external-loop interface (`on_socket_open/close`, `on_socket_register_write`,
`loop_read`, `loop_write`, `loop_misc`) on top of one `selectors` selector.

What each simulated box does on the wire, as the real one does:
  * MQTT v5, client id = device id, QoS 1, keepalive 60 s, Last Will = retained
    {online: false, reason: "lost"} on its status topic; optionally (`--auth`, `--tls`) the
    device id and a password as login, and TLS checked against the fleet's CA;
  * on CONNACK: subscribes to the catalogue topics of the three scopes of its place
    (all, province/NN, commune/NNNNN) and publishes its retained {online: true, "connected"};
  * when refused (no TCP connection within 10 s, CONNACK failure, no CONNACK within the
    keepalive, connection lost): a new client after the link's own exponential backoff with
    full jitter (`Backoff`);
  * collects the retained manifest and chunks of a scope, checks them, and publishes a valid
    `hoixa.ack/1` (QoS 1) on its ack topic;
  * in the events phase, publishes valid `hoixa.event/1` payloads (≈ 450 bytes) keeping at
    most `max_inflight` (20, the link's window) unacknowledged.

The catalogue check is `packaging.check_manifest` (schema + Ed25519 signature), then the size
and SHA-256 of every chunk, the gzip decompression and the content's size and SHA-256: what
`packaging.unpack` does, without its last step, the full catalogue schema validation (≈ 1 s of
CPU per catalogue: 3,300 boxes simulated on 2 cores would measure that, not the broker). The
installed version is kept in memory; nothing is written to disk.

Differences from the real link, on purpose: the first connection is tried at once (not after a
first jittered wait), so the storm is the worst case; acks go straight to the broker instead
of through the on-disk outbox; no heartbeat (one every 5 minutes would not happen within a run).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import heapq
import os
import random
import selectors
import socket
import ssl
import time
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from paho.mqtt.enums import CallbackAPIVersion

from hoixa.contract import messages, packaging, topics
from hoixa.device.fleet.health import status_payload
from hoixa.device.fleet.link import STATUS_SLOTS, Backoff

EVENT, STATUS, ACK, MANIFEST = "hoixa.event/1", "hoixa.status/1", "hoixa.ack/1", "hoixa.manifest/1"
READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
CONNECT_BATCH = 200  # connection attempts started per loop turn, so replies get read meanwhile
MISC_EVERY_S = 1.0  # keepalive and CONNACK-timeout checks
# Replaced by a real id in each event; itself a valid UUID so the template validates.
EVENT_ID_MARK = "ffffffff-ffff-4fff-bfff-ffffffffffff"


@dataclass(frozen=True)
class WorkerSpec:
    """What one simulator process needs (picklable: it crosses to a spawned process)."""

    index: int
    port: int
    boxes: list[tuple[int, str, str, str]]  # (global index, province, commune, device id)
    public_key: bytes  # raw Ed25519 public key the boxes trust
    installed_version: int  # the catalogue version every box answers from at the start
    passwords: tuple[str, ...] = ()  # per box, with the broker's password file; () anonymous
    ca_file: str = ""  # the CA boxes trust: TLS to the broker (server certificate only)
    host: str = "127.0.0.1"
    keepalive_s: int = 60  # FleetConfig.keepalive_seconds
    connect_timeout_s: float = 10.0  # LinkTuning.connect_timeout_s: the TCP handshake
    max_inflight: int = 20  # LinkTuning.max_inflight
    backoff_base_s: float = 2.0  # Backoff defaults of the real link
    backoff_cap_s: float = 300.0
    seed: int = 0


def place_of(index: int, provinces: int = 34) -> tuple[str, str, str]:
    """Box `index` of the fleet: one per commune, communes spread round-robin over provinces."""
    commune = f"{index + 1:05d}"
    return f"{index % provinces + 1:02d}", commune, f"box-{commune}"


def event_template(device_id: str, catalogue_version: int) -> bytes:
    """A valid `hoixa.event/1` of a typical two-turn conversation, with a mark for its id."""
    doc = {
        "schema": EVENT,
        "event_id": EVENT_ID_MARK,
        "device_id": device_id,
        "session_id": str(uuid.uuid4()),
        "started_at": "2025-03-04T02:15:07.125Z",
        "ended_at": "2025-03-04T02:16:01.500Z",
        "software_version": "0.1.0",
        "catalogue_version": catalogue_version,
        "turns": [
            {
                "action": "answer",
                "procedure": "1.001234",
                "category": "documents",
                "confidence": 0.91,
                "asr_confidence": 0.84,
                "latency_ms": {"asr_final": 420.5, "match": 3.2, "first_audio": 610.0},
            },
            {
                "action": "answer",
                "procedure": "1.001234",
                "category": "fees",
                "confidence": 0.88,
                "latency_ms": {"asr_final": 380.1, "match": 2.9, "first_audio": 575.3},
            },
        ],
        "procedures": ["1.001234"],
        "categories": ["documents", "fees"],
        "not_understood": [],
        "termination": "thanks",
        "satisfaction": "satisfied",
        "satisfaction_by": "voice",
    }
    return messages.encode(doc, EVENT)


class _NonBlockingClient(mqtt.Client):
    """paho's connect() waits for the TCP handshake; on one thread serving hundreds of boxes a
    single slow handshake (a SYN retransmitted after 1 s when the broker's accept queue is
    full) would stall them all. This one starts the handshake and lets the selector say when
    it is done: the CONNECT packet waits in paho's queue until the socket is writable.
    (Overrides a private paho 2.x method; a bench tool, not product code.)"""

    def _create_socket_connection(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        err = sock.connect_ex((self._host, self._port))
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            raise OSError(err, os.strerror(err))
        return sock


@dataclass
class SimBox:
    """One box's state: its place, its current client, what it has seen and sent."""

    index: int  # in the whole fleet
    position: int  # in this process
    place: topics.DevicePlace
    installed_version: int
    client: mqtt.Client | None = None
    state: str = "idle"  # idle | waiting | connecting | connected
    attempts: int = 0  # failed attempts since the last good connection (backoff exponent)
    attempt_started: float = 0.0
    tcp_up: bool = False
    tls_since: float | None = None  # TLS handshake under way since
    connack_at: float | None = None  # first successful CONNACK
    subscribed_at: float | None = None
    retries: int = 0
    disconnects: int = 0  # connections lost after a CONNACK
    refusal: str = ""  # why the current attempt failed, if the broker said
    # catalogue
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    manifest_ok: dict[str, bool] = field(default_factory=dict)
    chunks: dict[str, dict[int, bytes]] = field(default_factory=dict)
    handled: dict[str, str] = field(default_factory=dict)  # scope → manifest payload SHA-256
    # events
    event_mids: set[int] = field(default_factory=set)
    event_seq: int = 0
    template: bytes = b""


class BoxWorker:
    """All the boxes of one process, their selector, and the commands from the runner."""

    def __init__(self, spec: WorkerSpec, conn: Connection):
        self.spec = spec
        self.conn = conn
        self.rng = random.Random(spec.seed * 7919 + spec.index)
        self.backoff = Backoff(spec.backoff_base_s, spec.backoff_cap_s)
        self.public_key = Ed25519PublicKey.from_public_bytes(spec.public_key)
        # One context for all the process's boxes (paho's tls_set would load the CA per client).
        self.ssl_context = ssl.create_default_context(cafile=spec.ca_file) if spec.ca_file else None
        self.sel = selectors.DefaultSelector()
        self.sel.register(conn.fileno(), READ, None)
        self.boxes = [
            SimBox(i, position, topics.DevicePlace(p, c, d), spec.installed_version)
            for position, (i, p, c, d) in enumerate(spec.boxes)
        ]
        for box in self.boxes:
            box.template = event_template(box.place.device_id, spec.installed_version)
        self._will = {
            b.index: messages.encode(
                status_payload(b.place.device_id, online=False, reason="lost"), STATUS
            )
            for b in self.boxes
        }
        self.dirty: list[SimBox] = []  # boxes whose client has something to write
        self.write_watch: set[int] = set()  # fds registered for EVENT_WRITE
        self.timers: list[tuple[float, int, int]] = []  # (when, box position, attempts) heap
        self.stopping = False
        self.subscribed = 0  # boxes whose catalogue subscription was granted at least once
        self.inflight_events = 0  # events sent and not yet acknowledged, all boxes
        self.next_misc = 0.0
        self.connect_phase: tuple[float, float] | None = None  # (t0, deadline) until reported
        self.events_phase: dict[str, Any] | None = None
        self.counts: Counter[str] = Counter()  # failures, acks, rejections…
        self.verify_s: list[float] = []
        self.ack_times: list[float] = []

    # -- commands from the runner ------------------------------------------------------------

    def _command(self) -> None:
        try:
            cmd, *args = self.conn.recv()
        except (EOFError, OSError):  # the runner is gone: stop at once
            self.stopping = True
            return
        if cmd == "connect":
            t0, deadline = args
            self.connect_phase = (t0, deadline)
            for position in range(len(self.boxes)):
                self._schedule(position, t0)
        elif cmd == "events":
            t_start, t_stop, deadline = args
            self.events_phase = {
                "start": t_start,
                "stop": t_stop,
                "deadline": deadline,
                "open": False,
                "published": 0,
                "acked": 0,
                "refused": 0,
                "first": None,
                "last_ack": None,
            }
        elif cmd == "report":
            self.conn.send(("report", self._report()))
        elif cmd == "stop":
            self._disconnect_all(float(args[0]) if args else 2.0)
            self.conn.send(("stopped", self._report()))
            self.stopping = True

    def _report(self) -> dict[str, Any]:
        boxes = self.boxes
        return {
            "boxes": len(boxes),
            "connected": sum(b.state == "connected" for b in boxes),
            "ever_connected": sum(b.connack_at is not None for b in boxes),
            "subscribed": sum(b.subscribed_at is not None for b in boxes),
            "retries": sum(b.retries for b in boxes),
            "disconnects": sum(b.disconnects for b in boxes),
            "counts": dict(self.counts),
            "verify_s": list(self.verify_s),
            "ack_times": list(self.ack_times),
            "connack_at": [b.connack_at for b in boxes],
            "subscribed_at": [b.subscribed_at for b in boxes],
            "cpu_s": sum(os.times()[:2]),
        }

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        self.conn.send(("ready", os.getpid()))
        while not self.stopping:
            self._flush_dirty()
            now = time.monotonic()
            timeout = 0.0 if self.dirty else 0.05
            if self.timers:
                timeout = min(timeout, max(0.0, self.timers[0][0] - now))
            for key, mask in self.sel.select(timeout):
                box = key.data
                if box is None:
                    self._command()
                    continue
                client = box.client
                sock = client.socket() if client else None
                if sock is None:
                    continue
                if not box.tcp_up:  # the handshake is over: did it succeed?
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        self._failed(box, f"tcp:{errno.errorcode.get(err, err)}")
                        continue
                    box.tcp_up = True
                    if self.ssl_context is not None:
                        self._start_tls(box, client, sock)
                        continue
                if box.tls_since is not None:
                    self._continue_tls(box, client, sock)
                    continue
                if mask & READ:
                    client.loop_read()
                    # TLS: records already decrypted do not make the socket readable again.
                    while isinstance(sock, ssl.SSLSocket) and client.socket() is sock:
                        if not sock.pending():
                            break
                        client.loop_read()
                if mask & WRITE and box.client is client and client.socket() is not None:
                    client.loop_write()
            now = time.monotonic()
            self._start_due(now)
            self._phases(now)
            if now >= self.next_misc:
                self.next_misc = now + MISC_EVERY_S
                self._housekeeping(now)

    def _flush_dirty(self) -> None:
        dirty, self.dirty = self.dirty, []
        for box in dirty:
            client = box.client
            sock = client.socket() if client else None
            if sock is None or box.tls_since is not None:  # a handshake sets its own interest
                continue
            if box.tcp_up:
                client.loop_write()
            if box.client is client and client.socket() is sock and client.want_write():
                fd = sock.fileno()
                if fd not in self.write_watch:
                    self.sel.modify(sock, READ | WRITE, box)
                    self.write_watch.add(fd)

    def _start_due(self, now: float) -> None:
        started = 0
        while self.timers and self.timers[0][0] <= now and started < CONNECT_BATCH:
            _, position, attempts = heapq.heappop(self.timers)
            box = self.boxes[position]
            if box.state == "waiting" and box.attempts == attempts:
                self._attempt(box)
                started += 1

    def _phases(self, now: float) -> None:
        if self.connect_phase is not None:
            _, deadline = self.connect_phase
            if self.subscribed == len(self.boxes) or now >= deadline:
                self.connect_phase = None
                self.conn.send(("connected", self._report()))
        phase = self.events_phase
        if phase is None:
            return
        if not phase["open"] and phase["start"] <= now < phase["stop"]:
            phase["open"] = True
            phase["first"] = now
            for box in self.boxes:
                self._top_up(box)
        elif phase["open"] and now >= phase["stop"]:
            phase["open"] = False
        if now >= phase["stop"]:
            inflight = self.inflight_events
            if inflight == 0 or now >= phase["deadline"]:
                self.events_phase = None
                result = {k: phase[k] for k in ("published", "acked", "refused", "first")}
                result.update(last_ack=phase["last_ack"], unacked=inflight)
                self.conn.send(("events", result))

    def _housekeeping(self, now: float) -> None:
        for box in self.boxes:
            client = box.client
            if client is None:
                continue
            if box.state == "connecting" and not box.tcp_up:
                # As paho's blocking connect(timeout=10 s) in the real link: SYNs the broker's
                # full accept queue dropped are resent by the kernel after 1, 3 and 7 s.
                if now - box.attempt_started >= self.spec.connect_timeout_s:
                    self._failed(box, "tcp_timeout")
                continue
            if box.tls_since is not None:  # paho's handshake has the same 10 s timeout
                if now - box.tls_since >= self.spec.connect_timeout_s:
                    self._failed(box, "tls_timeout")
                continue
            # Connected, or waiting for the CONNACK: paho gives up on a silent broker after
            # the keepalive (60 s), as in the real link.
            client.loop_misc()

    # -- connecting ----------------------------------------------------------------------------

    def _start_tls(self, box: SimBox, client: mqtt.Client, sock: socket.socket) -> None:
        """Wrap a freshly connected socket in TLS, to be handshaken without blocking.

        paho's own TLS does a blocking handshake inside connect(): one thread serving hundreds
        of boxes would then handshake one box at a time. Here the selector drives it, and the
        wrapped socket replaces paho's plain one (a private attribute: a bench tool)."""
        assert self.ssl_context is not None
        self._forget_socket(sock)
        try:
            wrapped = self.ssl_context.wrap_socket(
                sock, server_hostname=self.spec.host, do_handshake_on_connect=False
            )
        except (ssl.SSLError, OSError) as exc:
            self._failed(box, f"tls:{type(exc).__name__}")
            return
        client._sock = wrapped
        box.tls_since = time.monotonic()
        self.sel.register(wrapped, READ | WRITE, box)
        self.write_watch.add(wrapped.fileno())
        self._continue_tls(box, client, wrapped)

    def _continue_tls(self, box: SimBox, client: mqtt.Client, sock: ssl.SSLSocket) -> None:
        try:
            sock.do_handshake()
        except ssl.SSLWantReadError:
            self._watch(box, sock, write=False)
            return
        except ssl.SSLWantWriteError:
            self._watch(box, sock, write=True)
            return
        except (ssl.SSLError, OSError) as exc:
            self._failed(box, f"tls:{getattr(exc, 'reason', None) or type(exc).__name__}")
            return
        box.tls_since = None
        self.counts["tls_handshakes"] += 1
        self._watch(box, sock, write=client.want_write())
        client.loop_write()  # the CONNECT paho queued meanwhile

    def _watch(self, box: SimBox, sock: socket.socket, *, write: bool) -> None:
        fd = sock.fileno()
        if write != (fd in self.write_watch):
            self.sel.modify(sock, READ | WRITE if write else READ, box)
            if write:
                self.write_watch.add(fd)
            else:
                self.write_watch.discard(fd)

    def _schedule(self, position: int, when: float) -> None:
        box = self.boxes[position]
        box.state = "waiting"
        heapq.heappush(self.timers, (when, position, box.attempts))

    def _new_client(self, box: SimBox) -> mqtt.Client:
        client = _NonBlockingClient(
            CallbackAPIVersion.VERSION2,
            client_id=box.place.device_id,
            protocol=mqtt.MQTTv5,
            userdata=box,
            reconnect_on_failure=False,
        )
        if self.spec.passwords:  # username = device id, as the real link
            client.username_pw_set(box.place.device_id, self.spec.passwords[box.position])
        client.will_set(box.place.status(), self._will[box.index], qos=1, retain=True)
        client.max_inflight_messages_set(self.spec.max_inflight + STATUS_SLOTS)  # as the link
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _attempt(self, box: SimBox) -> None:
        client = self._new_client(box)
        box.client, box.state, box.tcp_up, box.refusal = client, "connecting", False, ""
        box.tls_since = None
        box.attempt_started = time.monotonic()
        self.counts["attempts"] += 1
        # clean_start False as the brief asks; without a Session Expiry Interval the session
        # still ends with the connection (MQTT 5), as with the real link's clean_start True.
        client.connect_async(
            self.spec.host, self.spec.port, keepalive=self.spec.keepalive_s, clean_start=False
        )
        try:
            client.reconnect()
        except OSError as exc:
            self._failed(box, f"tcp:{errno.errorcode.get(exc.errno or 0, exc.errno)}")

    def _failed(self, box: SimBox, reason: str) -> None:
        """The current attempt or connection is over: drop its client, back off, try again."""
        was_connected = box.state == "connected"
        self._drop_client(box)
        if self.stopping:
            return
        self.counts[f"fail:{reason}"] += 1
        if was_connected:
            box.disconnects += 1
            box.attempts = 0  # the link resets the backoff only after a stable minute; close
        box.attempts += 1
        box.retries += 1
        delay = self.backoff.delay(box.attempts, self.rng)
        self._schedule(box.position, time.monotonic() + delay)

    def _drop_client(self, box: SimBox) -> None:
        client, box.client = box.client, None
        box.state, box.tls_since = "idle", None
        if client is None:
            return
        for name in ("on_connect", "on_disconnect", "on_subscribe", "on_publish", "on_message"):
            setattr(client, name, None)
        sock = client.socket()
        if sock is not None:
            self._forget_socket(sock)
            sock.close()
        self.inflight_events -= len(box.event_mids)  # lost with the connection
        box.event_mids.clear()

    def _forget_socket(self, sock: socket.socket) -> None:
        fd = sock.fileno()
        if fd < 0:
            return
        self.write_watch.discard(fd)
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(sock)

    # -- paho callbacks (all on this thread) ---------------------------------------------------

    def _on_socket_open(self, client, box: SimBox, sock) -> None:
        self.sel.register(sock, READ, box)

    def _on_socket_close(self, client, box: SimBox, sock) -> None:
        self._forget_socket(sock)

    def _on_register_write(self, client, box: SimBox, sock) -> None:
        self.dirty.append(box)

    def _on_unregister_write(self, client, box: SimBox, sock) -> None:
        fd = sock.fileno()
        if fd in self.write_watch:
            self.write_watch.discard(fd)
            self.sel.modify(sock, READ, box)

    def _on_connect(self, client, box: SimBox, flags, reason_code, properties) -> None:
        if box.client is not client:
            return
        if reason_code.is_failure:
            box.refusal = f"connack:{reason_code}"
            return  # paho closes the socket next; _on_disconnect counts the failure
        box.state, box.attempts = "connected", 0
        if box.connack_at is None:
            box.connack_at = time.monotonic()
        client.subscribe([(topics.catalogue_filter(s), 1) for s in box.place.scopes()])
        online = status_payload(box.place.device_id, online=True, reason="connected")
        online["catalogue_version"] = box.installed_version
        client.publish(box.place.status(), messages.encode(online, STATUS), qos=1, retain=True)
        if self.events_phase is not None and self.events_phase["open"]:
            self._top_up(box)

    def _on_disconnect(self, client, box: SimBox, flags, reason_code, properties) -> None:
        if box.client is not client or self.stopping:
            return
        if box.refusal:
            reason = box.refusal
        elif box.state == "connected":
            reason = f"lost:{reason_code}"  # e.g. "Session taken over"
        else:
            reason = "closed_before_connack"
        self._failed(box, reason)

    def _on_subscribe(self, client, box: SimBox, mid, reason_codes, properties) -> None:
        if any(rc.is_failure for rc in reason_codes):
            self.counts["subscribe_refused"] += 1
        elif box.subscribed_at is None:
            box.subscribed_at = time.monotonic()
            self.subscribed += 1

    def _on_publish(self, client, box: SimBox, mid, reason_code, properties) -> None:
        if mid not in box.event_mids:
            if reason_code.is_failure:
                self.counts["publish_refused"] += 1
            return
        box.event_mids.discard(mid)
        self.inflight_events -= 1
        phase = self.events_phase
        if phase is None:
            return
        if reason_code.is_failure:
            phase["refused"] += 1
        else:
            phase["acked"] += 1
            phase["last_ack"] = time.monotonic()
        if phase["open"]:
            self._top_up(box)

    def _on_message(self, client, box: SimBox, msg: mqtt.MQTTMessage) -> None:
        try:
            scope, kind, index = topics.parse_catalogue_topic(msg.topic)
        except topics.TopicError:
            self.counts["unexpected_message"] += 1
            return
        payload = bytes(msg.payload)
        if kind == "chunk":
            if payload:
                box.chunks.setdefault(scope, {})[index] = payload
            else:  # the server deleted a chunk an older version needed
                box.chunks.get(scope, {}).pop(index, None)
        elif not payload:
            box.manifests.pop(scope, None)
            return
        else:
            fingerprint = hashlib.sha256(payload).hexdigest()
            if box.handled.get(scope) == fingerprint:
                return
            box.handled[scope] = fingerprint
            try:
                box.manifests[scope] = messages.decode(payload, MANIFEST)
            except messages.PayloadError:
                self.counts["rejected:invalid_manifest"] += 1
                return
            box.manifest_ok[scope] = False
        self._evaluate(box, scope)

    # -- catalogue and events ----------------------------------------------------------------

    def _evaluate(self, box: SimBox, scope: str) -> None:
        manifest = box.manifests.get(scope)
        if manifest is None:
            return
        began = time.process_time()  # CPU, not wall: the machine is shared
        try:
            if not box.manifest_ok.get(scope):
                packaging.check_manifest(manifest, self.public_key)
                if manifest["scope"] != scope:
                    raise packaging.UpdateRejected("wrong_scope", f"published on {scope}")
                if manifest["version"] <= box.installed_version:
                    raise packaging.UpdateRejected("stale_version", str(manifest["version"]))
                box.manifest_ok[scope] = True
            chunks = box.chunks.get(scope, {})
            if any(entry["index"] not in chunks for entry in manifest["chunks"]):
                return  # the rest is on its way
            _check_content(manifest, chunks)
        except packaging.UpdateRejected as exc:
            self.counts[f"rejected:{exc.code}"] += 1
            box.manifests.pop(scope, None)
            self._ack(box, manifest, "rejected", f"{exc.code}: {exc.detail}"[:500])
            return
        box.installed_version = manifest["version"]
        box.manifests.pop(scope, None)
        box.chunks.pop(scope, None)
        self.verify_s.append(time.process_time() - began)
        self._ack(box, manifest, "applied", None)

    def _ack(self, box: SimBox, manifest: dict[str, Any], result: str, reason: str | None) -> None:
        ack = {
            "schema": ACK,
            "device_id": box.place.device_id,
            "at": messages.utc_now(),
            "scope": manifest["scope"],
            "version": manifest["version"],
            "kind": manifest["kind"],
            "result": result,
            "reason": reason,
            "catalogue_version": box.installed_version,
        }
        if box.client is not None:
            box.client.publish(box.place.ack(), messages.encode(ack, ACK), qos=1)
            self.counts[f"ack:{result}"] += 1
            self.ack_times.append(time.monotonic())

    def _top_up(self, box: SimBox) -> None:
        phase, client = self.events_phase, box.client
        if phase is None or client is None or box.state != "connected":
            return
        topic = box.place.events()
        while len(box.event_mids) < self.spec.max_inflight:
            box.event_seq += 1
            event_id = str(uuid.UUID(int=(box.index << 64) | box.event_seq))
            payload = box.template.replace(EVENT_ID_MARK.encode(), event_id.encode(), 1)
            info = client.publish(topic, payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                break
            box.event_mids.add(info.mid)
            self.inflight_events += 1
            phase["published"] += 1

    def _disconnect_all(self, grace_s: float) -> None:
        """Leave cleanly (DISCONNECT: no Last Will), waiting at most `grace_s` to flush."""
        self.stopping = True
        for box in self.boxes:
            if box.client is not None and box.state == "connected":
                box.client.disconnect()
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            self._flush_dirty()
            if not self.write_watch:
                break
            for key, mask in self.sel.select(0.05):
                box = key.data
                if box is not None and box.client is not None and mask & WRITE:
                    box.client.loop_write()
        for box in self.boxes:
            self._drop_client(box)


def _check_content(manifest: dict[str, Any], chunks: dict[int, bytes]) -> None:
    """packaging.unpack's hash checks, without its full catalogue schema validation."""
    parts = []
    for entry in manifest["chunks"]:
        data = chunks[entry["index"]]
        if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise packaging.UpdateRejected("bad_chunk", f"chunk {entry['index']}")
        parts.append(data)
    try:
        body = zlib.decompressobj(wbits=31).decompress(
            b"".join(parts), packaging.MAX_CATALOGUE_BYTES
        )
    except zlib.error as exc:
        raise packaging.UpdateRejected("bad_content", str(exc)) from exc
    if len(body) != manifest["size"] or hashlib.sha256(body).hexdigest() != manifest["sha256"]:
        raise packaging.UpdateRejected("bad_hash", "content does not match the manifest")


def worker_main(spec: WorkerSpec, conn: Connection) -> None:
    """Entry point of one simulator process."""
    try:
        BoxWorker(spec, conn).run()
    except KeyboardInterrupt:
        pass
    finally:
        conn.close()
