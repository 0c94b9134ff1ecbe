"""Play speech and beeps, sentence by sentence, and stop at once when the button is pressed.

An answer is synthesised sentence by sentence; `play` takes an iterator of (pcm, rate) pieces
and pulls it on a helper thread, so the first sentence is heard while the next is still being
synthesised. Audio is written in small pieces and `stop()` (barge-in: the villager pressed the
button to ask again) is checked between them, so the box falls silent within a few tens of
milliseconds.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import soxr

from hoixa.device.config import AudioConfig

from .devices import (
    AudioDevice,
    AudioError,
    error_from_portaudio,
    find_output_device,
    open_portaudio,
    supports_rate,
)

CHUNK_SECONDS = 0.02
PREFERRED_RATE = 22050  # what Piper medium voices and espeak-ng produce: no resampling then
_AHEAD = 8  # pieces synthesised ahead of playback
_END = object()

Pcm = bytes | np.ndarray


class Speaker:
    """An output stream at one hardware rate; any input rate is resampled to it.

    The stream opens on the first `play` and stays open between answers; `stop()` closes it,
    which drops what the sound card still holds.
    """

    def __init__(
        self,
        config: AudioConfig | None = None,
        *,
        pa: Any = None,
        chunk_seconds: float = CHUNK_SECONDS,
        device_rate: int | None = None,
        preferred_rate: int = PREFERRED_RATE,
    ) -> None:
        self.config = config or AudioConfig()
        self.volume = self.config.volume
        self.chunk_seconds = chunk_seconds
        self._pa = pa
        self._own_pa = pa is None
        self._forced_rate = device_rate
        self._preferred_rate = preferred_rate
        self._stream: Any = None
        self._stop = threading.Event()
        self._playing = threading.Event()
        self.device: AudioDevice | None = None
        self.rate = device_rate or preferred_rate

    def open(self) -> Speaker:
        """Find the device and decide its rate; the stream itself opens when needed."""
        if self.device is not None:
            return self
        if self._pa is None:
            self._pa = open_portaudio()
        try:
            self.device = find_output_device(self._pa, self.config.output_device)
        except AudioError:
            self._end_portaudio()
            raise
        if self._forced_rate:
            self.rate = self._forced_rate
        elif supports_rate(self._pa, self.device, self._preferred_rate, input=False):
            self.rate = self._preferred_rate
        else:
            self.rate = self.device.default_rate
        return self

    def close(self) -> None:
        self._close_stream()
        self.device = None  # the next `play` looks for it again
        self._end_portaudio()

    def __enter__(self) -> Speaker:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def playing(self) -> bool:
        return self._playing.is_set()

    def stop(self) -> None:
        """Ask a running `play` to fall silent now (safe from any thread)."""
        self._stop.set()

    def play_pcm(self, pcm: Pcm, rate: int) -> bool:
        """Play one piece of int16 mono PCM; True if it played to the end."""
        return self.play([(pcm, rate)])

    def play(self, speech: Iterable[tuple[Pcm, int]]) -> bool:
        """Play (pcm, rate) pieces in order; True if all played, False if `stop()` cut it."""
        if self.device is None:
            self.open()
        self._stop = threading.Event()  # one per play: an old helper thread sees its own
        self._playing.set()
        pieces: queue.Queue[Any] = queue.Queue(maxsize=_AHEAD)
        threading.Thread(target=_pull, args=(iter(speech), pieces, self._stop), daemon=True).start()
        try:
            finished = self._play_pieces(pieces)
        finally:
            self._playing.clear()
        if finished:
            self._drain()
        else:
            self._close_stream()
        return finished

    def _play_pieces(self, pieces: queue.Queue[Any]) -> bool:
        stream = self._open_stream()
        resampler: soxr.ResampleStream | None = None
        resampler_rate = self.rate
        while True:
            item = self._next_piece(pieces)
            if item is None:
                return False
            if item is _END:
                if resampler is not None:
                    return self._write(stream, resampler.resample_chunk(_EMPTY, last=True))
                return True
            if isinstance(item, BaseException):
                raise item
            samples, rate = _as_int16(item[0]), int(item[1])
            if rate != resampler_rate:
                if resampler is not None and not self._write(
                    stream, resampler.resample_chunk(_EMPTY, last=True)
                ):
                    return False
                resampler_rate = rate
                resampler = (
                    None
                    if rate == self.rate
                    else soxr.ResampleStream(rate, self.rate, 1, dtype="int16")
                )
            if resampler is not None:
                samples = resampler.resample_chunk(samples)
            if not self._write(stream, samples):
                return False

    def _next_piece(self, pieces: queue.Queue[Any]) -> Any:
        """Wait for the synthesiser, but give up at once when stopped (returns None)."""
        while not self._stop.is_set():
            try:
                return pieces.get(timeout=0.01)
            except queue.Empty:
                continue
        return None

    def _write(self, stream: Any, samples: np.ndarray) -> bool:
        if self.volume != 1.0:
            samples = np.clip(np.rint(samples * self.volume), -32768, 32767).astype(np.int16)
        step = max(1, round(self.rate * self.chunk_seconds))
        for start in range(0, len(samples), step):
            if self._stop.is_set():
                return False
            try:
                stream.write(samples[start : start + step].tobytes())
            except OSError as exc:
                self._close_stream()
                raise error_from_portaudio(exc, input=False, opening=False) from exc
        return not self._stop.is_set()

    def _open_stream(self) -> Any:
        import pyaudio

        if self._stream is None:
            assert self.device is not None
            try:
                self._stream = self._pa.open(
                    format=pyaudio.paInt16,
                    channels=1,
                    rate=self.rate,
                    output=True,
                    output_device_index=self.device.index,
                    frames_per_buffer=round(self.rate * self.chunk_seconds),
                )
            except OSError as exc:
                raise error_from_portaudio(exc, input=False, opening=True) from exc
        elif self._stream.is_stopped():
            self._stream.start_stream()
        return self._stream

    def _drain(self) -> None:
        """Wait until the sound card has played everything written (Pa_StopStream drains)."""
        if self._stream is None:
            return
        try:
            self._stream.stop_stream()
        except OSError as exc:
            self._close_stream()
            raise error_from_portaudio(exc, input=False, opening=False) from exc

    def _close_stream(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(OSError):  # gone already if unplugged
                self._stream.close()  # Pa_CloseStream discards what is still buffered
            self._stream = None

    def _end_portaudio(self) -> None:
        if self._own_pa and self._pa is not None:
            self._pa.terminate()
            self._pa = None


_EMPTY = np.zeros(0, dtype=np.int16)


def _as_int16(pcm: Pcm) -> np.ndarray:
    if isinstance(pcm, np.ndarray):
        if pcm.dtype != np.int16:
            raise TypeError(f"PCM must be int16, not {pcm.dtype}")
        return pcm.reshape(-1)
    return np.frombuffer(pcm, dtype=np.int16)


def _pull(speech: Iterator[Any], pieces: queue.Queue[Any], stop: threading.Event) -> None:
    """Synthesise ahead on a helper thread; errors travel to the player through the queue."""
    try:
        for item in speech:
            if not _offer(pieces, item, stop):
                close = getattr(speech, "close", None)
                if close is not None:
                    close()
                return
        _offer(pieces, _END, stop)
    except Exception as exc:
        _offer(pieces, exc, stop)


def _offer(pieces: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    """Put `item` when there is room; False if playback was stopped meanwhile."""
    while not stop.is_set():
        try:
            pieces.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False
