"""How one Mosquitto on this machine copes with a province's (or the country's) boxes.

Goal (issue 4): 3,300 boxes (one per commune) connected to one broker, and a catalogue update
applied (verified and acked) by 99 % of them within 60 s.

    .venv/bin/python bench/fleet/run.py [--sizes 100,1000,3300] [--limit 10000,15000,20000]
        [--procs 4] [--events-s 10] [--consumers 1,2] [--budget-s 540] [--json out.json]

For each fleet size N, on a fresh broker (`hoixa.server.mosquitto.Mosquitto`, 127.0.0.1):
  1. storm    all N simulated boxes (bench/fleet/simbox.py: `--procs` processes, one thread
              each) connect at the same instant; time until every CONNACK and every SUBACK,
              retries, broker CPU and memory (/proc/<pid>/stat, /proc/<pid>/status), how long
              the broker waited for a CPU (/proc/<pid>/schedstat: the machine is shared);
  2. update   the shipped default catalogue, version bumped, scope "all", published with
              `publish_catalogue`; time from the call until 50/90/99/100 % of the N boxes'
              "applied" acks were counted by an `AckTracker` on the server side;
  3. events   every box publishes valid events as fast as its window of 20 unacknowledged
              allows for `--events-s` seconds; 1 then 2 consumer processes on the shared
              subscription count unique event ids (bench/fleet/event_counter.py); the
              broker's own count of dropped messages comes from $SYS.
Then `--limit` sizes are tried in order until the first that misses the goal (or the time
budget runs out). Everything started is stopped on the way out, even on failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import resource
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import event_counter
import paho.mqtt.client as mqtt
import simbox
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hoixa.contract import catalogue as cat
from hoixa.contract import topics
from hoixa.server import broker_auth
from hoixa.server import tls as server_tls
from hoixa.server.catalogue_publisher import (
    AckTracker,
    PublishError,
    publish_catalogue,
)
from hoixa.server.mosquitto import Mosquitto, TlsFiles

GOAL_BOXES = 3300
GOAL_SHARE = 0.99
GOAL_UPDATE_S = 60.0
SPAWN = multiprocessing.get_context("spawn")
CLK_TCK = os.sysconf("SC_CLK_TCK")
READY_TIMEOUT_S = 60.0  # simulator processes importing and building their boxes
STALL_S = 5.0  # consumers that counted nothing new for this long have received all they will
DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"  # QoS 1 messages a full queue dropped


class BenchError(RuntimeError):
    """A phase could not run (a process died or did not answer in time)."""


# -- process figures ---------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat fields 14 and 15)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_mb(pid: int) -> dict[str, float]:
    """Resident memory now and at its peak (VmRSS, VmHWM), in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def cpu_used(pids: list[int], before: dict[int, float]) -> float:
    """CPU seconds used by `pids` since `before`."""
    used = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            used += cpu_seconds(pid) - before.get(pid, 0.0)
    return used


def cpu_percent(pids: list[int], before: dict[int, float], seconds: float) -> float:
    """CPU used by `pids` since `before`, in % of one core."""
    return round(100.0 * cpu_used(pids, before) / max(seconds, 1e-6), 1)


def cpu_snapshot(pids: list[int]) -> dict[int, float]:
    snap = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            snap[pid] = cpu_seconds(pid)
    return snap


def run_delay_s(pid: int) -> float:
    """Time the process has spent runnable but waiting for a CPU (/proc/<pid>/schedstat):
    on a shared machine, what the broker lost to other work."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def listen_overflows() -> int | None:
    """The kernel's count of connections dropped because a listen queue was full (TcpExt
    ListenOverflows, whole network namespace). Mosquitto 2.0 listens with a backlog of 100."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return int(table["ListenOverflows"]) if "ListenOverflows" in table else None
    return None


