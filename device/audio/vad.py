"""Tell speech from silence in 30 ms frames, and tell when a spoken question has ended.

webrtcvad does the judging. Two guards around it, both measured on the Vietnamese test
recordings and on generated noise (see docs/audio-and-lights.md):
- a fresh webrtcvad calls the first 3–4 frames of any steady noise "speech" while it learns
  the noise level, so the first frames of every detector are ignored (WARMUP_FRAMES);
- frames quieter than ENERGY_FLOOR_DBFS are silence whatever webrtcvad says: that is the
  self-noise of a microphone in a quiet room, and webrtcvad otherwise reacts to it.
Mode 3 (the most reluctant to call noise speech) suits a busy commune office: in mode 2 a
quiet, noisy clip of the word "đúng" was 77 % "speech", in mode 3 only the word itself.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import webrtcvad

from hoixa.device.config import AudioConfig

RATE = 16000
FRAME_SECONDS = 0.03
FRAME_SAMPLES = round(RATE * FRAME_SECONDS)
FRAME_BYTES = 2 * FRAME_SAMPLES
MODE = 3
WARMUP_FRAMES = 5
ENERGY_FLOOR_DBFS = -55.0  # read speech here sits at -20…-29 dBFS, room noise at -50…-79

# Speech has started when START_FRAMES of the last START_WINDOW frames were speech: a click
# or one stray frame is not a question, 90 ms of voice in 150 ms is.
START_FRAMES = 3
START_WINDOW = 5
# Tap-to-talk: nobody has spoken this long after the beep → give up.
NO_SPEECH_SECONDS = 6.0


def frame_dbfs(frame: bytes) -> float:
    """RMS level of a frame in dB below full scale (silence → -120)."""
    samples = np.frombuffer(frame, dtype=np.int16).astype(np.float64)
    if len(samples) == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(samples * samples)))
    return 20 * np.log10(rms / 32768) if rms > 0 else -120.0


def frames(pcm: bytes) -> Iterator[bytes]:
    """Whole 30 ms frames of 16 kHz int16 PCM (a short tail is left out)."""
    for start in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES):
        yield pcm[start : start + FRAME_BYTES]


class VoiceDetector:
    """webrtcvad with a warm-up and an energy floor; one per recording."""

    def __init__(self, mode: int = MODE, energy_floor_dbfs: float = ENERGY_FLOOR_DBFS) -> None:
        self._vad = webrtcvad.Vad(mode)
        self._floor = energy_floor_dbfs
        self._seen = 0

    def is_speech(self, frame: bytes) -> bool:
        if len(frame) != FRAME_BYTES:
            raise ValueError(f"a frame is {FRAME_BYTES} bytes of 16 kHz int16, not {len(frame)}")
        verdict = self._vad.is_speech(frame, RATE)  # always fed: it is learning the noise
        self._seen += 1
        return verdict and self._seen > WARMUP_FRAMES and frame_dbfs(frame) >= self._floor


def speech_flags(pcm: bytes, mode: int = MODE) -> list[bool]:
    """One speech/not-speech verdict per 30 ms frame of a recording."""
    detector = VoiceDetector(mode)
    return [detector.is_speech(f) for f in frames(pcm)]


WAITING = "waiting"
SPEAKING = "speaking"
ENDED = "ended"
# Why listening ended.
SILENCE_AFTER_SPEECH = "silence"
MAX_LENGTH = "max_length"
NO_SPEECH = "no_speech"


@dataclass
class EndOfSpeech:
    """Feed microphone audio; it says when speech began and when the question is over.

    Ends after `silence_end_seconds` of silence following speech (tap-to-talk), when the
    recording reaches `max_question_seconds`, or after `no_speech_seconds` without any speech.
    Audio may come in pieces of any length; whole frames are judged.
    """

    silence_end_seconds: float = 1.2
    max_question_seconds: float = 15.0
    no_speech_seconds: float = NO_SPEECH_SECONDS
    mode: int = MODE
    state: str = field(default=WAITING, init=False)
    reason: str = field(default="", init=False)
    speech_started_at: float | None = field(default=None, init=False)
    speech_ended_at: float | None = field(default=None, init=False)
    frames_seen: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._detector = VoiceDetector(self.mode)
        self._recent: deque[bool] = deque(maxlen=START_WINDOW)
        self._silent_frames = 0
        self._buffer = b""

    @classmethod
    def from_config(cls, config: AudioConfig, **kwargs: float) -> EndOfSpeech:
        return cls(
            silence_end_seconds=config.silence_end_seconds,
            max_question_seconds=config.max_question_seconds,
            **kwargs,
        )

    @property
    def seconds(self) -> float:
        """Audio judged so far."""
        return self.frames_seen * FRAME_SECONDS

    @property
    def ended(self) -> bool:
        return self.state == ENDED

    def feed(self, pcm: bytes) -> bool:
        """Judge more audio; True once the question is over (and from then on)."""
        self._buffer += pcm
        while not self.ended and len(self._buffer) >= FRAME_BYTES:
            frame, self._buffer = self._buffer[:FRAME_BYTES], self._buffer[FRAME_BYTES:]
            self._judge(self._detector.is_speech(frame))
        return self.ended

    def _judge(self, speech: bool) -> None:
        self.frames_seen += 1
        self._recent.append(speech)
        if self.state == WAITING and sum(self._recent) >= START_FRAMES:
            self.state = SPEAKING
            first = len(self._recent) - list(self._recent).index(True)
            self.speech_started_at = (self.frames_seen - first) * FRAME_SECONDS
        if self.state == SPEAKING:
            self._silent_frames = 0 if speech else self._silent_frames + 1
            if self._silent_frames * FRAME_SECONDS >= self.silence_end_seconds:
                self.speech_ended_at = (self.frames_seen - self._silent_frames) * FRAME_SECONDS
                self._end(SILENCE_AFTER_SPEECH)
                return
        if self.state == WAITING and self.seconds >= self.no_speech_seconds:
            self._end(NO_SPEECH)
        elif self.seconds >= self.max_question_seconds - 1e-9:
            self._end(MAX_LENGTH)

    def _end(self, reason: str) -> None:
        self.state = ENDED
        self.reason = reason
