"""What every synthesiser gives the box: one sentence in, 16-bit mono PCM out.

Answers are spoken sentence by sentence so the first sentence plays while the next is being
made (or read from the answer cache); `split_sentences` decides where those cuts fall, and
must be deterministic because its pieces are the cache's keys.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from hoixa.device.tts.cache import AnswerCache

SENTENCE_PAUSE_SECONDS = 0.25  # silence after each sentence, so an older listener can follow
SLOW_SENTENCE_PAUSE_SECONDS = 0.45  # after "chậm lại"
MAX_WORDS = 20  # a longer sentence is cut at its commas (Vietnamese words are syllables)
HARD_MAX_WORDS = 40  # a longer piece without commas is cut between words
MIN_CLAUSE_WORDS = 3  # comma cuts fall between clauses at least this long, not inside lists
MIN_PIECE_WORDS = 6  # and never leave a piece shorter than this
LABEL_WORDS = 3  # a label this short ("Bước một:", "Lưu ý:") always stays with what follows
_SILENCE_FLOOR = 100  # |sample| below this (about -50 dBFS) counts as silence when trimming
_KEEP_AFTER_SOUND_SECONDS = 0.05  # keep a short tail after the last audible sample


class TtsError(RuntimeError):
    """Speech cannot be synthesised; the message says what is missing and how to fix it."""


@dataclass(frozen=True)
class Speech:
    """Synthesised audio: 16-bit little-endian mono PCM."""

    pcm: bytes
    sample_rate: int

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


class Synthesizer(Protocol):
    name: str  # "piper" | "espeak-ng"
    voice_id: str  # the voice and every setting that changes its sound: part of the cache key
    sample_rate: int

    def synthesize(self, sentence: str, *, slow: bool) -> Speech:
        """One sentence (already in words, see hoixa.spoken) as audio; blank text → no audio."""
        ...


def end_with_pause(pcm: bytes, sample_rate: int, pause_seconds: float) -> Speech:
    """Trim the engine's own trailing silence and end with a pause of a known length.

    Engines end sentences with differing silences; replacing them makes the gap between
    sentences the same for every voice and lets "slow" lengthen it.
    """
    samples = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) >= _SILENCE_FLOOR)
    if loud.size == 0:
        return Speech(b"", sample_rate)
    end = min(samples.size, int(loud[-1]) + 1 + int(_KEEP_AFTER_SOUND_SECONDS * sample_rate))
    pause = np.zeros(int(pause_seconds * sample_rate), dtype="<i2")
    return Speech(samples[:end].tobytes() + pause.tobytes(), sample_rate)


def pause_for(slow: bool) -> float:
    return SLOW_SENTENCE_PAUSE_SECONDS if slow else SENTENCE_PAUSE_SECONDS


# A sentence ends at . ? ! : ; … (possibly repeated, possibly followed by closing brackets or
# quotes) that is followed by a space or the end of the text; "8.000" or "v.v." inside a word
# never ends one.
_SENTENCE_END = re.compile(r"[.?!:;…]+[)\]\"”’»]*(?=\s|$)")
_HAS_WORD = re.compile(r"\w")


def _words(text: str) -> int:
    return len(text.split())


def _cut_between_words(text: str) -> list[str]:
    words = text.split()
    parts = -(-len(words) // HARD_MAX_WORDS)
    size = -(-len(words) // parts)
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


def _cut_at_commas(text: str) -> list[str]:
    """A long sentence cut at some of its commas into pieces of at most MAX_WORDS if possible.

    Cuts go only where a clause of at least MIN_CLAUSE_WORDS words ends and another begins
    (never inside a list of single words: "ông, bà, cha, mẹ"), and leave no piece shorter than
    MIN_PIECE_WORDS. Among the ways to cut, the one with the least overflow beyond MAX_WORDS,
    then the fewest pieces, then the most even lengths, wins; no usable comma: kept whole.
    """
    clauses = [c for c in re.split(r"(?<=,)\s+", text) if c]
    lengths = [_words(c) for c in clauses]
    starts = [0, *itertools.accumulate(lengths)]  # words before clause i
    allowed = [0] + [
        i for i in range(1, len(clauses)) if min(lengths[i - 1], lengths[i]) >= MIN_CLAUSE_WORDS
    ]
    allowed.append(len(clauses))
    # best[k]: (overflow, pieces, sum of squared lengths) of cutting clauses[:allowed[k]], and
    # the previous cut; lexicographic order is kept by adding, so this is an exact search.
    best: list[tuple[tuple[int, int, int], int] | None] = [((0, 0, 0), -1)]
    for k in range(1, len(allowed)):
        options = []
        for j in range(k):
            size = starts[allowed[k]] - starts[allowed[j]]
            if best[j] is None or size < MIN_PIECE_WORDS:
                continue
            (over, pieces, squares), _ = best[j]
            cost = (over + max(0, size - MAX_WORDS), pieces + 1, squares + size * size)
            options.append((cost, j))
        best.append(min(options) if options else None)
    if best[-1] is None:
        return [text]
    bounds = [len(allowed) - 1]
    while bounds[-1] > 0:
        entry = best[bounds[-1]]
        assert entry is not None
        bounds.append(entry[1])
    cuts = [allowed[k] for k in reversed(bounds)]
    return [" ".join(clauses[a:b]) for a, b in itertools.pairwise(cuts)]


def _hard_cut(text: str) -> list[str]:
    return _cut_between_words(text) if _words(text) > HARD_MAX_WORDS else [text]


def split_sentences(text: str) -> list[str]:
    """Cut a spoken answer into short pieces to synthesise and play one after another.

    Cuts at . ? ! ; and : ; a label ending in a colon ("Một:", "Lưu ý:") stays with what
    follows when the two together are short. A sentence longer than MAX_WORDS is cut at its
    commas, and a piece still longer than HARD_MAX_WORDS between words. Pieces without a
    letter or digit (stray punctuation) are dropped; whitespace is normalised.
    """
    text = " ".join(text.split())
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        pieces.append(text[start : match.end()].strip())
        start = match.end()
    pieces.append(text[start:].strip())
    pieces = [p for p in pieces if _HAS_WORD.search(p)]

    joined: list[str] = []
    for piece in pieces:
        label = joined and joined[-1].endswith(":")
        short = label and _words(joined[-1]) <= LABEL_WORDS
        if label and (short or _words(joined[-1]) + _words(piece) <= MAX_WORDS):
            joined[-1] = f"{joined[-1]} {piece}"
        else:
            joined.append(piece)
    out: list[str] = []
    for piece in joined:
        cut = _cut_at_commas(piece) if _words(piece) > MAX_WORDS else [piece]
        out.extend(small for part in cut for small in _hard_cut(part))
    return out


def speak_stream(
    synth: Synthesizer, text: str, *, slow: bool, cache: AnswerCache | None = None
) -> Iterator[Speech]:
    """The audio of `text`, one sentence at a time: from the cache when it has it, else made
    now (and then kept in the cache for next time)."""
    for sentence in split_sentences(text):
        speech = cache.get(synth, sentence, slow) if cache is not None else None
        if speech is None:
            speech = synth.synthesize(sentence, slow=slow)
            if cache is not None and speech.pcm:
                cache.put(synth, sentence, slow, speech)
        if speech.pcm:
            yield speech
