"""A stand-in for an ingestion worker: counts the unique event ids it receives.

Like `hoixa.server.ingest` it joins the shared subscription `$share/ingest/…/events` (several
workers split the stream) with MQTT v5 and Receive Maximum 5000. Unlike it, it only parses the
JSON and keeps `event_id` (no schema validation, no database): what is measured is what the
broker can deliver, not what a database can store (bench/server/ingest.py measures that).
"""

from __future__ import annotations

import json
import os
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hoixa.contract import topics

GROUP = "ingest"
RECEIVE_MAXIMUM = 5000  # as hoixa.server.ingest
READY_TIMEOUT_S = 10.0


class EventCounter:
    """Unique event ids seen, plus how many messages carried them (redeliveries included)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: set[str] = set()
        self.received = 0
        self.unreadable = 0
        self.first: float | None = None
        self.last: float | None = None

    def on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        try:
            event_id = json.loads(msg.payload)["event_id"]
        except (ValueError, KeyError, TypeError):
            with self.lock:
                self.unreadable += 1
            return
        with self.lock:
            self.ids.add(event_id)
            self.received += 1
            self.last = now
            if self.first is None:
                self.first = now

    def summary(self, with_ids: bool = False) -> dict:
        with self.lock:
            out = {
                "received": self.received,
                "unique": len(self.ids),
                "unreadable": self.unreadable,
                "first": self.first,
                "last": self.last,
                "cpu_s": sum(os.times()[:2]),
            }
            if with_ids:
                out["ids"] = list(self.ids)
        return out


def consumer_main(
    port: int,
    index: int,
    conn: Connection,
    login: tuple[str, str] | None = None,
    ca_file: Path | None = None,
    host: str = "127.0.0.1",
) -> None:
    """Entry point of one consumer process: ready → answers 'count' / 'ids' → 'stop'."""
    counter = EventCounter()
    subscribed = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-ingest-{index}", protocol=mqtt.MQTTv5
    )
    client.on_message = counter.on_message
    if login:
        client.username_pw_set(*login)
    if ca_file:
        client.tls_set(ca_certs=str(ca_file))

    def on_connect(c, userdata, flags, reason_code, properties):
        if not reason_code.is_failure:
            c.subscribe(topics.shared(GROUP, topics.ALL_EVENTS), qos=1)

    client.on_connect = on_connect
    client.on_subscribe = lambda c, u, mid, codes, p: subscribed.set()
    props = Properties(PacketTypes.CONNECT)
    props.ReceiveMaximum = RECEIVE_MAXIMUM
    try:
        client.connect(host, port, keepalive=30, clean_start=True, properties=props)
        client.loop_start()
        if not subscribed.wait(READY_TIMEOUT_S):
            conn.send(("error", "consumer could not subscribe in time"))
            return
        conn.send(("ready", os.getpid()))
        while True:
            if not conn.poll(1.0):
                if os.getppid() == 1:  # the runner died: do not linger
                    return
                continue
            cmd = conn.recv()
            if cmd == "count":
                conn.send(("count", counter.summary()))
            elif cmd == "ids":
                conn.send(("ids", counter.summary(with_ids=True)))
            elif cmd == "stop":
                conn.send(("stopped", counter.summary()))
                return
    except (EOFError, OSError, KeyboardInterrupt):
        return
    finally:
        client.disconnect()
        client.loop_stop()
        conn.close()
