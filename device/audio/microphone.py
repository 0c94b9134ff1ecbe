"""Record the microphone as 16 kHz mono 16-bit chunks, whatever rate the hardware runs at.

The recognisers and the voice-activity detector want 16 kHz; cheap USB microphones often
only do 44.1 or 48 kHz. We ask for 16 kHz first and otherwise record at the device's own rate
and resample with soxr, so every chunk the rest of the box sees has the same shape.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import soxr

from hoixa.device.config import AudioConfig

from .devices import (
    MICROPHONE_LOST,
    AudioDevice,
    AudioError,
    error_from_portaudio,
    find_input_device,
    open_portaudio,
    supports_rate,
)

RATE = 16000
CHUNK_SECONDS = 0.03  # one webrtcvad frame


class Microphone:
    """An open input stream yielding fixed chunks of 16 kHz int16 bytes.

    `pa` is a shared pyaudio.PyAudio (the voice loop keeps one); without it the microphone
    starts its own and ends it on close. `device_rate` forces the hardware rate (for
    microphones that claim 16 kHz but do it badly, and for tests).
    """

    def __init__(
        self,
        config: AudioConfig | None = None,
        *,
        pa: Any = None,
        chunk_seconds: float = CHUNK_SECONDS,
        device_rate: int | None = None,
    ) -> None:
        self.config = config or AudioConfig()
        self.rate = RATE
        self.chunk_samples = round(RATE * chunk_seconds)
        self.muted = False
        self._pa = pa
        self._own_pa = pa is None
        self._forced_rate = device_rate
        self._stream: Any = None
        self._resampler: soxr.ResampleStream | None = None
        self._pending = np.zeros(0, dtype=np.int16)
        self.device: AudioDevice | None = None
        self.device_rate = RATE
        self._device_chunk = self.chunk_samples

    def open(self) -> Microphone:
        import pyaudio

        if self._stream is not None:
            return self
        if self._pa is None:
            self._pa = open_portaudio()
        try:
            self.device = find_input_device(self._pa, self.config.input_device)
            self.device_rate = self._forced_rate or (
                RATE
                if supports_rate(self._pa, self.device, RATE, input=True)
                else self.device.default_rate
            )
            self._device_chunk = round(self.device_rate * self.chunk_samples / RATE)
            try:
                self._stream = self._pa.open(
                    format=pyaudio.paInt16,
                    channels=1,
                    rate=self.device_rate,
                    input=True,
                    input_device_index=self.device.index,
                    frames_per_buffer=self._device_chunk,
                )
            except OSError as exc:
                raise error_from_portaudio(exc, input=True, opening=True) from exc
        except AudioError:
            self._end_portaudio()
            raise
        self._reset_resampler()
        return self

    def close(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(OSError):  # an unplugged device cannot close cleanly
                self._stream.close()
            self._stream = None
        self.device = None  # `open` looks for it again: it may have been re-plugged
        self._end_portaudio()

    def __enter__(self) -> Microphone:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self) -> bytes:
        """The next chunk: `chunk_samples` samples of 16 kHz int16; zeros while muted."""
        while len(self._pending) < self.chunk_samples:
            self._pending = np.concatenate([self._pending, self._read_device()])
        chunk, self._pending = (
            self._pending[: self.chunk_samples],
            self._pending[self.chunk_samples :],
        )
        if self.muted:
            return bytes(2 * self.chunk_samples)
        return chunk.tobytes()

    def __iter__(self) -> Iterator[bytes]:
        while True:
            yield self.read()

    def discard(self) -> None:
        """Forget what is buffered (the box's own voice, the beep) and start fresh."""
        if self._stream is None:
            return
        try:
            waiting = self._stream.get_read_available()
            if waiting > 0:
                self._stream.read(waiting, exception_on_overflow=False)
        except OSError as exc:
            raise error_from_portaudio(exc, input=True, opening=False) from exc
        self._pending = np.zeros(0, dtype=np.int16)
        self._reset_resampler()

    def _read_device(self) -> np.ndarray:
        if self._stream is None:
            raise AudioError(MICROPHONE_LOST, "the microphone is not open")
        try:
            raw = self._stream.read(self._device_chunk, exception_on_overflow=False)
        except OSError as exc:
            raise error_from_portaudio(exc, input=True, opening=False) from exc
        samples = np.frombuffer(raw, dtype=np.int16)
        if self._resampler is None:
            return samples
        return self._resampler.resample_chunk(samples)

    def _reset_resampler(self) -> None:
        self._resampler = (
            None
            if self.device_rate == RATE
            else soxr.ResampleStream(self.device_rate, RATE, 1, dtype="int16")
        )

    def _end_portaudio(self) -> None:
        if self._own_pa and self._pa is not None:
            self._pa.terminate()
            self._pa = None
