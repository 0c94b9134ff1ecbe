"""Simulate what a speech recogniser gets wrong in Vietnamese, to test the matcher against it.

A recogniser running on a Raspberry Pi in a noisy commune office mishears in typical ways:
the wrong tone ("khai sinh" -> "khái sinh"), a regional or similar-sounding consonant
("tr"/"ch", "s"/"x", Southern "v" said as "d", "n"/"ng" at the end), a syllable lost, or two
syllables run together ("khaisinh"). `corrupt` applies those at a requested syllable error
rate; `syllable_error_rate` measures what was actually applied.

Text is handled as NFC. Tone marks are the five combining marks (acute, grave, hook above,
tilde, dot below); the vowel marks (circumflex, breve, horn) and "đ" are part of the letter and
are never touched by a tone change.
"""

from __future__ import annotations

import random
import unicodedata

TONE_MARKS = ("\u0301", "\u0300", "\u0309", "\u0303", "\u0323")  # sắc huyền hỏi ngã nặng
VOWELS = set("aăâeêioôơuưy")
MARKED_VOWELS = set("ăâêôơư")  # a tone goes on these first

# Initial consonants, longest first so "ngh" wins over "ng" and "n".
INITIALS = (
    "ngh", "ng", "gh", "gi", "kh", "nh", "ph", "th", "tr", "ch", "qu",
    "b", "c", "d", "đ", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "x", "w",
)  # fmt: skip
INITIAL_CONFUSIONS: dict[str, tuple[str, ...]] = {
    "tr": ("ch",),
    "ch": ("tr",),
    "s": ("x",),
    "x": ("s",),
    "d": ("gi", "r", "v"),
    "gi": ("d", "r"),
    "r": ("d", "gi"),
    "v": ("d",),  # Southern "v" is said like "d"
    "l": ("n",),
    "n": ("l",),
    "ng": ("ngh",),  # same sound, spelled differently
    "ngh": ("ng",),
    "g": ("gh",),
    "gh": ("g",),
    "k": ("c",),
    "c": ("k",),
    "qu": ("w",),  # Southern "qu" is said like "w"
    "w": ("qu",),
    "h": ("kh",),
    "kh": ("h",),
    "t": ("th",),
    "th": ("t",),
}
FINAL_CONFUSIONS: tuple[tuple[str, str], ...] = (
    ("ng", "n"),  # checked before "n" so "ng" is not read as "n"
    ("n", "ng"),
    ("t", "c"),
    ("c", "t"),
    ("i", "y"),
    ("y", "i"),
)

# How often each kind of error happens among corrupted syllables.
OPERATION_WEIGHTS = {"tone": 0.45, "initial": 0.2, "final": 0.1, "drop": 0.1, "merge": 0.15}


def _split_tone(syllable: str) -> tuple[str, str | None, int | None]:
    """(syllable without its tone mark in NFC, the tone mark, index of the toned letter)."""
    letters: list[str] = []
    tone = None
    tone_at = None
    for char in syllable:
        parts = unicodedata.normalize("NFD", char)
        kept = "".join(p for p in parts if p not in TONE_MARKS)
        found = [p for p in parts if p in TONE_MARKS]
        if found and tone is None:
            tone, tone_at = found[0], len(letters)
        letters.append(unicodedata.normalize("NFC", kept))
    return "".join(letters), tone, tone_at


def _base_letter(char: str) -> str:
    """The letter with its vowel mark (â, ơ, …) but no tone, lower case."""
    return _split_tone(char.lower())[0]


def _split_initial(bare: str) -> tuple[str, str]:
    """Initial consonant and the rest of a toneless syllable ("nghiêng" -> "ngh", "iêng")."""
    low = bare.lower()
    for initial in INITIALS:
        if low.startswith(initial):
            rest = bare[len(initial) :]
            if initial == "gi" and not any(_base_letter(c) in VOWELS for c in rest):
                return "gi", bare[1:]  # "gì", "gìn": the i is also the vowel
            if initial == "qu" and not rest:
                return "", bare
            return bare[: len(initial)], rest
    return "", bare


def _join(initial: str, rest: str) -> str:
    """Initial + rest, spelling "gi" + "i…" as "gi…" ("gìn", not "giìn")."""
    if initial.lower() == "gi" and rest[:1].lower() == "i":
        return initial[0] + rest
    return initial + rest


def _tone_position(bare: str) -> int | None:
    """Where a tone goes in a toneless syllable (traditional placement: "hòa", "thủy")."""
    _, rest = _split_initial(bare)
    offset = len(bare) - len(rest)
    vowels = [i for i, c in enumerate(rest) if _base_letter(c) in VOWELS]
    if not vowels:
        letters = [i for i, c in enumerate(bare) if _base_letter(c) in VOWELS]
        return letters[0] if letters else None
    marked = [i for i in vowels if _base_letter(rest[i]) in MARKED_VOWELS]
    if marked:
        return offset + marked[-1]
    nucleus_end = vowels[-1] + 1
    has_final = nucleus_end < len(rest)
    if len(vowels) == 1 or has_final:
        return offset + vowels[-1]
    if len(vowels) >= 3:
        return offset + vowels[1]
    return offset + vowels[0]


