"""Which synthesiser a box uses, from its [tts] configuration."""

from __future__ import annotations

import logging

from hoixa.device.config import TtsConfig
from hoixa.device.tts.base import Synthesizer, TtsError
from hoixa.device.tts.espeak_backend import EspeakSynthesizer
from hoixa.device.tts.piper_backend import INSTALL_HINT, PiperSynthesizer

log = logging.getLogger(__name__)

BACKENDS = ("auto", "piper", "espeak-ng")


def load_synthesizer(config: TtsConfig) -> Synthesizer:
    """The configured voice, loaded and ready.

    "piper" insists on the Piper voice; "espeak-ng" uses espeak-ng; "auto" prefers Piper
    when a voice is configured and falls back to espeak-ng, with a warning, when it will not
    load, so a box with a broken voice file still speaks.
    """
    if config.backend not in BACKENDS:
        raise TtsError(f"tts.backend must be one of {', '.join(BACKENDS)}, not {config.backend!r}")
    if config.backend == "espeak-ng":
        return EspeakSynthesizer.from_config(config)
    if config.backend == "piper":
        if not config.piper_voice:
            raise TtsError(f"tts.backend is piper but tts.piper_voice is empty; {INSTALL_HINT}")
        return PiperSynthesizer.from_config(config)
    if config.piper_voice:
        try:
            return PiperSynthesizer.from_config(config)
        except TtsError as exc:
            log.warning("Piper voice unusable, speaking with espeak-ng instead: %s", exc)
    return EspeakSynthesizer.from_config(config)
