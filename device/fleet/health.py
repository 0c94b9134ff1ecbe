"""The box's presence and health (`hoixa.status/1`): what an admin sees without visiting.

The voice loop owns a `HealthState` and updates it (microphone and speaker checks, recogniser
and voice names, catalogue version, last error); the link reads it whenever it publishes a
status: on connect, at every heartbeat and on a clean stop.
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from hoixa.contract import messages

CPU_TEMP_PATH = Path("/sys/class/thermal/thermal_zone0/temp")


def software_version() -> str:
    try:
        return metadata.version("hoixa")
    except metadata.PackageNotFoundError:
        return "unknown"


def cpu_temperature(path: Path = CPU_TEMP_PATH) -> float | None:
    """Degrees Celsius from the kernel's thermal zone (millidegrees), or None off a Pi."""
    try:
        return round(int(path.read_text().strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None


def disk_free_mb(folder: Path) -> float | None:
    try:
        return round(shutil.disk_usage(folder).free / (1 << 20), 1)
    except OSError:
        return None


@dataclass
class HealthState:
    """What the voice loop knows about itself; safe to update from any thread."""

    microphone_ok: bool | None = None
    speaker_ok: bool | None = None
    asr: str = ""
    tts: str = ""
    catalogue_version: int = 0
    last_error: str | None = None
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def note_error(self, text: str) -> None:
        with self._lock:
            self.last_error = text[:500]

    def set_devices(self, *, microphone_ok: bool | None, speaker_ok: bool | None) -> None:
        with self._lock:
            self.microphone_ok, self.speaker_ok = microphone_ok, speaker_ok

    def uptime_s(self) -> float:
        return round(time.monotonic() - self.started, 1)


def status_payload(
    device_id: str,
    *,
    online: bool,
    reason: str,
    health: HealthState | None = None,
    data_dir: Path | None = None,
    queue_depth: int | None = None,
    dropped_events: int | None = None,
    cpu_temp_path: Path = CPU_TEMP_PATH,
) -> dict[str, Any]:
    """A valid `hoixa.status/1` payload; without `health` only presence (the Last Will)."""
    doc: dict[str, Any] = {
        "schema": "hoixa.status/1",
        "device_id": device_id,
        "online": online,
        "reason": reason,
        "at": messages.utc_now(),
    }
    if health is not None:
        doc.update(
            software_version=software_version(),
            catalogue_version=health.catalogue_version,
            uptime_s=health.uptime_s(),
            cpu_temp_c=cpu_temperature(cpu_temp_path),
            microphone_ok=health.microphone_ok,
            speaker_ok=health.speaker_ok,
            last_error=health.last_error,
        )
        if health.asr:
            doc["asr"] = health.asr
        if health.tts:
            doc["tts"] = health.tts
    if data_dir is not None and (free := disk_free_mb(data_dir)) is not None:
        doc["disk_free_mb"] = free
    if queue_depth is not None:
        doc["queue_depth"] = queue_depth
    if dropped_events is not None:
        doc["dropped_events"] = dropped_events
    return messages.validate(doc, "hoixa.status/1")
