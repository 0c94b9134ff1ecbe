"""The answer cache: sentences already synthesised, kept on disk so answers start at once.

Piper needs seconds per sentence on a small CPU; the same menus and sections are asked for
again and again, so every sentence spoken is kept, and after a catalogue update all the
catalogue's sentences are rendered in the background (`start_prerender_thread`), at both
speeds. See docs/tts.md for the measured figures.

One file per sentence, named by the SHA-256 of (voice id, slow flag, sentence); it holds a
small header (magic, sample rate, length, CRC-32) and the 16-bit PCM, losslessly packed
(sample-to-sample differences, then zlib: 55–60 % of the raw size for espeak-ng, 75 % for
Piper, and a few milliseconds to unpack). A file is written to a temporary name, synced, then
renamed, and is only served when its length and CRC match, so a power cut never plays a
truncated sentence: a damaged entry is a miss and is deleted. Size is bounded by
TtsConfig.cache_max_mb; the least recently used entries go first (a read touches the file's
mtime, so the order survives restarts).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import struct
import threading
import time
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hoixa.contract.catalogue import Catalogue
from hoixa.device.answers import available_sections, render_menu, render_section
from hoixa.device.config import DeviceConfig
from hoixa.device.tts.base import Speech, Synthesizer, TtsError, split_sentences
from hoixa.spoken import to_spoken

log = logging.getLogger(__name__)

MAGIC = b"HXTS"
FORMAT_VERSION = 1
HEADER = struct.Struct("<4sHIII")  # magic, format version, sample rate, PCM bytes, CRC-32
SUFFIX = ".pcm"
TMP_SUFFIX = ".tmp"
PRERENDER_NICENESS = 10
ZLIB_LEVEL = 1  # level 9 packs only 2 % smaller and takes twice as long


def cache_key(voice_id: str, slow: bool, sentence: str) -> str:
    text = " ".join(sentence.split())
    return hashlib.sha256(f"{voice_id}\n{int(slow)}\n{text}".encode()).hexdigest()


def encode_entry(speech: Speech) -> bytes:
    """Header + zlib of the sample differences (speech changes slowly: they pack well)."""
    samples = np.frombuffer(speech.pcm, dtype="<i2")
    deltas = np.diff(samples, prepend=np.int16(0))  # int16 arithmetic wraps: exact inverse
    header = HEADER.pack(
        MAGIC, FORMAT_VERSION, speech.sample_rate, len(speech.pcm), zlib.crc32(speech.pcm)
    )
    return header + zlib.compress(deltas.astype("<i2").tobytes(), ZLIB_LEVEL)


def decode_entry(data: bytes) -> Speech | None:
    """The speech in a cache file, or None if the file is damaged in any way."""
    if len(data) < HEADER.size:
        return None
    magic, version, rate, length, crc = HEADER.unpack_from(data)
    if magic != MAGIC or version != FORMAT_VERSION or rate <= 0 or length % 2:
        return None
    try:
        deltas = zlib.decompress(data[HEADER.size :])
    except zlib.error:
        return None
    if len(deltas) != length:
        return None
    pcm = np.cumsum(np.frombuffer(deltas, dtype="<i2"), dtype="<i2").tobytes()
    if zlib.crc32(pcm) != crc:
        return None
    return Speech(pcm, rate)


@dataclass
class PrerenderJob:
    """A background prerender; cancel() makes it stop after the sentence in hand."""

    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    rendered: int = 0  # sentences synthesised and stored so far
    completed: bool = False  # went through every sentence (not cancelled, not failed)

    def cancel(self) -> None:
        self.stop_event.set()

    @property
    def cancelled(self) -> bool:
        return self.stop_event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the thread has ended."""
        if self.thread is not None:
            self.thread.join(timeout)
            return not self.thread.is_alive()
        return True


