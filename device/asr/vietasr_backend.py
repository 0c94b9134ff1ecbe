"""viet-asr: free Vietnamese recognition that works straight after `pip install`.

Its "transcribe" preset carries its model inside the wheel (no download, about a second to
load) and decodes while audio streams in. It already writes lower-case words without
punctuation and says numbers as words ("năm hai"), and joins the utterances it finds
between pauses with newlines; `normalize` gives the one spelling the matcher expects.

Its result has no confidence (payload keys: text, partial, is_final). When a payload does
carry one it is used; otherwise a non-empty transcript gets ESTIMATED_CONFIDENCE, the share
of the 40 labelled word clips of shared/data/speech_vi it got right (docs/asr.md), and an
empty one gets 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hoixa.device.asr.base import SAMPLE_RATE, AsrError, FinishedSession, SampleAligner, Transcript
from hoixa.vietnamese import normalize

PRESET = "transcribe"
ESTIMATED_CONFIDENCE = 0.6
_CONFIDENCE_KEYS = ("confidence", "conf", "score")


def payload_confidence(payload: dict[str, Any], text: str) -> float:
    """The engine's own confidence when the payload has one, else the documented estimate."""
    if not text:
        return 0.0
    for key in _CONFIDENCE_KEYS:
        value = payload.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return min(1.0, max(0.0, float(value)))
    return ESTIMATED_CONFIDENCE


class VietAsrRecognizer:
    name = "viet-asr"
    sample_rate = SAMPLE_RATE

    def __init__(self, preset: str = PRESET) -> None:
        try:
            import vietasr
        except ImportError as exc:
            raise AsrError(
                "the Python package viet-asr (import name vietasr) is not installed: "
                "pip install viet-asr (or pip install 'hoixa[device]')"
            ) from exc
        try:
            self._pipeline = vietasr.Pipeline.preset(preset)
        except Exception as exc:  # vietasr.pipeline.PipelineError, or a missing native library
            raise AsrError(
                f"viet-asr could not build its {preset!r} pipeline ({exc}); "
                "reinstall it with pip install --force-reinstall viet-asr"
            ) from exc

    def start(self) -> VietAsrSession:
        return VietAsrSession(self._pipeline.stream(sample_rate=float(self.sample_rate)))


class VietAsrSession:
    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._aligner = SampleAligner()
        self._result: Transcript | None = None

    def feed(self, pcm: bytes) -> None:
        if self._result is not None:
            raise FinishedSession("feed() after finish(): start a new session")
        data = self._aligner.whole_samples(pcm)
        if data:
            self._stream.accept(np.frombuffer(data, dtype="<i2").astype(np.int16, copy=False))

    def partial(self) -> str:
        if self._result is not None:
            return self._result.text
        return normalize(self._stream.partial().text)

    def finish(self) -> Transcript:
        if self._result is None:
            final = self._stream.final()
            self._stream.close()
            raw = final.text
            text = normalize(raw)
            self._result = Transcript(text, raw, payload_confidence(final.payload, text))
        return self._result
