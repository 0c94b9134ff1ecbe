"""Send a catalogue to the boxes of a scope, and follow what each box did with it.

`publish_catalogue` puts a signed package on the broker as retained QoS 1 messages, in the
order that keeps boxes safe: every chunk first, each confirmed by the broker (PUBACK), then
the manifest that names them, and only then the removal of chunks an older, larger version
left behind (the old manifest referred to them until the new one replaced it). A box that
sees a manifest can therefore always find all of its chunks, whenever it connects.

`AckTracker` listens to the boxes' acks and tells, for a (scope, version), which expected
boxes applied it, which rejected it and why, and which have not answered yet.

Both work on a paho-mqtt 2.x client that the caller has connected with MQTT v5 (so refusals
come back as reason codes) and runs a network loop for (`loop_start()`). They add their own
callbacks in front of the client's for the duration of a call and then put the client's back:
do not change the client's callbacks from another thread meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hoixa.contract import catalogue as cat
from hoixa.contract import messages, packaging, topics

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_S = 120.0
MAX_ACK_BYTES = 64 * 1024  # an ack is a few hundred bytes


class PublishError(RuntimeError):
    """The catalogue is not (completely) on the broker: refused, timed out, or a mistake."""


class _Answers:
    """The broker's answers (PUBACK, SUBACK, UNSUBACK) to packets sent on a shared client,
    collected by message id; the client's own callbacks still run after ours."""

    def __init__(self, client: mqtt.Client):
        if client.callback_api_version != mqtt.CallbackAPIVersion.VERSION2:
            raise PublishError("the client must use paho's CallbackAPIVersion.VERSION2")
        if client.protocol != mqtt.MQTTv5:
            raise PublishError("the client must speak MQTT v5 (refusals are reason codes)")
        self.client = client
        self._cond = threading.Condition()
        self._answers: dict[tuple[str, int], Any] = {}

    def _record(self, kind: str, mid: int, answer: Any) -> None:
        with self._cond:
            self._answers[(kind, mid)] = answer
            self._cond.notify_all()

    @contextlib.contextmanager
    def installed(self) -> Iterator[_Answers]:
        client = self.client
        own = client.on_publish, client.on_subscribe, client.on_unsubscribe

        def on_publish(c, userdata, mid, reason_code, properties):
            self._record("pub", mid, reason_code)
            if own[0]:
                own[0](c, userdata, mid, reason_code, properties)

        def on_subscribe(c, userdata, mid, reason_codes, properties):
            self._record("sub", mid, reason_codes)
            if own[1]:
                own[1](c, userdata, mid, reason_codes, properties)

        def on_unsubscribe(c, userdata, mid, reason_codes, properties):
            self._record("unsub", mid, reason_codes)
            if own[2]:
                own[2](c, userdata, mid, reason_codes, properties)

        client.on_publish, client.on_subscribe, client.on_unsubscribe = (
            on_publish,
            on_subscribe,
            on_unsubscribe,
        )
        try:
            yield self
        finally:
            client.on_publish, client.on_subscribe, client.on_unsubscribe = own

    def wait(self, kind: str, mid: int, deadline: float, what: str) -> Any:
        with self._cond:
            if not self._cond.wait_for(
                lambda: (kind, mid) in self._answers, max(0.0, deadline - time.monotonic())
            ):
                raise PublishError(f"no answer from the broker in time for {what}")
            return self._answers.pop((kind, mid))

    def publish_all(self, messages_: list[tuple[str, bytes]], deadline: float) -> None:
        """Publish retained QoS 1 and wait until the broker has confirmed every one."""
        sent = []
        for topic, payload in messages_:
            info = self.client.publish(topic, payload, qos=1, retain=True)
            # NO_CONN: paho keeps QoS 1 messages and sends them when it reconnects.
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                raise PublishError(f"cannot publish {topic}: {mqtt.error_string(info.rc)}")
            sent.append((topic, info.mid))
        for topic, mid in sent:
            reason = self.wait("pub", mid, deadline, topic)
            if reason.is_failure:
                raise PublishError(f"the broker refused {topic}: {reason} ({reason.value})")

    def subscribe(self, filters: list[str], qos: int, deadline: float) -> None:
        result, mid = self.client.subscribe([(f, qos) for f in filters])
        if result != mqtt.MQTT_ERR_SUCCESS:
            raise PublishError(f"cannot subscribe to {filters}: {mqtt.error_string(result)}")
        reasons = self.wait("sub", mid, deadline, f"subscribing to {filters}")
        if any(reason.is_failure for reason in reasons):
            raise PublishError(f"the broker refused the subscription {filters}: {reasons}")

    def unsubscribe(self, filters: list[str], deadline: float) -> None:
        result, mid = self.client.unsubscribe(filters)
        if result != mqtt.MQTT_ERR_SUCCESS:
            raise PublishError(f"cannot unsubscribe {filters}: {mqtt.error_string(result)}")
        self.wait("unsub", mid, deadline, f"unsubscribing {filters}")


