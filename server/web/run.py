"""`hoixa server run` and `hoixa server add-user`: the console and the ingestion worker in one
process, for a province server or a laptop; a national server runs them separately.

Without --database, everything lives in one data folder: the SQLite database (hoixa.db) and
the console's session key (console-secret, made on first start, readable by its owner only).
"""

from __future__ import annotations

import getpass
import logging
import os
import secrets
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def database_url(database: str | None, data_dir: Path) -> str:
    if database:
        return database
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'hoixa.db'}"


def session_secret(data_dir: Path) -> str:
    """The key that signs session cookies: kept, so a restart does not log everyone out."""
    path = data_dir / "console-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def read_password(prompt: str = "Mật khẩu: ") -> str:
    """Twice at a terminal (typed unseen), else the first line of stdin (scripts)."""
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("Nhập lại: ") != first:
            raise ValueError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def add_user_command(
    database: str | None,
    data_dir: Path,
    username: str,
    role: str,
    province: str | None,
    commune: str | None,
) -> None:
    from sqlalchemy.exc import IntegrityError

    from hoixa.server import db
    from hoixa.server.web.auth import add_user

    url = database_url(database, data_dir)
    password = read_password()
    db.upgrade_database(url)
    engine = db.make_engine(url)
    try:
        with db.session_scope(engine) as session:
            add_user(session, username, password, role, province, commune)
    except IntegrityError as exc:
        raise ValueError(f"user {username!r} already exists") from exc
    finally:
        engine.dispose()


def parse_host_port(text: str, default_port: int) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host:
        return text, default_port
    return host, int(port)


def run(
    *,
    database: str | None,
    data_dir: Path,
    broker: str,
    listen: str,
    broker_username: str | None = None,
    broker_password_file: str | None = None,
    ca_file: str | None = None,
    signing_key: str | None = None,
    ingest: bool = True,
) -> None:
    """Start the ingestion worker (unless `ingest` is false: separate hoixa-ingest@ workers
    do it), then serve the console until Ctrl-C / SIGTERM."""
    import uvicorn

    from hoixa.server import db
    from hoixa.server.ingest import IngestWorker
    from hoixa.server.web.app import create_app
    from hoixa.server.web.catalogue_ops import broker_publisher

    url = database_url(database, data_dir)
    db.upgrade_database(url)
    broker_host, broker_port = parse_host_port(broker, 1883)
    listen_host, listen_port = parse_host_port(listen, 8080)
    password = os.environ.get("HOIXA_BROKER_PASSWORD")
    if broker_password_file:
        password = Path(broker_password_file).read_text(encoding="utf-8").strip()
    publisher = None
    if signing_key:
        publisher = broker_publisher(
            broker_host,
            broker_port,
            signing_key,
            username=broker_username,
            password=password,
            ca_file=ca_file,
        )
    worker = None
    if ingest:
        worker = IngestWorker(
            url,
            broker_host,
            broker_port,
            username=broker_username,
            password=password,
            group=None,  # one worker: plain subscriptions survive a broker restart
            ca_file=ca_file,
            upgrade=False,
        ).start()
    from hoixa.server.liveness import console_answers, start_liveness

    console_url = f"http://{'127.0.0.1' if listen_host in ('0.0.0.0', '') else listen_host}"
    checks = [console_answers(f"{console_url}:{listen_port}/login")]
    start_liveness(([worker.alive] if worker else []) + checks)
    try:
        app = create_app(url, secret_key=session_secret(data_dir), publisher=publisher)
        print(
            f"Hỏi Xã máy chủ: bảng điều khiển http://{listen_host}:{listen_port}/ , "
            f"MQTT {broker_host}:{broker_port}, cơ sở dữ liệu {url.split('@')[-1]}",
            flush=True,
        )
        uvicorn.run(app, host=listen_host, port=listen_port, log_level="warning")
    finally:
        if worker:
            worker.stop()
