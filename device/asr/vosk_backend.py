"""Vosk: the recogniser of a real box (vosk-model-small-vn-0.4), restricted to the catalogue.

The small Vietnamese model is weak on free speech; given the box's phrase list as a grammar
it only has to choose between things the box understands. The model is loaded once per
recogniser (seconds, hundreds of MB); each session gets its own cheap KaldiRecognizer.

Three traps in Vosk 0.3.45 are handled here: its grammar parser does not decode JSON \\u
escapes, so the grammar must be dumped with ensure_ascii=False or every Vietnamese word is
"missing in vocabulary"; when it detects an endpoint (a pause) mid-question it starts a new
utterance, so each finished segment's Result() is collected or it would be lost; and a
damaged graph file (a half-copied model) only prints errors while the Model "loads", then
the first recogniser segfaults the box, so those errors are caught at load and refused.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hoixa.device.asr.base import (
    SAMPLE_RATE,
    AsrError,
    FinishedSession,
    SampleAligner,
    Transcript,
)
from hoixa.device.asr.grammar import build_grammar
from hoixa.device.asr.snapping import DEFAULT_MIN_SCORE, PhraseSnapper
from hoixa.vietnamese import normalize

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "install it with `hoixa models install vosk-vi`, or copy the unpacked "
    "vosk-model-small-vn-0.4 folder there, or point [asr] vosk_model at the right folder"
)
# Unknown-word symbols: alphacephei's models call it "[unk]", Kaldi recipes "<UNK>".
UNKNOWN_TOKENS = ("[unk]", "<UNK>", "<unk>")
_VOSK_LOG_WARNINGS_ONLY = -1  # 0 prints the whole grammar on every session


def check_model_dir(path: Path) -> None:
    """Raise AsrError naming `path` unless it looks like a Vosk model folder."""
    if not path.exists():
        raise AsrError(f"Vosk model folder {path} does not exist; {INSTALL_HINT}")
    if not path.is_dir():
        raise AsrError(f"Vosk model path {path} is not a folder; {INSTALL_HINT}")
    if not ((path / "am" / "final.mdl").is_file() or (path / "final.mdl").is_file()):
        raise AsrError(
            f"Vosk model folder {path} has no am/final.mdl, so it is not a complete "
            f"Vosk model (empty or half-copied?); {INSTALL_HINT}"
        )


def load_model(vosk: Any, path: Path) -> Any:
    """vosk.Model(path), refused (AsrError) if it raised or reported errors while loading.

    Vosk and OpenFst write their errors to file descriptor 2, not to Python; it is pointed at
    a temporary file for the load, and what was written is passed on to stderr afterwards.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        failure: Exception | None = None
        try:
            model = vosk.Model(str(path))
        except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
            failure = exc
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        output = captured.read().decode("utf-8", "replace")
    if output:
        sys.stderr.write(output)
    errors = [line.strip() for line in output.splitlines() if line.lstrip().startswith("ERROR")]
    if failure is not None or errors:
        detail = errors[-1] if errors else str(failure)
        raise AsrError(
            f"Vosk could not load the model in {path} ({detail}); the folder is damaged or "
            f"not a Vosk model; {INSTALL_HINT}"
        ) from failure
    return model


def clean(text: str) -> str:
    """Engine text as the matcher wants it: no unknown-word symbols, normalised."""
    return normalize(" ".join(w for w in text.split() if w not in UNKNOWN_TOKENS))