def load_average() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def raise_open_files(needed: int) -> int:
    """Raise this process's open-file limit (inherited by the broker and the simulators:
    Mosquitto needs one descriptor per client). Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, needed)
    for limits in ((want, max(hard, want)), (min(want, hard), hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limits)
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def share_time(times: list[float], n: int, share: float) -> float | None:
    """When `share` of `n` boxes had done it (times sorted, from the phase start), or None."""
    need = max(1, math.ceil(share * n - 1e-9))
    return round(times[need - 1], 3) if len(times) >= need else None


# -- results -----------------------------------------------------------------------------------


@dataclass
class StormResult:
    connected: int
    subscribed: int
    all_connack_s: float | None
    p50_connack_s: float | None
    all_subscribed_s: float | None
    retries: int
    failures: dict[str, int]
    broker_cpu_pct: float
    broker_cpu_ms_per_box: float
    broker_wait_pct: float  # runnable but waiting for a CPU, % of the phase
    listen_overflows: int | None  # SYNs dropped by full listen queues (whole machine)
    sim_cpu_pct: float
    broker_rss_mb: float
    broker_kb_per_box: float
    wall_s: float


@dataclass
class UpdateResult:
    version: int
    publish_s: float
    t50_s: float | None
    t90_s: float | None
    t99_s: float | None
    t100_s: float | None
    applied: int
    rejected: int
    pending: int
    invalid_acks: int
    verify_ms_mean: float | None  # CPU per box: manifest, signature, hashes, ack
    verify_ms_max: float | None
    broker_cpu_pct: float
    broker_cpu_ms_per_box: float
    broker_wait_pct: float
    sim_cpu_pct: float


@dataclass
class EventsResult:
    consumers: int
    seconds: float
    published: int
    acked: int
    unacked: int
    delivered: int  # unique event ids counted by the consumers
    duplicates: int
    lost: int  # acked by the broker, not delivered by the end of the drain
    dropped_by_broker: int  # $SYS publish/messages/dropped: a full queue (max_queued_messages)
    acked_per_s: float
    delivered_per_s: float
    drain_s: float | None
    # CPU from the first event until the last was counted, in % of one core
    broker_cpu_pct: float
    broker_cpu_us_per_event: float  # received from a box and sent to a consumer
    broker_wait_pct: float
    sim_cpu_pct: float
    consumer_cpu_pct: float


@dataclass
class SizeResult:
    boxes: int
    procs: int
    auth: bool
    tls: bool
    load_before: str
    load_after: str = ""
    storm: StormResult | None = None
    update: UpdateResult | None = None
    events: list[EventsResult] = field(default_factory=list)
    broker_peak_rss_mb: float | None = None
    wall_s: float = 0.0
    error: str | None = None

    @property
    def label(self) -> str:
        """The size, and how the boxes log in when not anonymous over plain TCP."""
        extras = [name for name, on in (("accounts+ACL", self.auth), ("TLS", self.tls)) if on]
        return f"{self.boxes} ({', '.join(extras)})" if extras else str(self.boxes)

    @property
    def meets_goal(self) -> bool:
        """Every box connected, and 99 % applied the update within 60 s."""
        return (
            self.storm is not None
            and self.storm.connected == self.boxes
            and self.update is not None
            and self.update.t99_s is not None
            and self.update.t99_s <= GOAL_UPDATE_S
        )


class TimedAckTracker(AckTracker):
    """An AckTracker that also notes when each counted ack arrived."""

    def __init__(self, devices):
        super().__init__(devices)
        self.arrivals: list[tuple[float, dict[str, Any]]] = []

    def handle(self, topic: str, payload: bytes) -> dict[str, Any] | None:
        ack = super().handle(topic, payload)
        if ack is not None:
            self.arrivals.append((time.monotonic(), ack))
        return ack


# -- the fleet under test ------------------------------------------------------------------


def server_client(
    port: int,
    client_id: str,
    login: tuple[str, str] | None = None,
    ca_file: Path | None = None,
) -> mqtt.Client:
    """A server-side MQTT v5 client with its own network thread, connected."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    if login:
        client.username_pw_set(*login)
    if ca_file:
        client.tls_set(ca_certs=str(ca_file))
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", port, keepalive=60)
    client.loop_start()
    deadline = time.monotonic() + 10
    while not client.is_connected():
        if time.monotonic() > deadline:
            client.loop_stop()
            raise BenchError(f"{client_id} could not connect to the broker")
        time.sleep(0.02)
    return client


