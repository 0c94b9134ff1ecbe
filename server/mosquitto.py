"""Run a real Mosquitto broker from a folder of its own: for tests, benchmarks and a development
server. (On a production server Mosquitto runs as its Debian service; provisioning writes its
password file, ACL and a configuration drop-in.)

    broker = Mosquitto(tmp_path)            # free port on 127.0.0.1, anonymous allowed
    broker.start(); …; broker.restart(); …; broker.stop()
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT_S = 10.0


class BrokerError(RuntimeError):
    """Mosquitto is missing or would not start; the message includes its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class TlsFiles:
    cafile: Path
    certfile: Path
    keyfile: Path
    require_certificate: bool = False  # True: boxes must present a client certificate


@dataclass
class Mosquitto:
    folder: Path
    port: int = 0
    host: str = "127.0.0.1"
    password_file: Path | None = None  # None: anonymous clients allowed
    acl_file: Path | None = None
    tls: TlsFiles | None = None
    persistence: bool = True  # keep retained messages and queued QoS 1 messages over restarts
    extra: list[str] = field(default_factory=list)  # more mosquitto.conf lines
    # A production drop-in folder (provisioning/mosquitto_conf.py): it sets the listeners and
    # the accounts; `port` must then be the local listener's, which start() waits for.
    include_dir: Path | None = None
    _process: subprocess.Popen | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self.port = self.port or free_port()

    @property
    def log_path(self) -> Path:
        return self.folder / "mosquitto.log"

    @property
    def config_path(self) -> Path:
        return self.folder / "mosquitto.conf"

    def config_text(self) -> str:
        if self.include_dir is not None:
            return "\n".join([*self._process_lines(), f"include_dir {self.include_dir}"]) + "\n"
        lines = [f"listener {self.port} {self.host}"]
        if self.password_file:
            lines += ["allow_anonymous false", f"password_file {self.password_file}"]
        else:
            lines.append("allow_anonymous true")
        if self.acl_file:
            lines.append(f"acl_file {self.acl_file}")
        if self.tls:
            lines += [
                f"cafile {self.tls.cafile}",
                f"certfile {self.tls.certfile}",
                f"keyfile {self.tls.keyfile}",
                f"require_certificate {'true' if self.tls.require_certificate else 'false'}",
            ]
        lines += self._process_lines()
        lines += ["max_queued_messages 100000", *self.extra]
        return "\n".join(lines) + "\n"

    def _process_lines(self) -> list[str]:
        """Persistence, user and log: what Debian's main mosquitto.conf sets on a server."""
        if self.persistence:
            lines = [
                "persistence true",
                f"persistence_location {self.folder}/",
                "autosave_interval 1",
            ]
        else:
            lines = ["persistence false"]
        if os.geteuid() == 0:
            lines.append("user root")  # a test's files belong to root; do not switch user
        return [
            *lines,
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
        ]

    def start(self) -> Mosquitto:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise BrokerError("mosquitto is not installed (apt-get install mosquitto)")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config_text(), encoding="utf-8")
        self._process = subprocess.Popen(
            [binary, "-c", str(self.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrokerError(f"mosquitto exited at start:\n{self._log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on {self.port} in time:\n{self._log_tail()}")

    def stop(self, *, kill: bool = False) -> None:
        """Stop the broker: cleanly (SIGTERM: it saves its state) or like a power cut (SIGKILL)."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stderr:
            self._process.stderr.close()
        self._process = None

    def restart(self) -> Mosquitto:
        self.stop()
        return self.start()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def reload(self) -> None:
        """Re-read the password file and ACL (SIGHUP), as `systemctl reload mosquitto` does."""
        if self._process is not None:
            self._process.send_signal(signal.SIGHUP)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
