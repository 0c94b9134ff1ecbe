"""Tell systemd the box is alive (sd_notify), so a hung loop is restarted.

The unit (systemd/hoixa-device.service) says Type=notify and WatchdogSec=: the box sends
READY=1 once it can answer, then WATCHDOG=1 regularly from the places that only run while
the loop makes progress. If they stop for longer than WatchdogSec, systemd kills and
restarts the box. Outside systemd (no NOTIFY_SOCKET) every call does nothing.

The protocol is one datagram on a Unix socket (man sd_notify), so it is written out here.
"""

from __future__ import annotations

import os
import socket
import time

MIN_INTERVAL_SECONDS = 1.0  # pings closer together than this are not sent


class Watchdog:
    def __init__(self, address: str | None = None):
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]  # abstract namespace
        self.address = address
        self._last = 0.0

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def _send(self, message: str) -> None:
        if not self.address:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message.encode(), self.address)

    def ready(self, status: str = "") -> None:
        self._send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def ping(self) -> None:
        now = time.monotonic()
        if now - self._last >= MIN_INTERVAL_SECONDS:
            self._last = now
            self._send("WATCHDOG=1")

    def stopping(self) -> None:
        self._send("STOPPING=1")