ALL_MANIFESTS = [
    topics.catalogue_manifest("all"),
    f"{topics.ROOT}/catalogue/province/+/manifest",
    f"{topics.ROOT}/catalogue/commune/+/manifest",
]


@dataclass
class Retained:
    """What the broker holds: every scope's manifest (unreadable ones left out) and the indexes
    of the retained chunks of one scope."""

    scope: str
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    chunk_indexes: set[int] = field(default_factory=set)

    @property
    def manifest(self) -> dict[str, Any] | None:
        return self.manifests.get(self.scope)

    def next_version(self) -> int:
        """The lowest version not used by any scope: versions are one sequence across scopes,
        because a box answers from the newest catalogue among the scopes it follows."""
        return max((m["version"] for m in self.manifests.values()), default=0) + 1


def read_retained(client: mqtt.Client, scope: str, *, timeout: float = 10.0) -> Retained:
    """Every retained manifest, and the chunk indexes of `scope`, as the broker holds them now."""
    deadline = time.monotonic() + timeout
    with _Answers(client).installed() as answers:
        return _read_retained(answers, scope, deadline)


def _read_retained(answers: _Answers, scope: str, deadline: float) -> Retained:
    # Mosquitto queues a subscription's retained messages before it handles the next packet,
    # so once the UNSUBACK is back every retained message has been delivered. QoS 0 keeps
    # them out of the broker's in-flight window, which could otherwise hold some back. If the
    # broker is still busy writing other traffic to this client it may defer them, so give the
    # publisher a connection of its own rather than the ingestion workers' (a message missed
    # here only costs a stale chunk left on the broker or a skipped version check).
    found = Retained(scope)
    filters = [topics.catalogue_filter(scope), *ALL_MANIFESTS]

    def on_message(client, userdata, msg: mqtt.MQTTMessage) -> None:
        if not msg.retain or not msg.payload:
            return
        try:
            where, what, index = topics.parse_catalogue_topic(msg.topic)
        except topics.TopicError:
            return
        if what == "chunk" and where == scope:
            found.chunk_indexes.add(index)
        elif what == "manifest":
            try:
                manifest = messages.decode(msg.payload, "hoixa.manifest/1")
            except messages.PayloadError as exc:
                log.warning("retained manifest of %s is invalid: %s", where, exc.reason)
            else:
                found.manifests[where] = manifest

    for topic_filter in filters:
        answers.client.message_callback_add(topic_filter, on_message)
    try:
        answers.subscribe(filters, 0, deadline)
        answers.unsubscribe(filters, deadline)
    finally:
        for topic_filter in filters:
            answers.client.message_callback_remove(topic_filter)
    return found


def _check_newer(retained: Retained, manifest: dict[str, Any]) -> None:
    """Refuse what boxes would refuse as stale: an update whose version is not above every
    version on the broker (all scopes share one sequence), except a retry of exactly what the
    scope already holds. A rollback is the way to send an older version."""
    if manifest["kind"] == "rollback":
        return
    same = retained.manifest
    if same and same["version"] == manifest["version"] and same["sha256"] == manifest["sha256"]:
        return  # publishing again what is there: completes an interrupted publication
    for scope, other in sorted(retained.manifests.items()):
        if other["version"] >= manifest["version"]:
            raise PublishError(
                f"version {manifest['version']} is not above version {other['version']} already "
                f"published for {scope}: boxes would refuse it as stale (versions are one "
                f"sequence across scopes; next free: {retained.next_version()}; to go back, "
                f"publish kind='rollback')"
            )


def publish_catalogue(
    client: mqtt.Client,
    catalogue: cat.Catalogue,
    private_key: Ed25519PrivateKey,
    *,
    kind: str = "update",
    chunk_bytes: int = packaging.CHUNK_BYTES,
    timeout: float = PUBLISH_TIMEOUT_S,
) -> dict[str, Any]:
    """Publish a catalogue for its own scope (catalogue["scope"]); return the signed manifest.

    Raises PublishError, before sending anything, for an update boxes would refuse as stale
    (see `_check_newer`); and if the broker refuses any message or does not confirm one in
    `timeout` seconds, after which boxes still see the previous complete version and
    publishing again is safe.
    """
    manifest, chunks = packaging.package(catalogue, private_key, kind=kind, chunk_bytes=chunk_bytes)
    scope = manifest["scope"]
    deadline = time.monotonic() + timeout
    with _Answers(client).installed() as answers:
        previous = _read_retained(answers, scope, deadline)
        _check_newer(previous, manifest)
        answers.publish_all(
            [(topics.catalogue_chunk(scope, i), chunk) for i, chunk in enumerate(chunks)],
            deadline,
        )
        answers.publish_all(
            [(topics.catalogue_manifest(scope), messages.encode(manifest, "hoixa.manifest/1"))],
            deadline,
        )
        old_count = len(previous.manifest["chunks"]) if previous.manifest else 0
        stale = sorted(
            i for i in previous.chunk_indexes | set(range(old_count)) if i >= len(chunks)
        )
        # An empty retained payload deletes the retained message (MQTT 3.3.1.3).
        answers.publish_all([(topics.catalogue_chunk(scope, i), b"") for i in stale], deadline)
    log.info(
        "catalogue %s version %s published: %d chunk(s), %d old chunk(s) cleared",
        scope,
        manifest["version"],
        len(chunks),
        len(stale),
    )
    return manifest