def _put_tone(bare: str, tone: str | None, at: int | None = None) -> str:
    """Add a tone mark to a toneless syllable, at `at` or where it normally goes."""
    if tone is None:
        return bare
    if at is None or at >= len(bare) or _base_letter(bare[at]) not in VOWELS:
        at = _tone_position(bare)
    if at is None:
        return bare
    toned = unicodedata.normalize("NFC", unicodedata.normalize("NFD", bare[at]) + tone)
    return bare[:at] + toned + bare[at + 1 :]


def change_tone(syllable: str, rng: random.Random) -> str | None:
    """Swap the tone for another one, or drop it; None when the syllable has no vowel."""
    bare, tone, at = _split_tone(syllable)
    if _tone_position(bare) is None:
        return None
    choices = [t for t in (None, *TONE_MARKS) if t != tone]
    return _put_tone(bare, rng.choice(choices), at)


def change_initial(syllable: str, rng: random.Random) -> str | None:
    """Replace the initial consonant by one that sounds alike; None when there is none."""
    bare, tone, _ = _split_tone(syllable)
    initial, rest = _split_initial(bare)
    options = INITIAL_CONFUSIONS.get(initial.lower())
    if not options or not any(_base_letter(c) in VOWELS for c in rest):
        return None
    return _put_tone(_join(rng.choice(options), rest), tone)


def change_final(syllable: str, rng: random.Random) -> str | None:
    """Swap a final n/ng, t/c or i/y; None when the syllable ends otherwise."""
    bare, tone, _ = _split_tone(syllable)
    initial, rest = _split_initial(bare)
    low = rest.lower()
    for old, new in FINAL_CONFUSIONS:
        if not low.endswith(old):
            continue
        before = rest[: -len(old)]
        if not any(_base_letter(c) in VOWELS for c in before):
            continue  # "ti", "quy": the letter is the vowel, not a final
        if old in ("i", "y") and _base_letter(before[-1]) not in ("a", "u"):
            continue  # only ai/ay and ui/uy sound alike
        return _put_tone(_join(initial, before + new), tone)
    return None


def _corruption_probability(rate: float) -> float:
    """Per-syllable probability that yields `rate` errors per syllable on average.

    A merge turns two syllables into one, which costs two edits (one substitution, one
    deletion) and uses up the next syllable, so the probability is lowered to match.
    """
    merge = OPERATION_WEIGHTS["merge"] / sum(OPERATION_WEIGHTS.values())
    return rate / (1 + merge * (1 - rate))


def corrupt(text: str, rate: float, rng: random.Random) -> str:
    """`text` as a recogniser might have heard it, with about `rate` syllable errors each.

    Deterministic for a given state of `rng`. Rate 0 returns the text unchanged.
    """
    if not 0 <= rate <= 1:
        raise ValueError(f"rate must be between 0 and 1, not {rate}")
    text = unicodedata.normalize("NFC", text)
    syllables = text.split()
    if rate == 0 or not syllables:
        return text
    probability = _corruption_probability(rate)
    operations = list(OPERATION_WEIGHTS)
    weights = list(OPERATION_WEIGHTS.values())
    out: list[str] = []
    i = 0
    while i < len(syllables):
        syllable = syllables[i]
        i += 1
        if rng.random() >= probability:
            out.append(syllable)
            continue
        operation = rng.choices(operations, weights)[0]
        if operation in ("drop", "merge") and len(syllables) == 1:
            operation = "tone"
        if operation == "merge" and i >= len(syllables):
            operation = "tone"  # nothing after the last syllable to run into
        if operation == "drop":
            continue
        if operation == "merge":
            out.append(syllable + syllables[i])
            i += 1
            continue
        changed = None
        if operation == "initial":
            changed = change_initial(syllable, rng)
        elif operation == "final":
            changed = change_final(syllable, rng)
        if changed is None:
            changed = change_tone(syllable, rng)
        if changed is None:  # no vowel at all (a number, an acronym): lose it
            continue
        out.append(changed)
    return unicodedata.normalize("NFC", " ".join(out))


def syllable_error_rate(ref: str, hyp: str) -> float:
    """Edit distance between the syllables of `ref` and `hyp`, divided by len(ref)."""
    a = unicodedata.normalize("NFC", ref).split()
    b = unicodedata.normalize("NFC", hyp).split()
    if not a:
        return float(len(b) > 0)
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1] / len(a)
