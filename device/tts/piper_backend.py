"""Piper (piper-tts 1.x): a natural neural voice, loaded once, one sentence at a time.

A voice is an .onnx model with its .onnx.json beside it (sample rate, phonemes, default
scales). Speed is Piper's length_scale: TtsConfig.normal_rate normally, slow_rate after
"chậm lại". The voice is loaded when the box starts, so a missing or broken file is found
then, with the path and how to install it, not in the middle of an answer.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from hoixa.device.config import TtsConfig
from hoixa.device.tts.base import Speech, TtsError, end_with_pause, pause_for

INSTALL_HINT = (
    "install the Vietnamese voice with `hoixa models install piper-vi`, or copy a Piper voice "
    "(the .onnx file and its .onnx.json) there and set tts.piper_voice to the .onnx path"
)


def _voice_digest(model: Path, config: Path) -> str:
    """Short fingerprint of a voice, so a replaced voice file does not reuse cached audio."""
    digest = hashlib.sha256(config.read_bytes())
    digest.update(str(model.stat().st_size).encode())
    return digest.hexdigest()[:12]


class PiperSynthesizer:
    """One Piper voice at two speeds."""

    name = "piper"

    def __init__(
        self, voice_path: str | Path, *, normal_rate: float = 1.15, slow_rate: float = 1.5
    ):
        model = Path(voice_path).expanduser()
        config = Path(f"{model}.json")
        if not model.is_file():
            raise TtsError(f"Piper voice {model} not found; {INSTALL_HINT}")
        if not config.is_file():
            raise TtsError(f"Piper voice {model} has no {config.name} beside it; {INSTALL_HINT}")
        if normal_rate <= 0 or slow_rate <= 0:
            raise TtsError(f"speaking rates must be positive, not {normal_rate}/{slow_rate}")
        try:
            from piper import PiperVoice, SynthesisConfig
        except ImportError as exc:
            raise TtsError(f"piper-tts is not installed ({exc}); pip install piper-tts") from exc
        try:
            self._voice: Any = PiperVoice.load(model, config_path=config)
        except Exception as exc:  # onnxruntime and json raise many kinds; all mean "unusable"
            raise TtsError(f"Piper voice {model} cannot be loaded ({exc}); {INSTALL_HINT}") from exc
        self._configs = {
            False: SynthesisConfig(length_scale=normal_rate),
            True: SynthesisConfig(length_scale=slow_rate),
        }
        self.model_path = model
        self.sample_rate: int = self._voice.config.sample_rate
        self.voice_id = (
            f"piper:{model.name}:{_voice_digest(model, config)}:{normal_rate}/{slow_rate}"
            f":pause{pause_for(False)}/{pause_for(True)}"
        )

    @classmethod
    def from_config(cls, config: TtsConfig) -> PiperSynthesizer:
        return cls(config.piper_voice, normal_rate=config.normal_rate, slow_rate=config.slow_rate)

    def synthesize(self, sentence: str, *, slow: bool) -> Speech:
        if not sentence.strip():
            return Speech(b"", self.sample_rate)
        try:
            # Piper may cut the text into sentences of its own: one chunk each.
            chunks = list(self._voice.synthesize(sentence, syn_config=self._configs[slow]))
        except Exception as exc:
            raise TtsError(f"Piper failed on {sentence!r}: {exc}") from exc
        pcm = b"".join(chunk.audio_int16_bytes for chunk in chunks)
        return end_with_pause(pcm, self.sample_rate, pause_for(slow))
