"""Find the microphone and speaker PortAudio should use, and say plainly when one is missing.

The configuration names a device by a piece of its name ("USB", "seeed") or by its PortAudio
index; "" means the system default. Boxes are assembled from whatever USB microphone and
speaker the province could buy, so a wrong or unplugged device must give an `AudioError` with
a `kind` the voice loop can turn into a spoken message and a light, not a PortAudio traceback.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# What went wrong, for the voice loop (lights, spoken message) and the self-test.
NO_MICROPHONE = "no_microphone"
NO_SPEAKER = "no_speaker"
DEVICE_BUSY = "device_busy"
MICROPHONE_LOST = "microphone_lost"
SPEAKER_LOST = "speaker_lost"
AUDIO_UNAVAILABLE = "audio_unavailable"

# PortAudio error codes (portaudio.h) that pyaudio passes on as OSError.errno.
_PA_INVALID_DEVICE = -9996
_PA_DEVICE_UNAVAILABLE = -9985


class AudioError(RuntimeError):
    """A microphone or speaker problem; `kind` is one of the constants above."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class AudioDevice:
    """One PortAudio device as the self-test lists it."""

    index: int
    name: str
    input_channels: int
    output_channels: int
    default_rate: int

    @property
    def can_record(self) -> bool:
        return self.input_channels > 0

    @property
    def can_play(self) -> bool:
        return self.output_channels > 0


def open_portaudio() -> Any:
    """Start PortAudio, moving the ALSA/JACK probing chatter from stderr to the debug log.

    PortAudio enumerates devices once, at the first initialisation in a process; while any
    instance is alive, later ones see the same list (see tests/alsa_files.py).
    """
    try:
        import pyaudio
    except ImportError as exc:  # pragma: no cover - the device extra is not installed
        raise AudioError(AUDIO_UNAVAILABLE, "pyaudio is not installed") from exc
    with _stderr_to_log():
        return pyaudio.PyAudio()


class _stderr_to_log:
    """Redirect file descriptor 2 to a temporary file for the duration, then log what came."""

    def __enter__(self) -> None:
        self._saved = os.dup(2)
        self._file = tempfile.TemporaryFile()
        os.dup2(self._file.fileno(), 2)

    def __exit__(self, *exc: object) -> None:
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._file.seek(0)
        chatter = self._file.read().decode("utf-8", "replace").strip()
        self._file.close()
        if chatter:
            log.debug("PortAudio start-up messages:\n%s", chatter)


def list_devices(pa: Any) -> list[AudioDevice]:
    """Every device PortAudio sees, with its default sample rate."""
    return [_device(pa.get_device_info_by_index(i)) for i in range(pa.get_device_count())]


def find_input_device(pa: Any, spec: str) -> AudioDevice:
    """The microphone named by `spec` (name substring, index, or "" for the default)."""
    return _find(pa, spec, want_input=True)


def find_output_device(pa: Any, spec: str) -> AudioDevice:
    """The speaker named by `spec` (name substring, index, or "" for the default)."""
    return _find(pa, spec, want_input=False)


def supports_rate(pa: Any, device: AudioDevice, rate: int, *, input: bool) -> bool:
    """Whether the device accepts 16-bit mono at `rate` (PortAudio asks the driver)."""
    import pyaudio

    kwargs: dict[str, Any] = (
        {"input_device": device.index, "input_channels": 1, "input_format": pyaudio.paInt16}
        if input
        else {"output_device": device.index, "output_channels": 1, "output_format": pyaudio.paInt16}
    )
    try:
        return bool(pa.is_format_supported(rate, **kwargs))
    except ValueError:
        return False


def error_from_portaudio(exc: OSError, *, input: bool, opening: bool) -> AudioError:
    """Translate a PortAudio OSError into an AudioError the voice loop understands."""
    code = exc.errno
    role = "microphone" if input else "speaker"
    if opening and code == _PA_DEVICE_UNAVAILABLE:
        return AudioError(DEVICE_BUSY, f"the {role} is in use by another program ({exc})")
    if opening and code == _PA_INVALID_DEVICE:
        kind = NO_MICROPHONE if input else NO_SPEAKER
        return AudioError(kind, f"the {role} is not available ({exc})")
    if opening:
        return AudioError(AUDIO_UNAVAILABLE, f"the {role} could not be opened ({exc})")
    kind = MICROPHONE_LOST if input else SPEAKER_LOST
    return AudioError(kind, f"the {role} stopped working, probably unplugged ({exc})")


def _device(info: dict[str, Any]) -> AudioDevice:
    return AudioDevice(
        index=int(info["index"]),
        name=str(info["name"]),
        input_channels=int(info["maxInputChannels"]),
        output_channels=int(info["maxOutputChannels"]),
        default_rate=int(info["defaultSampleRate"]),
    )


def _find(pa: Any, spec: str, *, want_input: bool) -> AudioDevice:
    role, kind = ("microphone", NO_MICROPHONE) if want_input else ("speaker", NO_SPEAKER)
    usable = [d for d in list_devices(pa) if (d.can_record if want_input else d.can_play)]
    spec = spec.strip()
    if not spec:
        try:
            info = (
                pa.get_default_input_device_info()
                if want_input
                else pa.get_default_output_device_info()
            )
        except OSError:
            info = None
        if info is None:
            raise AudioError(kind, f"no default {role}; devices seen: {_names(usable)}")
        return _device(info)
    if spec.isdigit():
        chosen = [d for d in usable if d.index == int(spec)]
    else:
        exact = [d for d in usable if d.name.lower() == spec.lower()]
        chosen = exact or [d for d in usable if spec.lower() in d.name.lower()]
    if not chosen:
        raise AudioError(kind, f"no {role} matches {spec!r}; devices seen: {_names(usable)}")
    return chosen[0]


def _names(devices: list[AudioDevice]) -> str:
    return ", ".join(f"{d.index}: {d.name}" for d in devices) or "none"