# -- acks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AckState:
    """Where one box stands with one (scope, version): applied, rejected or pending."""

    device_id: str
    state: str  # "applied" | "rejected" | "pending"
    reason: str | None = None
    at: str | None = None
    catalogue_version: int | None = None  # what the box answers from now, by its own ack


def _instant(at: str) -> datetime:
    """An ack's timestamp as a datetime (fractions beyond microseconds are dropped)."""
    head, _, fraction = at.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(fraction + '000000')[:6]}+00:00")


class AckTracker:
    """The latest ack of every box for every (scope, version) it answered.

    Acks are checked before they count: valid `hoixa.ack/1` payload, on a box's ack topic,
    naming the device of that topic and a scope that box follows. Anything else is logged
    and counted in `invalid_count` (the last few kept in `recent_invalid`), never raised:
    the tracker runs inside the MQTT client's network thread.
    """

    def __init__(self, devices: Iterable[topics.DevicePlace] = ()):
        self._lock = threading.Lock()
        self._places = {p.device_id: p for p in devices}
        self._latest: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
        self.invalid_count = 0
        self.recent_invalid: deque[tuple[str, str]] = deque(maxlen=100)  # (topic, reason)

    def set_devices(self, devices: Iterable[topics.DevicePlace]) -> None:
        """The boxes expected to answer (enrolled boxes change over time)."""
        with self._lock:
            self._places = {p.device_id: p for p in devices}

    def attach(
        self, client: mqtt.Client, *, group: str | None = None, timeout: float = 10.0
    ) -> None:
        """Subscribe `client` to every box's acks (shared within `group` if given)."""
        client.message_callback_add(topics.ALL_ACKS, self._on_message)
        topic_filter = topics.shared(group, topics.ALL_ACKS) if group else topics.ALL_ACKS
        try:
            with _Answers(client).installed() as answers:
                answers.subscribe([topic_filter], 1, time.monotonic() + timeout)
        except PublishError:
            client.message_callback_remove(topics.ALL_ACKS)
            raise

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        self.handle(msg.topic, msg.payload)

    def handle(self, topic: str, payload: bytes) -> dict[str, Any] | None:
        """Record one ack as received from the broker; the ack if it counted, else None."""
        try:
            ack = self._check(topic, payload)
        except (messages.PayloadError, topics.TopicError) as exc:
            self._refuse(topic, getattr(exc, "reason", str(exc)))
            return None
        except Exception as exc:  # a bug here must not stop the client's network thread
            log.exception("ack on %s could not be handled", topic)
            self._refuse(topic, f"internal error: {exc}")
            return None
        key = (ack["scope"], ack["version"])
        with self._lock:
            per_device = self._latest.setdefault(key, {})
            known = per_device.get(ack["device_id"])
            if known is None or _instant(ack["at"]) >= _instant(known["at"]):
                per_device[ack["device_id"]] = ack
        return ack

    @staticmethod
    def _check(topic: str, payload: bytes) -> dict[str, Any]:
        place, kind = topics.parse_device_topic(topic)
        if kind != "ack":
            raise topics.TopicError(f"not an ack topic: {topic}")
        ack = messages.decode(payload, "hoixa.ack/1", max_bytes=MAX_ACK_BYTES)
        if ack["device_id"] != place.device_id:
            raise messages.PayloadError(
                f"device_id {ack['device_id']!r} differs from the topic's {place.device_id!r}"
            )
        if ack["scope"] not in place.scopes():
            raise messages.PayloadError(f"{place.device_id} does not follow scope {ack['scope']}")
        try:
            _instant(ack["at"])
        except ValueError as exc:
            raise messages.PayloadError(f"at: {ack['at']!r} is not a real time") from exc
        return ack

    def _refuse(self, topic: str, reason: str) -> None:
        log.warning("invalid ack on %s: %s", topic, reason)
        with self._lock:
            self.invalid_count += 1
            self.recent_invalid.append((topic, reason))

    def states(self, scope: str, version: int) -> dict[str, AckState]:
        """device id → AckState for every expected box that follows `scope`."""
        topics.check_scope(scope)
        with self._lock:
            acks = dict(self._latest.get((scope, version), {}))
            expected = sorted(d for d, p in self._places.items() if scope in p.scopes())
        result = {}
        for device_id in expected:
            ack = acks.get(device_id)
            if ack is None:
                result[device_id] = AckState(device_id, "pending")
            else:
                result[device_id] = AckState(
                    device_id,
                    ack["result"],
                    ack.get("reason"),
                    ack["at"],
                    ack["catalogue_version"],
                )
        return result

    def acks(self, scope: str, version: int) -> dict[str, dict[str, Any]]:
        """Every recorded latest ack for (scope, version), expected boxes or not."""
        with self._lock:
            return dict(self._latest.get((scope, version), {}))