class AnswerCache:
    """Synthesised sentences on disk, bounded in size, least recently used evicted first."""

    def __init__(self, folder: str | Path, max_bytes: int):
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, int] = OrderedDict()  # name → bytes, oldest use first
        self._total = 0
        self._job: PrerenderJob | None = None
        self._scan()

    @classmethod
    def for_config(cls, config: DeviceConfig) -> AnswerCache:
        return cls(config.data_dir / "tts-cache", config.tts.cache_max_mb * 1024 * 1024)

    # -- bookkeeping ----------------------------------------------------------------------

    def _scan(self) -> None:
        """Index what an earlier run left, oldest use first; drop half-written files."""
        found = []
        for path in self.folder.iterdir():
            try:
                if path.name.endswith(TMP_SUFFIX):
                    path.unlink()
                elif path.suffix == SUFFIX:
                    stat = path.stat()
                    found.append((stat.st_mtime_ns, path.stem, stat.st_size))
            except OSError as exc:
                log.warning("answer cache: cannot check %s: %s", path, exc)
        with self._lock:
            for _, name, size in sorted(found):
                self._entries[name] = size
                self._total += size
            self._evict()  # the limit may have been lowered since

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}{SUFFIX}"

    def _evict(self) -> None:
        """Called with the lock held."""
        while self._total > self.max_bytes and self._entries:
            name, size = self._entries.popitem(last=False)
            self._total -= size
            try:
                self._path(name).unlink(missing_ok=True)
            except OSError as exc:
                log.warning("answer cache: cannot evict %s: %s", name, exc)

    def _forget(self, name: str, *, delete: bool) -> None:
        with self._lock:
            self._total -= self._entries.pop(name, 0)
        if delete:
            try:
                self._path(name).unlink(missing_ok=True)
            except OSError as exc:
                log.warning("answer cache: cannot delete %s: %s", name, exc)

    def _touch(self, name: str, size: int) -> None:
        """Mark an entry as just used, in memory and on disk (its mtime)."""
        now = time.time_ns()  # explicit: the kernel's own file times are coarse (jiffies)
        with contextlib.suppress(OSError):  # a read-only file is still a good answer now
            os.utime(self._path(name), ns=(now, now))
        with self._lock:
            self._total += size - self._entries.pop(name, 0)
            self._entries[name] = size

    @property
    def total_bytes(self) -> int:
        return self._total

    def __len__(self) -> int:
        return len(self._entries)

    # -- use ------------------------------------------------------------------------------

    def get(self, synth: Synthesizer, sentence: str, slow: bool) -> Speech | None:
        """The cached audio of this sentence in this voice and speed, or None."""
        name = cache_key(synth.voice_id, slow, sentence)
        try:
            data = self._path(name).read_bytes()
        except FileNotFoundError:
            self._forget(name, delete=False)
            return None
        except OSError as exc:
            log.warning("answer cache: cannot read %s: %s", name, exc)
            return None
        speech = decode_entry(data)
        if speech is None:
            log.warning("answer cache: damaged entry %s deleted", name)
            self._forget(name, delete=True)
            return None
        self._touch(name, len(data))
        return speech

    def put(self, synth: Synthesizer, sentence: str, slow: bool, speech: Speech) -> bool:
        """Keep this audio; False if it was not kept (empty, too big, or the disk failed)."""
        return self._store(synth, sentence, slow, speech) > 0

    def _store(self, synth: Synthesizer, sentence: str, slow: bool, speech: Speech) -> int:
        """put(); returns the bytes the entry takes on disk, 0 if not kept."""
        if not speech.pcm:
            return 0
        data = encode_entry(speech)
        if len(data) > self.max_bytes:
            return 0
        name = cache_key(synth.voice_id, slow, sentence)
        tmp = self.folder / f".{name}.{uuid.uuid4().hex}{TMP_SUFFIX}"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self._path(name))
        except OSError as exc:
            log.warning("answer cache: cannot store a sentence: %s", exc)
            tmp.unlink(missing_ok=True)
            return 0
        self._touch(name, len(data))
        with self._lock:
            self._evict()
        return len(data)

    def _have(self, synth: Synthesizer, sentence: str, slow: bool) -> int | None:
        """Size of the entry if present (and mark it used, so eviction spares it)."""
        name = cache_key(synth.voice_id, slow, sentence)
        with self._lock:
            size = self._entries.get(name)
        if size is None or not self._path(name).exists():
            return None
        self._touch(name, size)
        return size

    # -- prerendering ---------------------------------------------------------------------

    def prerender(
        self,
        synth: Synthesizer,
        texts: Iterable[str],
        *,
        slow_too: bool = True,
        stop_event: threading.Event | None = None,
        job: PrerenderJob | None = None,
    ) -> int:
        """Render every sentence of `texts` not cached yet; returns how many were rendered.

        All sentences at normal speed first, then slow ones. Stops early when stop_event is
        set, when the synthesiser fails, or when the catalogue would not fit in the cache
        (rendering more would only evict what was just made).
        """
        sentences = list(dict.fromkeys(s for text in texts for s in split_sentences(text)))
        speeds = (False, True) if slow_too else (False,)
        rendered = needed = 0
        for slow in speeds:
            for sentence in sentences:
                if stop_event is not None and stop_event.is_set():
                    return rendered
                size = self._have(synth, sentence, slow)
                if size is None:
                    try:
                        speech = synth.synthesize(sentence, slow=slow)
                    except TtsError as exc:
                        log.warning("prerender stopped: %s", exc)
                        return rendered
                    size = self._store(synth, sentence, slow, speech)
                    if not size:
                        continue
                    rendered += 1
                    if job is not None:
                        job.rendered = rendered
                needed += size
                if needed > self.max_bytes:
                    log.warning(
                        "prerender stopped: the catalogue needs more than tts.cache_max_mb "
                        "(%d MB); raise it to keep every answer ready",
                        self.max_bytes // (1024 * 1024),
                    )
                    return rendered
        if job is not None:
            job.completed = True
        return rendered

    def start_prerender_thread(
        self, synth: Synthesizer, texts: Iterable[str], *, slow_too: bool = True
    ) -> PrerenderJob:
        """prerender() in a background daemon thread; cancels the one running before.

        The new thread first waits for the old one to finish its sentence, so the two never
        synthesise at the same time, then lowers its own priority (Linux nice values are per
        thread, and espeak-ng processes it starts inherit it) and works one sentence at a time.
        """
        texts = list(texts)
        job = PrerenderJob()
        with self._lock:
            previous, self._job = self._job, job
        if previous is not None:
            previous.cancel()

        def run() -> None:
            if previous is not None:
                previous.wait()
            _lower_thread_priority()
            try:
                self.prerender(synth, texts, slow_too=slow_too, stop_event=job.stop_event, job=job)
            except Exception:  # a background helper must never take the box down
                log.exception("prerender failed")

        job.thread = threading.Thread(target=run, name="tts-prerender", daemon=True)
        job.thread.start()
        return job


def _lower_thread_priority() -> None:
    # Not Linux, or not allowed: the thread still works one sentence at a time.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PRERENDER_NICENESS)


def fixed_texts(catalogue: Catalogue, config: DeviceConfig) -> list[str]:
    """Everything the box says about the catalogue's procedures, as the dialogue says it.

    Every procedure's menu, then every section of every procedure, each through to_spoken
    like Dialogue does, so their sentences are the cache keys the dialogue will look up.
    Menus come first: they are heard first and most often.
    """
    procedures = catalogue["procedures"]
    menus = [to_spoken(render_menu(proc)) for proc in procedures]
    sections = [
        to_spoken(render_section(proc, section, config))
        for proc in procedures
        for section in available_sections(proc)
    ]
    return menus + sections
