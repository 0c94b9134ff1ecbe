"""Which recogniser a box uses, from its [asr] configuration."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from hoixa.device.asr.base import AsrError, Recognizer
from hoixa.device.asr.vietasr_backend import VietAsrRecognizer
from hoixa.device.asr.vosk_backend import VoskRecognizer
from hoixa.device.config import AsrConfig

log = logging.getLogger(__name__)

BACKENDS = ("auto", "vosk", "viet-asr")


def load_vosk(config: AsrConfig, phrases: Iterable[str]) -> VoskRecognizer:
    if not config.vosk_model:
        raise AsrError(
            "asr.backend is vosk but asr.vosk_model is empty; set it to the model folder, "
            "e.g. /var/lib/hoixa/models/vosk-model-small-vn-0.4 "
            "(install it with `hoixa models install vosk-vi`)"
        )
    return VoskRecognizer(config.vosk_model, phrases, config.restrict_to_catalogue)


def load_recognizer(config: AsrConfig, phrases: Iterable[str]) -> Recognizer:
    """The configured recogniser, model loaded, ready to start sessions.

    "vosk" insists on the Vosk model; "viet-asr" uses viet-asr; "auto" prefers Vosk when a
    model is configured and falls back to viet-asr, with a warning, when it will not load,
    so a box with a missing or damaged model still listens. AsrError when nothing is usable.
    """
    if config.backend not in BACKENDS:
        raise AsrError(f"asr.backend must be one of {', '.join(BACKENDS)}, not {config.backend!r}")
    if config.backend == "vosk":
        return load_vosk(config, phrases)
    if config.backend == "viet-asr":
        return VietAsrRecognizer()
    vosk_problem = None
    if config.vosk_model:
        try:
            return load_vosk(config, phrases)
        except AsrError as exc:
            vosk_problem = exc
            log.warning("Vosk unusable, recognising with viet-asr instead: %s", exc)
    try:
        return VietAsrRecognizer()
    except AsrError as exc:
        if vosk_problem is not None:
            raise AsrError(f"no usable recogniser: {vosk_problem}; and {exc}") from exc
        raise