def _receive(conn: Connection, kind: str, deadline: float, who: str) -> Any:
    remaining = deadline - time.monotonic()
    if remaining <= 0 or not conn.poll(remaining):
        raise BenchError(f"{who} did not answer {kind!r} in time")
    try:
        got, payload = conn.recv()
    except EOFError as exc:
        raise BenchError(f"{who} died") from exc
    if got == "error":
        raise BenchError(f"{who}: {payload}")
    if got != kind:
        raise BenchError(f"{who} answered {got!r} instead of {kind!r}")
    return payload


def _gather(conns: list[Connection], kind: str, deadline: float, who: str) -> list[Any]:
    """One `kind` answer from every connection, in order, waiting for all at once."""
    answers: dict[int, Any] = {}
    pending = list(conns)
    while pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BenchError(f"{len(pending)} {who} process(es) did not answer {kind!r} in time")
        for conn in wait(pending, remaining):
            answers[conns.index(conn)] = _receive(conn, kind, deadline, who)
            pending.remove(conn)
    return [answers[i] for i in range(len(conns))]


class Fleet:
    """A broker, N simulated boxes in `procs` processes, and the server-side clients."""

    def __init__(
        self,
        boxes: int,
        folder: Path,
        *,
        procs: int = 4,
        seed: int = 1,
        auth: bool = False,
        tls: bool = False,
    ):
        self.n = boxes
        self.folder = folder
        self.auth = auth  # password file and the fleet's ACL, as in production
        self.tls = tls  # TLS with a server certificate from the fleet's CA, as in production
        self.ca_file: Path | None = None
        self.procs = max(1, min(procs, boxes))
        self.seed = seed
        self.places = [topics.DevicePlace(*simbox.place_of(i)) for i in range(boxes)]
        self.key = Ed25519PrivateKey.generate()
        self.default = cat.load_default()
        self.broker: Mosquitto | None = None
        self.workers: list[tuple[Any, Connection]] = []
        self.consumers: list[tuple[Any, Connection]] = []
        self.clients: list[mqtt.Client] = []
        self.tracker = TimedAckTracker(self.places)
        self.worker_pids: list[int] = []
        self.broker_dropped = 0  # as last reported in $SYS (every second)
        self.passwords: dict[str, str] = {}  # username → password, with auth

    # life cycle

    def _write_accounts(self) -> tuple[Path, Path]:
        """A password file and the ACL broker_auth writes for these boxes, plus one line that
        lets the server account read $SYS (the bench's dropped-message counter)."""
        server = broker_auth.DEFAULT_SERVER_USERNAME
        self.passwords = {p.device_id: broker_auth.new_password() for p in self.places}
        self.passwords[server] = broker_auth.new_password()
        hashes = {name: broker_auth.hash_password(pw) for name, pw in self.passwords.items()}
        password_file, acl_file = self.folder / "passwords", self.folder / "acl"
        self.folder.mkdir(parents=True, exist_ok=True)
        password_file.write_text(broker_auth.password_file_text(hashes))
        acl = broker_auth.acl_text(server, self.places)
        acl_file.write_text(acl.replace(f"user {server}\n", f"user {server}\ntopic read $SYS/#\n"))
        return password_file, acl_file

    def start(self) -> Fleet:
        raise_open_files(self.n + 4096)
        password_file, acl_file = self._write_accounts() if self.auth else (None, None)
        tls_files = None
        if self.tls:
            ca = server_tls.make_ca(self.folder / "pki")
            server = server_tls.make_server_cert(self.folder / "pki", ca, ["127.0.0.1"])
            tls_files = TlsFiles(ca.cert, server.cert, server.key)
            self.ca_file = ca.cert
        self.broker = Mosquitto(
            self.folder / "broker",
            password_file=password_file,
            acl_file=acl_file,
            tls=tls_files,
            persistence=True,
            # autosave: Debian's packaged default (30 min), not the tests' 1 s (a production
            # broker does not rewrite its database every second); $SYS every second.
            extra=["autosave_interval 1800", "sys_interval 1"],
        )
        self.broker.start()
        port = self.broker.port
        for name in ("bench-sys", "bench-publisher", "bench-acks"):
            self.clients.append(server_client(port, name, self._login(), self.ca_file))
        sys_client, self.publisher, self.ack_client = self.clients
        sys_client.on_message = self._on_sys
        sys_client.subscribe(DROPPED_TOPIC, qos=0)
        self.tracker.attach(self.ack_client)
        public = self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        fleet = [(i, p.province, p.commune, p.device_id) for i, p in enumerate(self.places)]
        for index in range(self.procs):
            boxes = fleet[index :: self.procs]
            spec = simbox.WorkerSpec(
                index=index,
                port=port,
                boxes=boxes,
                public_key=public,
                passwords=tuple(self.passwords[b[3]] for b in boxes) if self.auth else (),
                ca_file=str(self.ca_file or ""),
                installed_version=int(self.default["version"]),
                seed=self.seed,
            )
            ours, theirs = SPAWN.Pipe()
            process = SPAWN.Process(
                target=simbox.worker_main, args=(spec, theirs), name=f"simbox-{index}", daemon=True
            )
            process.start()
            theirs.close()
            self.workers.append((process, ours))
        deadline = time.monotonic() + READY_TIMEOUT_S
        self.worker_pids = _gather(self._worker_conns(), "ready", deadline, "simulator")
        return self

    def close(self) -> None:
        """Stop everything, whatever state it is in; never raises."""
        for conn in self._worker_conns():
            with contextlib.suppress(Exception):
                conn.send(("stop", 2.0))
        for conn in self._worker_conns():
            with contextlib.suppress(Exception):
                _receive(conn, "stopped", time.monotonic() + 8, "simulator")
        self._stop_consumers()
        for process, conn in self.workers:
            _end_process(process)
            with contextlib.suppress(Exception):
                conn.close()
        self.workers.clear()
        for client in self.clients:
            with contextlib.suppress(Exception):
                client.disconnect()
                client.loop_stop()
        self.clients.clear()
        if self.broker is not None:
            with contextlib.suppress(Exception):
                self.broker.stop()
            if self.broker.running:
                self.broker.stop(kill=True)
            self.broker = None

    def __enter__(self) -> Fleet:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _login(self) -> tuple[str, str] | None:
        """The server account's (username, password) with auth, else None (anonymous)."""
        server = broker_auth.DEFAULT_SERVER_USERNAME
        return (server, self.passwords[server]) if self.auth else None

    def _on_sys(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        with contextlib.suppress(ValueError):
            self.broker_dropped = int(msg.payload)

    def _worker_conns(self) -> list[Connection]:
        return [conn for _, conn in self.workers]

    @property
    def broker_pid(self) -> int:
        assert self.broker is not None and self.broker.pid is not None
        return self.broker.pid

    # phases

    def storm(self, timeout: float = 120.0) -> StormResult:
        """Every box connects at the same instant; until all have their SUBACK (or timeout)."""
        rss_before = memory_mb(self.broker_pid)["VmRSS"]
        t0 = time.monotonic() + 0.3
        for conn in self._worker_conns():
            conn.send(("connect", t0, t0 + timeout))
        while time.monotonic() < t0:
            time.sleep(0.005)
        broker0 = cpu_snapshot([self.broker_pid])
        wait0, overflows0 = run_delay_s(self.broker_pid), listen_overflows()
        sim0 = cpu_snapshot(self.worker_pids)
        reports = _gather(self._worker_conns(), "connected", t0 + timeout + 15, "simulator")
        wall = time.monotonic() - t0
        broker_s = cpu_used([self.broker_pid], broker0)
        waited = run_delay_s(self.broker_pid) - wait0
        overflows = listen_overflows()
        sim_cpu = cpu_percent(self.worker_pids, sim0, wall)
        rss = memory_mb(self.broker_pid)["VmRSS"]
        connacks = sorted(t - t0 for r in reports for t in r["connack_at"] if t is not None)
        subacks = sorted(t - t0 for r in reports for t in r["subscribed_at"] if t is not None)
        failures: Counter[str] = Counter()
        for r in reports:
            failures.update({k[5:]: v for k, v in r["counts"].items() if k.startswith("fail:")})
        return StormResult(
            connected=sum(r["connected"] for r in reports),
            subscribed=len(subacks),
            all_connack_s=share_time(connacks, self.n, 1.0),
            p50_connack_s=share_time(connacks, self.n, 0.5),
            all_subscribed_s=share_time(subacks, self.n, 1.0),
            retries=sum(r["retries"] for r in reports),
            failures=dict(failures),
            broker_cpu_pct=round(100 * broker_s / wall, 1),
            broker_cpu_ms_per_box=round(1000 * broker_s / self.n, 3),
            broker_wait_pct=round(100 * waited / wall, 1),
            listen_overflows=(
                overflows - overflows0 if overflows is not None and overflows0 is not None else None
            ),
            sim_cpu_pct=sim_cpu,
            broker_rss_mb=round(rss, 1),
            broker_kb_per_box=round((rss - rss_before) * 1024 / self.n, 1),
            wall_s=round(wall, 2),
        )

    def update(self, timeout: float = 120.0) -> UpdateResult:
        """Publish the default catalogue, version bumped, to scope all; wait for every ack."""
        version = int(self.default["version"]) + 1
        doc = dict(self.default, version=version, scope="all")
        broker0 = cpu_snapshot([self.broker_pid])
        wait0 = run_delay_s(self.broker_pid)
        sim0 = cpu_snapshot(self.worker_pids)
        t_pub = time.monotonic()
        publish_catalogue(self.publisher, doc, self.key, timeout=timeout)
        publish_s = time.monotonic() - t_pub
        deadline = t_pub + timeout
        while time.monotonic() < deadline:
            done = sum(1 for _, a in self.tracker.arrivals if a["version"] == version)
            if done >= self.n:
                break
            time.sleep(0.02)
        wall = time.monotonic() - t_pub
        broker_s = cpu_used([self.broker_pid], broker0)
        waited = run_delay_s(self.broker_pid) - wait0
        sim_cpu = cpu_percent(self.worker_pids, sim0, wall)
        applied_times = sorted(
            at - t_pub
            for at, ack in list(self.tracker.arrivals)
            if ack["version"] == version and ack["result"] == "applied"
        )
        states = Counter(s.state for s in self.tracker.states("all", version).values())
        for conn in self._worker_conns():
            conn.send(("report",))
        reports = _gather(self._worker_conns(), "report", time.monotonic() + 15, "simulator")
        verify = [v * 1000 for r in reports for v in r["verify_s"]]
        return UpdateResult(
            version=version,
            publish_s=round(publish_s, 3),
            t50_s=share_time(applied_times, self.n, 0.5),
            t90_s=share_time(applied_times, self.n, 0.9),
            t99_s=share_time(applied_times, self.n, GOAL_SHARE),
            t100_s=share_time(applied_times, self.n, 1.0),
            applied=states["applied"],
            rejected=states["rejected"],
            pending=states["pending"],
            invalid_acks=self.tracker.invalid_count,
            verify_ms_mean=round(sum(verify) / len(verify), 2) if verify else None,
            verify_ms_max=round(max(verify), 2) if verify else None,
            broker_cpu_pct=round(100 * broker_s / wall, 1),
            broker_cpu_ms_per_box=round(1000 * broker_s / self.n, 3),
            broker_wait_pct=round(100 * waited / wall, 1),
            sim_cpu_pct=sim_cpu,
        )

    def events(self, consumers: int, seconds: float = 10.0, drain_s: float = 60.0) -> EventsResult:
        """Every box sends events flat out for `seconds`; `consumers` processes count them."""
        self._start_consumers(consumers)
        try:
            return self._events(seconds, drain_s)
        finally:
            self._stop_consumers()

    def _events(self, seconds: float, drain_s: float) -> EventsResult:
        consumer_conns = [conn for _, conn in self.consumers]
        consumer_pids = [process.pid for process, _ in self.consumers]
        t_start = time.monotonic() + 0.3
        t_stop = t_start + seconds
        for conn in self._worker_conns():
            conn.send(("events", t_start, t_stop, t_stop + drain_s))
        while time.monotonic() < t_start:
            time.sleep(0.005)
        pids = {"broker": [self.broker_pid], "sim": self.worker_pids, "consumer": consumer_pids}
        before = {k: cpu_snapshot(v) for k, v in pids.items()}
        wait0, dropped0 = run_delay_s(self.broker_pid), self.broker_dropped
        sent = _gather(self._worker_conns(), "events", t_stop + drain_s + 15, "simulator")
        acked = sum(s["acked"] for s in sent)
        # Wait for the consumers while they make progress: until all is counted, nothing new
        # came for STALL_S, or drain_s passed.
        deadline = time.monotonic() + drain_s
        progress, progress_at = -1, time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - progress_at < STALL_S:
            for conn in consumer_conns:
                conn.send("count")
            counts = _gather(consumer_conns, "count", deadline + 5, "consumer")
            counted = sum(c["unique"] for c in counts)
            if counted >= acked:
                break
            if counted > progress:
                progress, progress_at = counted, time.monotonic()
            time.sleep(0.2)
        period = time.monotonic() - t_start
        used = {k: cpu_used(v, before[k]) for k, v in pids.items()}
        waited = run_delay_s(self.broker_pid) - wait0
        time.sleep(1.2)  # the next $SYS report
        dropped = self.broker_dropped - dropped0
        for conn in consumer_conns:
            conn.send("ids")
        final = _gather(consumer_conns, "ids", time.monotonic() + 30, "consumer")
        ids: set[str] = set()
        for f in final:
            ids.update(f["ids"])
        received = sum(f["received"] for f in final)
        last = max((f["last"] for f in final if f["last"] is not None), default=None)
        last_ack = max((s["last_ack"] for s in sent if s["last_ack"] is not None), default=None)
        return EventsResult(
            consumers=len(final),
            seconds=round(seconds, 2),
            published=sum(s["published"] for s in sent),
            acked=acked,
            unacked=sum(s["unacked"] for s in sent),
            delivered=len(ids),
            duplicates=received - len(ids),
            lost=max(0, acked - len(ids)),
            dropped_by_broker=dropped,
            acked_per_s=round(acked / max((last_ack or t_stop) - t_start, 1e-6)),
            delivered_per_s=round(len(ids) / max((last or t_stop) - t_start, 1e-6)),
            drain_s=round(last - t_stop, 2) if last is not None else None,
            broker_cpu_pct=round(100 * used["broker"] / period, 1),
            broker_cpu_us_per_event=round(1e6 * used["broker"] / max(len(ids), 1), 1),
            broker_wait_pct=round(100 * waited / period, 1),
            sim_cpu_pct=round(100 * used["sim"] / period, 1),
            consumer_cpu_pct=round(100 * used["consumer"] / period, 1),
        )

    def _start_consumers(self, count: int) -> None:
        port = self.broker.port if self.broker else 0
        for index in range(count):
            ours, theirs = SPAWN.Pipe()
            process = SPAWN.Process(
                target=event_counter.consumer_main,
                args=(port, index, theirs, self._login(), self.ca_file),
                name=f"consumer-{index}",
                daemon=True,
            )
            process.start()
            theirs.close()
            self.consumers.append((process, ours))
        _gather([c for _, c in self.consumers], "ready", time.monotonic() + 30, "consumer")

    def _stop_consumers(self) -> None:
        for process, conn in self.consumers:
            with contextlib.suppress(Exception):
                conn.send("stop")
                _receive(conn, "stopped", time.monotonic() + 5, "consumer")
            _end_process(process)
            with contextlib.suppress(Exception):
                conn.close()
        self.consumers.clear()


def _end_process(process: Any) -> None:
    process.join(3)
    if process.is_alive():
        process.terminate()
        process.join(3)
    if process.is_alive():
        process.kill()
        process.join(3)


# -- one size, several sizes -----------------------------------------------------------------


def run_size(
    boxes: int,
    *,
    procs: int = 4,
    events_s: float = 10.0,
    consumers: tuple[int, ...] = (1, 2),
    storm_timeout_s: float = 120.0,
    update_timeout_s: float = 120.0,
    drain_s: float = 60.0,
    folder: Path | None = None,
    auth: bool = False,
    tls: bool = False,
) -> SizeResult:
    """All three measures for one fleet size; a failure is recorded, not raised."""
    began = time.monotonic()
    result = SizeResult(
        boxes=boxes, procs=min(procs, boxes), auth=auth, tls=tls, load_before=load_average()
    )
    with contextlib.ExitStack() as stack:
        if folder is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fleet-bench-")))
        fleet = Fleet(boxes, folder, procs=procs, auth=auth, tls=tls)
        try:
            with fleet:
                result.storm = fleet.storm(storm_timeout_s)
                if result.storm.subscribed < boxes:
                    raise BenchError(
                        f"only {result.storm.subscribed} of {boxes} boxes connected and "
                        f"subscribed within {storm_timeout_s:.0f} s"
                    )
                result.update = fleet.update(update_timeout_s)
                for count in consumers:
                    result.events.append(fleet.events(count, events_s, drain_s))
                result.broker_peak_rss_mb = round(memory_mb(fleet.broker_pid)["VmHWM"], 1)
        except (BenchError, PublishError, OSError) as exc:
            result.error = f"{type(exc).__name__}: {exc}"
    result.load_after = load_average()
    result.wall_s = round(time.monotonic() - began, 1)
    return result


def _fmt(value: Any, unit: str = "") -> str:
    return "—" if value is None else f"{value}{unit}"


def markdown(results: list[SizeResult]) -> str:
    """The three tables of docs/fleet-bench.md."""
    lines = [
        "### Connect storm (all boxes at once)",
        "",
        "| boxes | connected | 50 % CONNACK | all CONNACK | all SUBACK | retries (why) "
        "| SYNs dropped | broker CPU | broker CPU per box | broker waiting for a CPU "
        "| simulators CPU | broker RSS | RSS per box | load (1/5/15 min) |",
        "|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        s = r.storm
        if s is None:
            lines.append(f"| {r.label} | failed: {r.error} |||||||||||||")
            continue
        why = ", ".join(f"{k} {v}" for k, v in sorted(s.failures.items()))
        lines.append(
            f"| {r.label} | {s.connected} | {_fmt(s.p50_connack_s, ' s')} "
            f"| {_fmt(s.all_connack_s, ' s')} | {_fmt(s.all_subscribed_s, ' s')} "
            f"| {s.retries}{f' ({why})' if why else ''} | {_fmt(s.listen_overflows)} "
            f"| {s.broker_cpu_pct} % | {s.broker_cpu_ms_per_box} ms | {s.broker_wait_pct} % "
            f"| {s.sim_cpu_pct} % | {s.broker_rss_mb} MB | {s.broker_kb_per_box} kB "
            f"| {r.load_before} |"
        )
    lines += [
        "",
        "### Catalogue update (default catalogue, scope all) until the acks are counted",
        "",
        "| boxes | publish call | 50 % | 90 % | 99 % | 100 % | applied | rejected | pending "
        "| check CPU per box | broker CPU | broker CPU per box | broker waiting for a CPU "
        "| simulators CPU | goal (99 % ≤ 60 s) | load |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        u = r.update
        if u is None:
            continue
        lines.append(
            f"| {r.label} | {u.publish_s} s | {_fmt(u.t50_s, ' s')} | {_fmt(u.t90_s, ' s')} "
            f"| {_fmt(u.t99_s, ' s')} | {_fmt(u.t100_s, ' s')} | {u.applied} | {u.rejected} "
            f"| {u.pending} | {_fmt(u.verify_ms_mean, ' ms')} | {u.broker_cpu_pct} % "
            f"| {u.broker_cpu_ms_per_box} ms | {u.broker_wait_pct} % | {u.sim_cpu_pct} % "
            f"| {'met' if r.meets_goal else 'MISSED'} | {r.load_before} |"
        )
    lines += [
        "",
        "### Events flat out (window 20 per box), counted by unique id",
        "",
        "| boxes | consumers | events | acked to boxes /s | delivered /s | lost (dropped) "
        "| duplicates "
        "| drain | broker CPU | broker CPU per event | broker waiting for a CPU "
        "| simulators CPU | consumers CPU | load after |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        for e in r.events:
            lines.append(
                f"| {r.label} | {e.consumers} | {e.acked} | {e.acked_per_s} "
                f"| {e.delivered_per_s} | {e.lost} ({e.dropped_by_broker}) | {e.duplicates} "
                f"| {_fmt(e.drain_s, ' s')} "
                f"| {e.broker_cpu_pct} % | {e.broker_cpu_us_per_event} µs "
                f"| {e.broker_wait_pct} % | {e.sim_cpu_pct} % | {e.consumer_cpu_pct} % "
                f"| {r.load_after} |"
            )
    failed = [r for r in results if r.error]
    if failed:
        lines += ["", *(f"- {r.label} boxes: {r.error}" for r in failed)]
    return "\n".join(lines) + "\n"


def _guess_s(results: list[SizeResult], boxes: int, events: bool) -> float:
    """How long a run of `boxes` may take: a fixed part (processes, events, drain) plus a part
    that grows with the boxes, from the last similar run."""
    alike = [r for r in results if bool(r.events) == events] or results
    last = alike[-1]
    fixed = min(last.wall_s, 60.0 if events else 20.0)
    return fixed + (last.wall_s - fixed) * boxes / last.boxes


def _sizes(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=_sizes, default=[100, 1000, 3300])
    parser.add_argument(
        "--limit",
        type=_sizes,
        default=[10000, 15000, 20000],
        help="larger sizes, in order, tried until the first that misses the goal",
    )
    parser.add_argument("--procs", type=int, default=4, help="simulator processes")
    parser.add_argument("--events-s", type=float, default=10.0)
    parser.add_argument("--consumers", type=_sizes, default=[1, 2])
    parser.add_argument(
        "--limit-consumers",
        type=_sizes,
        default=[],
        help="event runs for the --limit sizes "
        "(none by default: the limit is about connections and updates, and time is short)",
    )
    parser.add_argument("--budget-s", type=float, default=540.0, help="stop trying sizes after")
    parser.add_argument(
        "--auth", action="store_true", help="password file and the fleet's ACL (broker_auth)"
    )
    parser.add_argument(
        "--tls", action="store_true", help="TLS, server certificate from a fleet CA (server/tls)"
    )
    parser.add_argument(
        "--folder", type=Path, help="keep each broker's folder (config, log) under this one"
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)

    # A SIGTERM must run the cleanup of the phase in progress, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    began = time.monotonic()
    results: list[SizeResult] = []
    plan = [(n, tuple(args.consumers), False) for n in args.sizes]
    plan += [(n, tuple(args.limit_consumers), True) for n in args.limit]
    for n, consumers_, is_limit in plan:
        spent = time.monotonic() - began
        if is_limit and results:  # the --sizes always run; larger ones only within the budget
            guess = _guess_s(results, n, bool(consumers_))
            if spent + guess > args.budget_s:
                print(f"skipping {n} boxes: about {guess:.0f} s more would pass the budget")
                break
        print(f"== {n} boxes (load {load_average()}) ...", flush=True)
        result = run_size(
            n,
            procs=args.procs,
            events_s=args.events_s,
            consumers=consumers_,
            folder=args.folder / f"{n}-boxes" if args.folder else None,
            auth=args.auth,
            tls=args.tls,
        )
        results.append(result)
        print(json.dumps(asdict(result), indent=1), flush=True)
        if is_limit and not result.meets_goal:
            print(f"first size that misses the goal: {n} boxes")
            break
    print()
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")
    goal = next((r for r in results if r.boxes == GOAL_BOXES), None)
    return 0 if goal is None or goal.meets_goal else 1


if __name__ == "__main__":
    sys.exit(main())
