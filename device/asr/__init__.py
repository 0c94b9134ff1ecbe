"""Speech recognition on the box: one streaming interface, Vosk and viet-asr behind it."""

from hoixa.device.asr.base import (
    AsrError,
    RecognitionSession,
    Recognizer,
    Transcript,
    transcribe_pcm,
)
from hoixa.device.asr.select import load_recognizer

__all__ = [
    "AsrError",
    "RecognitionSession",
    "Recognizer",
    "Transcript",
    "load_recognizer",
    "transcribe_pcm",
]
