"""The phrase list a restricted recogniser may choose from, spelled the way its model spells.

A Vosk grammar word the model does not know is dropped with a warning per word, every time a
session starts. Checking each word against the model once, when the catalogue changes, keeps
the log quiet and tells the operator which catalogue words the box can never hear.

Tone marks may sit on a different vowel in the model's word list than in the catalogue
("hoà"/"hòa", "thuý"/"thúy"); such words are looked up under every placement and written the
model's way, and the transcript is normalised back afterwards.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from hoixa.vietnamese import split_tone

# Combining tone marks by the names hoixa.vietnamese.split_tone gives them.
_TONE_MARK = {
    "sac": "\u0301",
    "huyen": "\u0300",
    "hoi": "\u0309",
    "nga": "\u0303",
    "nang": "\u0323",
}
_VOWELS = set("aăâeêioôơuưy")


@dataclass(frozen=True)
class Grammar:
    phrases: list[str]  # each phrase with only the words the model knows, model spelling
    unknown_words: list[str]  # words the model cannot recognise, sorted


def spellings(word: str) -> Iterator[str]:
    """`word` itself, then the same syllable with its tone mark on each other vowel."""
    yield word
    base, tone = split_tone(word)
    if tone is None:
        return
    for i, ch in enumerate(base):
        if ch.lower() in _VOWELS:
            variant = base[: i + 1] + _TONE_MARK[tone] + base[i + 1 :]
            variant = unicodedata.normalize("NFC", variant)
            if variant != word:
                yield variant


def model_spelling(word: str, knows: Callable[[str], bool]) -> str | None:
    """How the model spells `word`, or None when it does not know it in any spelling."""
    return next((s for s in spellings(word) if knows(s)), None)


def build_grammar(phrases: Iterable[str], knows: Callable[[str], bool]) -> Grammar:
    """Keep each phrase's known words (as Vosk itself would), without duplicate phrases."""
    kept: dict[str, None] = {}
    unknown: set[str] = set()
    spelled: dict[str, str | None] = {}
    for phrase in phrases:
        words = []
        for word in phrase.split():
            if word not in spelled:
                spelled[word] = model_spelling(word, knows)
            if spelled[word] is None:
                unknown.add(word)
            else:
                words.append(spelled[word])
        if words:
            kept[" ".join(words)] = None
    return Grammar(list(kept), sorted(unknown))