class VoskRecognizer:
    name = "vosk"
    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        model_dir: str | Path,
        phrases: Iterable[str] = (),
        restrict_to_catalogue: bool = True,
        min_snap_score: float = DEFAULT_MIN_SCORE,
    ) -> None:
        try:
            import vosk
        except ImportError as exc:
            raise AsrError(
                "the Python package vosk is not installed: pip install vosk "
                "(or pip install 'hoixa[device]')"
            ) from exc
        self.model_dir = Path(model_dir)
        check_model_dir(self.model_dir)
        vosk.SetLogLevel(_VOSK_LOG_WARNINGS_ONLY)
        self._model = load_model(vosk, self.model_dir)
        self._vosk = vosk
        self.restrict_to_catalogue = restrict_to_catalogue
        self.min_snap_score = min_snap_score
        self.unknown_token = next((t for t in UNKNOWN_TOKENS if self.knows(t)), None)
        self.grammar_words: list[str] = []  # the phrases as given to Vosk
        self.unknown_words: list[str] = []  # catalogue words this model cannot recognise
        # (grammar JSON or None for free recognition, snapper or None): one tuple, replaced
        # whole, so a session starting on another thread sees the old list or the new one.
        self._current: tuple[str | None, PhraseSnapper | None] = (None, None)
        self.set_phrases(phrases)

    def knows(self, word: str) -> bool:
        return self._model.vosk_model_find_word(word) >= 0

    def set_phrases(self, phrases: Iterable[str]) -> None:
        """Use a new phrase list (the catalogue changed) from the next session on."""
        snapper = PhraseSnapper(phrases, self.min_snap_score)
        grammar = build_grammar(snapper.phrases, self.knows)
        if grammar.unknown_words:
            shown = ", ".join(grammar.unknown_words[:20])
            more = len(grammar.unknown_words) - 20
            log.warning(
                "Vosk model %s does not know %d catalogue word(s), it can never hear them: %s%s",
                self.model_dir,
                len(grammar.unknown_words),
                shown,
                f" (and {more} more)" if more > 0 else "",
            )
        grammar_json = None
        if self.restrict_to_catalogue and grammar.phrases:
            extra = [self.unknown_token] if self.unknown_token else []
            grammar_json = json.dumps(grammar.phrases + extra, ensure_ascii=False)
        elif self.restrict_to_catalogue:
            log.warning(
                "Vosk model %s knows none of the %d phrases; recognising freely instead",
                self.model_dir,
                len(snapper.phrases),
            )
        self.grammar_words, self.unknown_words = grammar.phrases, grammar.unknown_words
        self._current = (grammar_json, snapper if grammar_json else None)

    @property
    def restricted(self) -> bool:
        """Whether sessions are currently limited to the phrase list."""
        return self._current[0] is not None

    def start(self) -> VoskSession:
        grammar_json, snapper = self._current
        if grammar_json is None:
            engine = self._vosk.KaldiRecognizer(self._model, float(self.sample_rate))
        else:
            engine = self._vosk.KaldiRecognizer(self._model, float(self.sample_rate), grammar_json)
        engine.SetWords(True)
        return VoskSession(engine, snapper)


class VoskSession:
    def __init__(self, engine: Any, snapper: PhraseSnapper | None) -> None:
        self._engine = engine
        self._snapper = snapper
        self._aligner = SampleAligner()
        self._segments: list[dict[str, Any]] = []  # utterances Vosk closed at a pause
        self._result: Transcript | None = None

    def feed(self, pcm: bytes) -> None:
        if self._result is not None:
            raise FinishedSession("feed() after finish(): start a new session")
        data = self._aligner.whole_samples(pcm)
        if data and self._engine.AcceptWaveform(data):
            self._segments.append(json.loads(self._engine.Result()))

    def partial(self) -> str:
        if self._result is not None:
            return self._result.text
        current = json.loads(self._engine.PartialResult()).get("partial", "")
        return clean(" ".join([*(s.get("text", "") for s in self._segments), current]))

    def finish(self) -> Transcript:
        if self._result is None:
            self._segments.append(json.loads(self._engine.FinalResult()))
            self._engine = None  # frees the decoder now, not at garbage collection
            self._result = self._transcript()
        return self._result

    def _transcript(self) -> Transcript:
        raw = " ".join(t for s in self._segments if (t := s.get("text", "").strip()))
        text = clean(raw)
        heard = [
            float(w.get("conf", 0.0))
            for s in self._segments
            for w in s.get("result", [])
            if w.get("word") not in UNKNOWN_TOKENS
        ]
        confidence = sum(heard) / len(heard) if heard and text else 0.0
        snapped = self._snapper.snap(text) if self._snapper else text
        return Transcript(snapped, raw, min(1.0, max(0.0, confidence)))
