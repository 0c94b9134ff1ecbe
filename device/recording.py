"""WAV files in and out, as the 16 kHz mono PCM the recogniser wants.

`hoixa device ask` answers a recorded question, and tests and benchmarks feed recordings made
on other equipment (8 kHz telephone clips, 44.1 kHz stereo phone recordings): everything is
mixed down to mono and resampled here, once.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import soxr

RATE = 16000


class RecordingError(ValueError):
    """The file is not a WAV recording this box can use."""


def read_wav(path: str | Path, rate: int = RATE) -> bytes:
    """A WAV file as 16-bit mono PCM at `rate`."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width = wav.getnchannels(), wav.getsampwidth()
            source_rate = wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise RecordingError(f"{path}: not a readable WAV file ({exc})") from exc
    if width != 2:
        raise RecordingError(f"{path}: {8 * width}-bit samples; 16-bit PCM is needed")
    samples = np.frombuffer(frames, dtype="<i2")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return resample(samples.astype(np.int16), source_rate, rate)


def resample(samples: np.ndarray, source_rate: int, rate: int = RATE) -> bytes:
    """int16 samples from `source_rate` to `rate`, as little-endian bytes."""
    if source_rate != rate and len(samples):
        samples = soxr.resample(samples.astype(np.float32), source_rate, rate)
        samples = np.clip(np.round(samples), -32768, 32767)
    return samples.astype("<i2").tobytes()


def write_wav(path: str | Path, pcm: bytes, rate: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)


def chunks(pcm: bytes, rate: int = RATE, ms: int = 100) -> list[bytes]:
    """Cut PCM into pieces of `ms` milliseconds, as a microphone would deliver it."""
    size = rate * ms // 1000 * 2
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]
