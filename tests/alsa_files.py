"""File-backed ALSA sound devices, so tests run real pyaudio without a sound card.

`write_alsa_files(folder)` writes an asound.conf whose capture device reads raw S16_LE mono
samples from `folder/in.raw` and whose playback device writes what it is given to
`folder/out.raw`, and returns the environment to set (ALSA_CONFIG_PATH).

What works (checked with PyAudio 0.2.14, PortAudio 19.6, Debian libasound2):
- ALSA reads ALSA_CONFIG_PATH whenever it (re)loads its configuration: at Pa_Initialize and
  again at every stream open. So the variable must stay set while streams are opened, and
  changing it within a process between two pyaudio.PyAudio() instances does take effect.
- PortAudio lists devices only at the FIRST initialisation; while any PyAudio instance is
  alive in the process, a new one sees the old list. Hence `open_pyaudio` checks that the
  file devices are really there and says why when they are not. A fresh process
  (subprocess) always works; in one pytest process it works as long as every PyAudio is
  terminated (the audio classes terminate the ones they start).
- The capture file is opened when a stream opens: each new input stream reads from the
  start of in.raw. Reading beyond its end does NOT give silence but stale buffer contents,
  so tests pad in.raw with more silence than they will read.
- Neither device is paced in real time (the slave is ALSA's null device): reading or writing
  seconds of audio takes milliseconds. Latencies measured here are software overheads only.
- ALSA and PortAudio's JACK probe print noise on stderr; it is harmless.

If ../shared/testing/asound.conf is absent, the same few lines embedded below are used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SHARED_CONF = Path(__file__).resolve().parents[1].parent / "shared/testing/asound.conf"
SHARED_IN = "/tmp/hoixa_alsa_in.raw"
SHARED_OUT = "/tmp/hoixa_alsa_out.raw"

EMBEDDED_CONF = f"""\
pcm.!default {{
  type asym
  playback.pcm "outfile"
  capture.pcm "infile"
}}
pcm.outfile {{
  type file
  slave.pcm "null"
  file "{SHARED_OUT}"
  format "raw"
}}
pcm.infile {{
  type file
  slave.pcm "null"
  file "/dev/null"
  infile "{SHARED_IN}"
  format "raw"
}}
"""


@dataclass(frozen=True)
class AlsaFiles:
    """The configuration written for one test folder, and its two sample files."""

    conf: Path
    infile: Path
    outfile: Path

    @property
    def env(self) -> dict[str, str]:
        return {"ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{self.conf}"}

    def set_input(self, pcm: bytes, pad_seconds: float = 2.0, rate: int = 16000) -> None:
        """What the microphone will hear, followed by silence (see the module docstring)."""
        self.infile.write_bytes(pcm + bytes(2 * round(pad_seconds * rate)))

    def clear_output(self) -> None:
        self.outfile.write_bytes(b"")

    def output(self) -> np.ndarray:
        """Everything played since the last clear_output, as int16 samples."""
        if not self.outfile.exists():
            return np.zeros(0, dtype=np.int16)
        return np.frombuffer(self.outfile.read_bytes(), dtype=np.int16)


def write_alsa_files(folder: Path) -> AlsaFiles:
    """Copy the shared asound.conf into `folder` with absolute paths to files in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    template = SHARED_CONF.read_text() if SHARED_CONF.is_file() else EMBEDDED_CONF
    files = AlsaFiles(folder / "asound.conf", folder / "in.raw", folder / "out.raw")
    if SHARED_IN not in template or SHARED_OUT not in template:
        raise RuntimeError(f"{SHARED_CONF} no longer names {SHARED_IN} and {SHARED_OUT}")
    text = template.replace(SHARED_IN, str(files.infile)).replace(SHARED_OUT, str(files.outfile))
    files.conf.write_text(text)
    files.infile.write_bytes(bytes(32000))
    files.outfile.write_bytes(b"")
    return files


def open_pyaudio(files: AlsaFiles) -> Any:
    """A pyaudio.PyAudio that sees the file devices; the caller must have set `files.env`.

    Raises RuntimeError naming the cause when the devices are missing.
    """
    import pyaudio

    for name, value in files.env.items():
        if os.environ.get(name) != value:
            raise RuntimeError(f"set {name}={value} before opening pyaudio")
    pa = pyaudio.PyAudio()
    names = [pa.get_device_info_by_index(i)["name"] for i in range(pa.get_device_count())]
    if "infile" not in names or "outfile" not in names:
        pa.terminate()
        raise RuntimeError(
            f"PortAudio lists {names}, not the file devices: another pyaudio.PyAudio is "
            "still alive in this process (PortAudio lists devices only once), or "
            "ALSA could not read the configuration"
        )
    return pa
