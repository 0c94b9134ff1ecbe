"""The central server's database under load: ingestion rate and dashboard query times.

Goals (issue 5): at least 5,000 events/s sustained from the broker into the database, and
dashboard queries under 300 ms with one year of events from 3,300 boxes.

    .venv/bin/python bench/server/ingest.py ingest  [--backend sqlite,postgresql]
                     [--events 20000] [--workers 1,2] [--publishers 2] [--boxes 200]
                     [--batch-size 1000] [--repeat 3]
    .venv/bin/python bench/server/ingest.py queries [--backend sqlite,postgresql]
                     [--per-day 1.0] [--boxes 3300]

`ingest` runs a real Mosquitto, N worker processes (`python -m hoixa.server.ingest`, one
shared-subscription group) and publisher processes of paho clients, one per simulated box,
sending valid hoixa.event/1 payloads at QoS 1. Two figures per setting:
  live   publishers and workers run together; from the first publish to the last event
         stored (on a small machine the publishers take CPU from the workers);
  drain  the same events queued in the broker for the workers' persistent sessions
         while they are stopped, then the workers started: what they alone can store.
PostgreSQL runs with its durable defaults (fsync on, synchronous commit). With `--repeat`
each setting runs that many times and the median is shown. Besides the rate, the CPU each
process used per event stored: the workers (the honest figure for sizing a server), the
broker, PostgreSQL, and in `live` the publishers (which compete for the same CPUs).

`queries` writes a year of conversations (`--per-day` per box per working day, 250
working days) straight into the tables, then times each statistics function (median of 3
runs, after one warm-up) for the dashboard's usual filters, at half and at the full volume
to show how the times grow.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

import paho.mqtt.client as mqtt  # noqa: E402
from pg import PostgresServer  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from hoixa.contract import messages, topics  # noqa: E402
from hoixa.provisioning.mosquitto_conf import (  # noqa: E402
    MAX_QUEUED_BYTES,
    MAX_QUEUED_MESSAGES,
)
from hoixa.server import db, ingest, stats  # noqa: E402
from hoixa.server.mosquitto import Mosquitto  # noqa: E402

EVENTS_PER_S_GOAL = 5000
QUERY_GOAL_MS = 300
FIELDS = [
    "Hộ tịch",
    "Chứng thực",
    "Đất đai",
    "Bảo trợ xã hội",
    "Người có công",
    "Cư trú",
    "Xây dựng",
    "Kinh doanh",
    "Nông nghiệp",
    "Giáo dục",
    "Lao động",
    "Tư pháp",
]


# -- shared: payloads -----------------------------------------------------------------------


def event_payload(device_id: str, rng: random.Random, started: datetime) -> dict:
    turns = []
    for _ in range(rng.choice((1, 2, 2, 3, 3, 4))):
        if rng.random() < 0.12:
            turns.append(
                {
                    "action": "not_found",
                    "heard": f"câu hỏi lạ số {rng.randint(1, 400)}",
                    "procedure": None,
                    "category": None,
                    "confidence": 0.1,
                }
            )
        else:
            code = f"1.{min(int(rng.paretovariate(1.2)), 120):06d}"
            turns.append(
                {
                    "action": rng.choice(("answer", "answer", "menu")),
                    "procedure": code,
                    "category": rng.choice(("steps", "documents", "fees", None)),
                    "confidence": round(rng.random(), 3),
                    "asr_confidence": round(rng.random(), 3),
                    "latency_ms": {"asr_final": 300.0, "match": 4.0, "total": 1300.0},
                }
            )
    ended = started + timedelta(seconds=rng.randint(30, 400))
    return {
        "schema": "hoixa.event/1",
        "event_id": str(uuid.uuid4()),
        "device_id": device_id,
        "session_id": str(uuid.uuid4()),
        "started_at": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "ended_at": ended.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "software_version": "0.1.0",
        "catalogue_version": 12,
        "turns": turns,
        "termination": rng.choice(("thanks", "thanks", "abandoned", "referred")),
        "satisfaction": rng.choice(("satisfied",) * 4 + ("unsatisfied",) + (None,) * 5),
        "satisfaction_by": None,
        "dropped_before": 0,
    }


def place_of(index: int) -> topics.DevicePlace:
    """Box i: 34 provinces, one commune per box (3,321 communes since the 2025 reform)."""
    return topics.DevicePlace(f"{index % 34 + 1:02d}", f"{index:05d}", f"box-{index:05d}")


# -- ingestion ------------------------------------------------------------------------------


def publisher(port: int, boxes: list[int], per_box: int, ready, go, seed: int, cpu=None) -> None:
    rng = random.Random(seed)
    now = datetime(2026, 3, 2, 2, tzinfo=UTC)
    clients = []
    work = []
    for index in boxes:
        place = place_of(index)
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=place.device_id, protocol=mqtt.MQTTv5
        )
        client.max_inflight_messages_set(1000)
        client.connect("127.0.0.1", port)
        client.loop_start()
        clients.append(client)
        docs = [event_payload(place.device_id, rng, now) for _ in range(per_box)]
        messages.validate(docs[0], "hoixa.event/1")  # built alike; the slow check once is enough
        payloads = [json.dumps(d, ensure_ascii=False).encode("utf-8") for d in docs]
        work.append((client, place.events(), payloads))
    ready.set()
    go.wait()
    start = time.process_time()
    infos = []
    for i in range(per_box):  # round robin over the boxes, as many boxes reporting at once
        for client, topic, payloads in work:
            infos.append(client.publish(topic, payloads[i], qos=1))
    for info in infos:
        info.wait_for_publish(300)
    for client in clients:
        client.disconnect()
        client.loop_stop()
    if cpu is not None:
        cpu.put(time.process_time() - start)  # publishing only, not building the payloads


def start_workers(
    url: str, port: int, n: int, batch_size: int = ingest.DEFAULT_BATCH_SIZE
) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hoixa.server.ingest",
                "--database",
                url,
                "--port",
                str(port),
                "--client-id",
                f"bench-ingest-{i}",
                "--batch-size",
                str(batch_size),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        for i in range(n)
    ]


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for w in workers:
        w.send_signal(signal.SIGTERM)
    for w in workers:
        w.wait(60)


def stored(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM events")).scalar_one()


def wait_stored(engine, n: int, timeout: float = 600) -> float:
    start = time.perf_counter()
    while stored(engine) < n:
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"only {stored(engine)} of {n} stored")
        time.sleep(0.05)
    return time.perf_counter()


def subscribed(broker: Mosquitto, n: int) -> bool:
    log = broker.log_path.read_text(errors="replace")
    return log.count(topics.shared("ingest", topics.ALL_ACKS)) >= n


def cpu_seconds(pid: int, children: bool = False) -> float:
    """CPU time a process used so far (Linux /proc), with its reaped children's if asked."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_cpu(server: PostgresServer) -> float:
    """CPU time of a PostgreSQL server: the postmaster, its live and its finished children."""
    postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
    total = cpu_seconds(postmaster, children=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == postmaster:
                total += cpu_seconds(int(entry.name))
    return total


@dataclass
class Backend:
    make_url: Callable[[str], str]  # database name → URL of a new empty database
    cpu: Callable[[], float] | None = None  # the database server's CPU seconds so far


@dataclass
class Run:
    rate: float  # events/s
    cpu_us: dict[str, float]  # CPU µs per event: worker, broker, database, publishers


def ingest_run(
    url: str,
    folder: Path,
    *,
    events: int,
    workers: int,
    publishers: int,
    boxes: int,
    mode: str,
    database_cpu: Callable[[], float] | None = None,
    batch_size: int = ingest.DEFAULT_BATCH_SIZE,
) -> Run:
    """Rate and CPU cost for one setting (a fresh broker and database). Timed from the
    first event stored to the last (a worker's start-up is not ingestion)."""
    db.upgrade_database(url)
    engine = db.make_engine(url)
    broker = Mosquitto(
        folder / f"broker-{url.rsplit('/', 1)[-1]}",
        extra=[
            "log_type subscribe",
            "max_inflight_messages 1000",
            # the production drop-in's queue limits: a backlog of 150,000 events for the
            # workers' sessions must not hit the development broker's 100,000 and be dropped
            f"max_queued_messages {MAX_QUEUED_MESSAGES}",
            f"max_queued_bytes {MAX_QUEUED_BYTES}",
        ],
    ).start()
    running: list[subprocess.Popen] = []
    try:
        running = start_workers(url, broker.port, workers, batch_size)
        deadline = time.monotonic() + 30
        while not subscribed(broker, workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        if mode == "drain":
            stop_workers(running)  # their sessions stay, and collect what is published
            running = []
        per_box = events // boxes
        ctx = multiprocessing.get_context("fork")
        ready = [ctx.Event() for _ in range(publishers)]
        go = ctx.Event()
        publisher_cpu = ctx.Queue()
        shares = [list(range(boxes))[i::publishers] for i in range(publishers)]
        procs = [
            ctx.Process(
                target=publisher, args=(broker.port, s, per_box, r, go, i, publisher_cpu)
            )
            for i, (s, r) in enumerate(zip(shares, ready, strict=True))
        ]
        for p in procs:
            p.start()
        for r in ready:
            r.wait(300)
        total = per_box * boxes

        def cpu() -> dict[str, float]:
            return {
                "worker": sum(cpu_seconds(w.pid) for w in running),
                "broker": cpu_seconds(broker._process.pid),
                "database": database_cpu() if database_cpu else 0.0,
            }

        # live: from the first publish, the workers already running (timing from after the
        # publishers finished, as this once did, measured only the backlog's tail, without
        # the publishers competing for the CPUs); drain: from the first event stored
        first, start, before = 0, time.perf_counter(), cpu()
        go.set()
        publishing = [publisher_cpu.get(timeout=600) for _ in procs]
        for p in procs:
            p.join()
        if mode == "drain":
            running = start_workers(url, broker.port, workers, batch_size)
            while (first := stored(engine)) == 0:
                time.sleep(0.01)
            start, before = time.perf_counter(), cpu()
        end = wait_stored(engine, total)
        after = cpu()
        n = total - first
        cost = {k: (after[k] - before[k]) / n * 1e6 for k in after}
        # live: they ran alongside the workers; drain: before, so they took nothing from them
        cost["publishers"] = sum(publishing) / total * 1e6 if mode == "live" else 0.0
        return Run(n / (end - start), cost)
    finally:
        stop_workers(running)
        broker.stop()
        engine.dispose()


def bench_ingest(args, backends: dict[str, Backend]) -> None:
    print(
        f"ingestion: {args.events} events from {args.boxes} boxes, {args.publishers} "
        f"publisher processes, batches of {args.batch_size}, {os.cpu_count()} CPUs, "
        f"median of {args.repeat} (goal {EVENTS_PER_S_GOAL} events/s)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for backend, where in backends.items():
            for workers in [int(w) for w in args.workers.split(",")]:
                for mode in ("live", "drain"):
                    runs = []
                    for attempt in range(args.repeat):
                        load = os.getloadavg()[0]
                        url = where.make_url(f"ingest_{backend}_{mode}_{workers}_{attempt}")
                        runs.append(
                            ingest_run(
                                url,
                                Path(tmp),
                                events=args.events,
                                workers=workers,
                                publishers=args.publishers,
                                boxes=args.boxes,
                                mode=mode,
                                database_cpu=where.cpu,
                                batch_size=args.batch_size,
                            )
                        )
                        if args.repeat > 1:
                            print(
                                f"    run {attempt + 1}: {runs[-1].rate:6.0f} events/s "
                                f"(load average before: {load:.2f})",
                                flush=True,
                            )
                    rate = statistics.median(r.rate for r in runs)
                    cost = {k: statistics.median(r.cpu_us[k] for r in runs) for k in runs[0].cpu_us}
                    per_core = 1e6 / cost["worker"] if cost["worker"] else 0
                    print(
                        f"  {backend:10s} workers={workers} {mode:5s} {rate:6.0f} events/s "
                        f"({rate / EVENTS_PER_S_GOAL:.2f} × goal); CPU µs/event: worker "
                        f"{cost['worker']:.0f}, broker {cost['broker']:.0f}, database "
                        f"{cost['database']:.0f}, publishers {cost['publishers']:.0f} "
                        f"→ {per_core:.0f} events/s per worker core",
                        flush=True,
                    )


# -- dashboard queries ----------------------------------------------------------------------


def working_days(year: int) -> list[date]:
    day, out = date(year, 1, 1), []
    while day.year == year:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


def generate(engine, boxes: int, per_day: float, seed: int, days: list[date]) -> int:
    """Conversations straight into the tables (the worker's own fast inserts), per day."""
    rng = random.Random(seed)
    dialect = engine.dialect.name
    events_insert = ingest.FastInsert(
        db.Event.__table__, dialect, unique=["event_id"], returning=("id", "event_id")
    )
    turns_insert = ingest.FastInsert(db.Turn.__table__, dialect)
    total = 0
    received = datetime.now(UTC)
    places = [place_of(index) for index in range(boxes)]
    for day in days:
        rows, turns_of = [], {}
        for place in places:
            for _ in range(int(per_day) + (rng.random() < per_day - int(per_day))):
                started = datetime(day.year, day.month, day.day, 1, tzinfo=UTC) + timedelta(
                    seconds=rng.randint(0, 9 * 3600)
                )  # 08:00–17:00 in Vietnam
                doc = event_payload(place.device_id, rng, started)
                msg = ingest.Incoming(place.events(), b"", 0, 0, 0, received)
                row, turns = ingest.event_rows(doc, place, msg.received_at)
                row["raw"] = json.dumps(doc, ensure_ascii=False)
                rows.append(row)
                turns_of[row["event_id"]] = turns
        with Session(engine) as session, session.begin():
            cursor = session.connection().connection.cursor()
            inserted = events_insert.execute(cursor, rows)
            key = (lambda v: v.hex) if dialect == "sqlite" else (lambda v: v)
            by_key = {key(k): v for k, v in turns_of.items()}
            turns_insert.execute(
                cursor, [{**t, "event_pk": pk} for pk, eid in inserted for t in by_key[eid]]
            )
            cursor.close()
            rows_by_key = {key(r["event_id"]): r for r in rows}
            ingest.add_to_rollups(session, [(rows_by_key[eid], by_key[eid]) for _, eid in inserted])
        total += len(rows)
    return total


def setup_reference(engine, boxes: int) -> None:
    now = datetime.now(UTC)
    rng = random.Random(7)
    with Session(engine) as session, session.begin():
        for index in range(boxes):
            place = place_of(index)
            device = db.enrol_device(
                session,
                place.device_id,
                place.province,
                place.commune,
                at=now - timedelta(days=400),
            )
            device.online = rng.random() < 0.9
            device.last_status_at = now - timedelta(minutes=rng.randint(0, 3000))
        codes = {f"1.{i:06d}": FIELDS[i % len(FIELDS)] for i in range(1, 121)}
        db.store_catalogue_version(
            session,
            {
                "schema_version": 1,
                "version": 12,
                "scope": "all",
                "issued_at": "2026-01-01T00:00:00Z",
                "procedures": [
                    {"code": c, "name": f"Thủ tục {c}", "field": f} for c, f in codes.items()
                ],
            },
        )


def query_suite(year: int) -> list[tuple[str, Callable[[Session], object]]]:
    last30 = stats.Filter(date(year, 12, 2), date(year, 12, 31))
    province = stats.Filter(date(year, 12, 2), date(year, 12, 31), province="07")
    commune = stats.Filter(date(year, 12, 2), date(year, 12, 31), commune=f"{40:05d}")
    whole = stats.Filter(date(year, 1, 1), date(year, 12, 31))
    return [
        ("per day, 30 days, all", lambda s: stats.questions_per_day(s, last30)),
        ("per day, 30 days, province", lambda s: stats.questions_per_day(s, province)),
        ("top procedures, 30 days", lambda s: stats.top_procedures(s, last30)),
        ("top procedures, 30 days, commune", lambda s: stats.top_procedures(s, commune)),
        ("per field, 30 days", lambda s: stats.per_field(s, last30)),
        ("not understood share, 30 days", lambda s: stats.not_understood_share(s, last30)),
        ("satisfaction, 30 days", lambda s: stats.satisfaction(s, last30)),
        ("not understood groups, 30 days", lambda s: stats.not_understood_groups(s, last30)),
        ("presence (3,300 boxes)", lambda s: stats.presence(s)),
        ("monthly report, December", lambda s: stats.monthly_report(s, year, 12)),
        ("monthly report, province", lambda s: stats.monthly_report(s, year, 12, province="07")),
        ("per day, whole year, all", lambda s: stats.questions_per_day(s, whole)),
        ("top procedures, whole year", lambda s: stats.top_procedures(s, whole)),
        ("satisfaction, whole year", lambda s: stats.satisfaction(s, whole)),
    ]


def time_queries(engine, year: int) -> dict[str, float]:
    out = {}
    with Session(engine) as session:
        for name, query in query_suite(year):
            query(session)  # warm-up: the dashboard's pages are read again and again
            runs = []
            for _ in range(3):
                start = time.perf_counter()
                query(session)
                runs.append((time.perf_counter() - start) * 1000)
            out[name] = statistics.median(runs)
    return out


# The console's pages as an admin opens them (the goal is about pages, not only queries):
# rendering, the session check and every query a page makes are in the time.
BENCH_USER, BENCH_PASSWORD = "bench-admin", "mật khẩu đo thử"


def page_suite(year: int) -> list[tuple[str, str]]:
    return [
        ("page: dashboard (last 30 days, all)", "/"),
        ("page: dashboard, one province", "/?province=07"),
        ("page: dashboard, whole year", f"/?from={year}-01-01&to={year}-12-31"),
        ("page: boxes (3,300)", "/boxes"),
        ("page: boxes, one province", "/boxes?province=07"),
        ("page: not understood (30 days)", "/not-understood"),
        ("report: monthly XLSX, all communes", f"/reports/monthly.xlsx?year={year}&month=11"),
    ]


def time_pages(url: str, year: int) -> dict[str, float]:
    """Median of 3 loads of each page after a warm-up, through the real app (TestClient)."""
    import re

    from fastapi.testclient import TestClient

    from hoixa.server.web.app import create_app
    from hoixa.server.web.auth import add_user

    engine = db.make_engine(url)
    with db.session_scope(engine) as session:
        if session.scalar(select(db.User).where(db.User.username == BENCH_USER)) is None:
            add_user(session, BENCH_USER, BENCH_PASSWORD, "central")
    engine.dispose()
    client = TestClient(create_app(url, secret_key="bench-" * 8), follow_redirects=False)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": BENCH_USER, "password": BENCH_PASSWORD, "csrf": token})
    out = {}
    for name, path in page_suite(year):
        response = client.get(path)  # warm-up
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}")
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            client.get(path)
            runs.append((time.perf_counter() - start) * 1000)
        out[name] = statistics.median(runs)
    client.close()
    return out


def bench_queries(args, backends: dict[str, Backend]) -> None:
    year = 2026
    days = working_days(year)
    for backend, where in backends.items():
        url = where.make_url("queries")
        db.upgrade_database(url)
        engine = db.make_engine(url)
        setup_reference(engine, args.boxes)
        results = []
        generated = 0
        for half in (0, 1):
            start = time.perf_counter()
            generated += generate(engine, args.boxes, args.per_day / 2, seed=half, days=days)
            took = time.perf_counter() - start
            with engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")
            with Session(engine) as session:
                turns = session.scalar(select(func.count()).select_from(db.Turn))
            print(
                f"{backend}: {generated:,} events, {turns:,} turns in the database "
                f"(generated in {took:.0f} s)",
                flush=True,
            )
            results.append((generated, time_queries(engine, year) | time_pages(url, year)))
        (n1, half_times), (n2, full_times) = results
        print(f"  {'query':38s} {n1:>10,} ev {n2:>10,} ev  growth  goal {QUERY_GOAL_MS} ms")
        for name in full_times:
            mark = "ok" if full_times[name] <= QUERY_GOAL_MS else "SLOW"
            print(
                f"  {name:38s} {half_times[name]:10.1f} ms {full_times[name]:9.1f} ms "
                f"{full_times[name] / max(half_times[name], 0.01):6.2f}×  {mark}"
            )
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("ingest", "queries", "all"))
    parser.add_argument("--backend", default="sqlite,postgresql")
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument(
        "--batch-size", type=int, default=ingest.DEFAULT_BATCH_SIZE, help="the workers' batches"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per setting (median)")
    parser.add_argument(
        "--boxes",
        type=int,
        default=None,
        help="boxes (ingest: 200 simulated clients; queries: 3,300)",
    )
    parser.add_argument(
        "--per-day", type=float, default=1.0, help="conversations per box per working day (queries)"
    )
    args = parser.parse_args()
    wanted = args.backend.split(",")
    pg: PostgresServer | None = None
    tmp = tempfile.TemporaryDirectory()
    backends: dict[str, Backend] = {}
    if "sqlite" in wanted:
        backends["sqlite"] = Backend(lambda name: f"sqlite:///{tmp.name}/{name}.db")
    try:
        if "postgresql" in wanted:
            pg = PostgresServer.start(fast=False)
            backends["postgresql"] = Backend(
                pg.create_database, functools.partial(postgres_cpu, pg)
            )
        if args.part in ("ingest", "all"):
            args.boxes = args.boxes or 200
            bench_ingest(args, backends)
        if args.part in ("queries", "all"):
            args.boxes = 3300 if args.part == "all" or args.boxes is None else args.boxes
            bench_queries(args, backends)
    finally:
        if pg is not None:
            pg.stop()
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
