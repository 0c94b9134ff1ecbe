"""systemd's watchdog for the server's processes: READY=1 once every check passes, then
WATCHDOG=1 only while they keep passing, so systemd restarts a server whose ingestion writer
died or hung, or whose console stopped answering (units: systemd/hoixa-server.service,
systemd/hoixa-ingest.service, WatchdogSec=). Outside systemd it does nothing.
"""

from __future__ import annotations

import logging
import threading
import urllib.request
from collections.abc import Callable, Sequence

from hoixa.device.watchdog import Watchdog

log = logging.getLogger(__name__)
CHECK_INTERVAL_S = 10.0  # a third of the units' WatchdogSec=30


def console_answers(url: str, timeout: float = 5.0) -> Callable[[], bool]:
    """A check that the web console serves a page (its login page needs no session)."""

    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.status == 200
        except OSError:
            return False

    return check


def start_liveness(
    checks: Sequence[Callable[[], bool]],
    watchdog: Watchdog | None = None,
    interval_s: float = CHECK_INTERVAL_S,
) -> threading.Event | None:
    """Run the checks in a daemon thread; returns an Event that stops it (None: no systemd)."""
    watchdog = watchdog or Watchdog()
    if not watchdog.enabled:
        return None
    stop = threading.Event()

    def loop() -> None:
        ready = False
        while not stop.is_set():
            failing = [i for i, check in enumerate(checks) if not check()]
            if not failing:
                if not ready:
                    watchdog.ready("serving")
                    ready = True
                watchdog.ping()
            else:
                log.warning("liveness check(s) %s failing: systemd is not pinged", failing)
            stop.wait(interval_s if ready else 0.5)

    threading.Thread(target=loop, name="liveness", daemon=True).start()
    return stop
