"""A throwaway real PostgreSQL for tests and benchmarks: Debian's server binaries, a data
folder in /tmp, a unix socket plus TCP on a free port of 127.0.0.1, trust authentication.

    server = PostgresServer.start()          # raises PostgresMissing if not installed
    url = server.create_database("t1")       # postgresql+psycopg://postgres@127.0.0.1:PORT/t1
    server.stop()

PostgreSQL refuses to run as root: as root, initdb and pg_ctl run as the `postgres` system
user (runuser), in a folder that user owns. `fast=True` (tests) turns fsync off; benchmarks
keep PostgreSQL's durable defaults so their numbers mean something.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

INSTALL_HINT = "apt-get install postgresql"


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries here."""


def find_bindir() -> Path | None:
    """The newest installed /usr/lib/postgresql/<major>/bin with initdb and pg_ctl."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PostgresServer:
    bindir: Path
    folder: Path
    port: int
    fast: bool = True
    _as_user: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, *, fast: bool = True) -> PostgresServer:
        bindir = find_bindir()
        if bindir is None:
            raise PostgresMissing(f"PostgreSQL is not installed ({INSTALL_HINT})")
        folder = Path(tempfile.mkdtemp(prefix="hoixa-pg-"))
        as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError as exc:
                shutil.rmtree(folder, ignore_errors=True)
                raise PostgresMissing(f"no 'postgres' system user ({INSTALL_HINT})") from exc
            os.chown(folder, owner.pw_uid, owner.pw_gid)
            as_user = ["runuser", "-u", "postgres", "--"]
        server = cls(bindir, folder, _free_port(), fast, as_user)
        try:
            server._init_and_start()
        except BaseException:
            server.stop()
            raise
        return server

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    def _run(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            [*self._as_user, *args], capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed:\n{result.stdout}\n{result.stderr}")

    def _init_and_start(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            *(["--no-sync"] if self.fast else []),
        )
        options = [
            f"-p {self.port}",
            f"-k {self.folder}",
            "-c listen_addresses=127.0.0.1",
            "-c max_connections=100",
            "-c shared_buffers=256MB",
        ]
        if self.fast:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.folder / "server.log"),
            "-o",
            " ".join(options),
            "-w",
            "-t",
            "30",
            "start",
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            try:
                self._run(
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                )
            except (RuntimeError, subprocess.TimeoutExpired):
                self._run(
                    str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "stop"
                )
        shutil.rmtree(self.folder, ignore_errors=True)


_server: PostgresServer | None = None


@pytest.fixture(scope="session")
def postgres(request) -> PostgresServer:
    """One PostgreSQL for the whole test run (however many test files use it), stopped at
    the end; skips, naming the package to install, where PostgreSQL is missing."""
    global _server
    if _server is None:
        try:
            _server = PostgresServer.start()
        except PostgresMissing as exc:
            pytest.skip(str(exc))
        request.config.add_cleanup(_stop_shared)
    return _server


def _stop_shared() -> None:
    global _server
    if _server is not None:
        _server.stop()
        _server = None


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """An empty database of each kind: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'server.db'}"
    server = request.getfixturevalue("postgres")
    return server.create_database(f"t_{uuid.uuid4().hex[:12]}")
