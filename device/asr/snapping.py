"""Snap a near-miss transcript onto the phrase the box knows ("làm giấy khai sin" → "... sinh").

A restricted recogniser only emits known words, but it can still drop or swap one; when the
whole transcript is very close to one known phrase, that phrase is what was said.

The score is rapidfuzz's plain `ratio` over the whole string, not `WRatio`: WRatio rewards a
short phrase found inside a long transcript (partial matching), so it maps "không phải khai
sinh mà là khai tử" onto "khai sinh" (90) and "tôi muốn hỏi về đất đai" onto an unrelated
114-character procedure name (85.5), throwing away what the person actually said.
"""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz import fuzz, process

from hoixa.vietnamese import normalize

DEFAULT_MIN_SCORE = 85.0


class PhraseSnapper:
    def __init__(self, phrases: Iterable[str], min_score: float = DEFAULT_MIN_SCORE) -> None:
        self.phrases = list(dict.fromkeys(p for p in (normalize(t) for t in phrases) if p))
        self._known = set(self.phrases)
        self.min_score = min_score

    def snap(self, text: str) -> str:
        """The known phrase `text` is a near miss of, or `text` unchanged."""
        if not text or text in self._known or not self.phrases:
            return text
        best = process.extractOne(
            text, self.phrases, scorer=fuzz.ratio, score_cutoff=self.min_score
        )
        return best[0] if best else text
