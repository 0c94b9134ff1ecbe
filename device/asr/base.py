"""What every recogniser on the box offers: a streaming session fed while the person speaks.

Recognition runs during the question, so when the button is released only the last few
hundred milliseconds are left to decode. Both engines sit behind the same three calls:
`feed` raw PCM as it arrives, look at `partial` for feedback, `finish` for the transcript.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SAMPLE_RATE = 16000
BYTES_PER_SAMPLE = 2


class AsrError(RuntimeError):
    """A recogniser cannot be used; the message names the path or package and the fix."""


@dataclass(frozen=True)
class Transcript:
    text: str  # lower-case Vietnamese as recognised (after snapping to a known phrase)
    raw_text: str  # what the engine produced before snapping
    confidence: float  # 0..1; 0 when nothing was heard


class RecognitionSession(Protocol):
    def feed(self, pcm: bytes) -> None:
        """Take 16-bit little-endian mono PCM at 16 kHz, in chunks of any size."""

    def partial(self) -> str:
        """The best guess so far (for feedback while the person speaks)."""

    def finish(self) -> Transcript:
        """The final result; the session takes no more audio afterwards."""


class Recognizer(Protocol):
    name: str  # "vosk" | "viet-asr"
    sample_rate: int  # 16000

    def start(self) -> RecognitionSession: ...


class SampleAligner:
    """Hands on whole 16-bit samples only: a chunk may end in the middle of one."""

    def __init__(self) -> None:
        self._carry = b""

    def whole_samples(self, pcm: bytes) -> bytes:
        data = self._carry + bytes(pcm)
        cut = len(data) - len(data) % BYTES_PER_SAMPLE
        self._carry = data[cut:]
        return data[:cut]


class FinishedSession(RuntimeError):
    """Audio was fed to a session after `finish`."""


def transcribe_pcm(recognizer: Recognizer, pcm: bytes, chunk_ms: int = 100) -> Transcript:
    """Recognise a whole buffer the way the box does live: in chunks of `chunk_ms`."""
    session = recognizer.start()
    step = max(1, recognizer.sample_rate * chunk_ms // 1000) * BYTES_PER_SAMPLE
    for start in range(0, len(pcm), step):
        session.feed(pcm[start : start + step])
    return session.finish()
