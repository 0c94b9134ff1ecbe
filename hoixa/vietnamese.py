"""Vietnamese text as a speech recogniser writes it, made comparable.

Recognisers and people write the same word in several ways: composed or decomposed Unicode,
the tone mark on either vowel ("hoà"/"hòa", "thuý"/"thúy"), with or without tone marks at
all, and regional pronunciations that a recogniser spells differently ("chờ"/"trờ",
"sinh"/"xinh", "dân"/"giân"). This module gives one canonical spelling (`normalize`), a
diacritic-free form (`fold`) and a coarse "sounds alike" key per syllable (`sound_key`),
so the matcher can compare what was heard with what the catalogue says.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Combining marks that carry the tone (thanh điệu). Vowel-quality marks (circumflex, breve,
# horn) are part of the letter and are not listed here.
_TONE_MARKS = {
    "\u0301": "sac",  # acute
    "\u0300": "huyen",  # grave
    "\u0309": "hoi",  # hook above
    "\u0303": "nga",  # tilde
    "\u0323": "nang",  # dot below
}
_TONE_BY_NAME = {name: mark for mark, name in _TONE_MARKS.items()}
_VOWELS = set("aăâeêioôơuưy")
_QUALITY_VOWELS = set("ăâêôơư")

_WORD_RE = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def split_tone(syllable: str) -> tuple[str, str | None]:
    """Split a syllable into its letters without tone mark and the tone's name (or None)."""
    tone = None
    kept = []
    for ch in unicodedata.normalize("NFD", syllable):
        if ch in _TONE_MARKS:
            tone = _TONE_MARKS[ch]
        else:
            kept.append(ch)
    return unicodedata.normalize("NFC", "".join(kept)), tone


def _tone_position(base: str) -> int | None:
    """Index of the vowel that carries the tone, by the common modern rule ("hòa", "thúy")."""
    lower = base.lower()
    start = 0
    # "qu" and "gi" (when another vowel follows) are consonant clusters, not vowels.
    if lower.startswith("qu") or (
        lower.startswith("gi") and len(lower) > 2 and lower[2] in _VOWELS
    ):
        start = 2
    positions = [i for i in range(start, len(lower)) if lower[i] in _VOWELS]
    if not positions:
        positions = [i for i in range(len(lower)) if lower[i] in _VOWELS]
        if not positions:
            return None
    # A contiguous vowel cluster only; letters after it are the final consonant.
    cluster = [positions[0]]
    for i in positions[1:]:
        if i == cluster[-1] + 1:
            cluster.append(i)
        else:
            break
    marked = [i for i in cluster if lower[i] in _QUALITY_VOWELS]
    if marked:
        return marked[-1]  # "ươ" takes it on ơ; "uyê" on ê
    if len(cluster) == 1:
        return cluster[0]
    if len(cluster) >= 3:
        return cluster[1]
    has_final = cluster[-1] + 1 < len(lower)
    return cluster[1] if has_final else cluster[0]


def place_tone(base: str, tone: str | None) -> str:
    """Write `tone` on the right vowel of a toneless syllable."""
    if tone is None:
        return base
    pos = _tone_position(base)
    if pos is None:
        return base
    decomposed = unicodedata.normalize("NFD", base[pos]) + _TONE_BY_NAME[tone]
    return unicodedata.normalize("NFC", base[:pos] + decomposed + base[pos + 1 :])


@lru_cache(maxsize=65536)
def canonical_syllable(syllable: str) -> str:
    """One spelling per syllable: NFC, lower case, tone mark on the canonical vowel."""
    base, tone = split_tone(syllable.lower())
    return place_tone(base, tone)


def words(text: str) -> list[str]:
    """Syllables and numbers of a text, in order; punctuation dropped."""
    return _WORD_RE.findall(nfc(text))


def normalize(text: str) -> str:
    """Canonical lower-case spelling, single spaces, no punctuation."""
    return " ".join(canonical_syllable(w) for w in words(text))


@lru_cache(maxsize=65536)
def fold_syllable(syllable: str) -> str:
    decomposed = unicodedata.normalize("NFD", syllable.lower().replace("đ", "d").replace("Đ", "d"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """Lower case without any diacritics (đ → d): what is left when tone marks are unreliable."""
    return " ".join(fold_syllable(w) for w in words(text))


def has_diacritics(text: str) -> bool:
    return any(unicodedata.combining(c) for c in unicodedata.normalize("NFD", text)) or (
        "đ" in text.lower()
    )


# Written Vietnamese marks most syllables (two in five at the very least in the question
# sets, one row of 2,875 at a third); a text with fewer marked ones was written without
# tones and got a stray mark or two ("thang nhỏ bi cãn ngoai ruong").
TONED_SHARE_MIN = 0.35


def tones_reliable(text: str) -> bool:
    """Whether the text was written with tone marks, so that they can be trusted.

    A recogniser or keyboard without tones may still leave one stray mark ("do cho mạy dua
    hoc sinh"); judging by that one mark would make every other syllable look wrongly toned.
    """
    syllables = words(text)
    if not syllables:
        return False
    marked = sum(1 for s in syllables if has_diacritics(s))
    return marked >= 1 and marked / len(syllables) >= TONED_SHARE_MIN


# Initial consonants that recognisers and regional accents confuse, mapped to one class.
# Longest first so "ngh" wins over "ng" and "tr" over "t".
_INITIAL_CLASSES = [
    ("ngh", "ng"),
    ("ng", "ng"),
    ("gh", "g"),
    ("gi", "z"),
    ("tr", "c"),
    ("ch", "c"),
    ("kh", "k"),
    ("qu", "w"),
    ("ph", "f"),
    ("th", "t"),
    ("nh", "nh"),
    ("d", "z"),
    ("r", "z"),
    ("v", "z"),
    ("s", "x"),
    ("x", "x"),
    ("k", "k"),
    ("c", "k"),
    ("q", "k"),
    ("l", "n"),
    ("n", "n"),
    ("b", "b"),
    ("g", "g"),
    ("h", "h"),
    ("m", "m"),
    ("t", "t"),
]
# Final consonants merged in Southern speech and often misheard elsewhere.
_FINAL_CLASSES = [("ng", "n"), ("nh", "n"), ("ch", "t"), ("c", "t"), ("n", "n"), ("t", "t")]


def _initial_class(syllable: str) -> tuple[str, str]:
    """(class of the initial consonant, the rest folded) of a syllable."""
    s = fold_syllable(syllable)
    if syllable[:1] in "đĐ":  # đ is its own sound, not the d/gi/r/v of "dân", "giân"
        return "đ", s[1:]
    for prefix, cls in _INITIAL_CLASSES:
        if s.startswith(prefix) and len(s) > len(prefix):
            return cls, s[len(prefix) :]
    return "", s


@lru_cache(maxsize=65536)
def initial_key(syllable: str) -> str:
    """A narrow 'sounds alike' key: only the initial consonant is merged ("tráy" = "cháy").

    For short phrases, where merging finals too would make "rắn cắn" sound like "vắng cần".
    """
    s = fold_syllable(syllable)
    if not s or not s.isalpha():
        return s
    initial, rest = _initial_class(syllable)
    return initial + "-" + rest


@lru_cache(maxsize=65536)
def sound_key(syllable: str) -> str:
    """A coarse 'sounds alike' key: diacritics dropped, confusable consonants merged.

    "trình" and "chình", "sinh" and "xin", "dân" and "giân" share a key. Used only to find
    candidates and score overlap; the exact spelling still counts for more (see matcher).
    """
    s = fold_syllable(syllable)
    if not s or not s.isalpha():
        return s
    initial, s = _initial_class(syllable)
    final = ""
    for suffix, cls in _FINAL_CLASSES:
        if s.endswith(suffix) and len(s) > len(suffix):
            final, s = cls, s[: -len(suffix)]
            break
    # "ký" = "kí", "thuỷ" = "thuỉ"; but "ay" is not "ai": "lấy" is not "lại", "vay" not "vai"
    s = re.sub(r"(?<!a)y", "i", s)
    return initial + s + final


@lru_cache(maxsize=65536)
def toned_sound_key(syllable: str) -> str:
    """initial_key with the stop finals c/ch merged into t, plus the tone: "sạc lở" = "sạt
    lở", "tráy" = "cháy", but "vắng cần" is not "rắn cắn" (another tone) and "lên công" is
    not "lên cơn" (n and ng stay apart: "lên công an" is said every day). For short phrases
    heard with trustworthy tones."""
    key = initial_key(syllable)
    for final in ("ch", "c"):
        if key.endswith(final) and len(key) > len(final) + 2:
            key = key[: -len(final)] + "t"
            break
    return key + "/" + (split_tone(canonical_syllable(syllable))[1] or "")


# A Vietnamese syllable without diacritics: an initial consonant, one to three vowels, and
# one of the few finals the language allows. Loose (it admits some non-words), but it tells
# "khotho", two syllables a recogniser ran together, from any one syllable.
_SYLLABLE_RE = re.compile(
    r"(?:ngh|ng|gh|gi|kh|nh|ph|th|tr|ch|qu|[bcdghklmnprstvx])?[aeiouy]{1,3}(?:ng|nh|ch|[cmnpt])?"
)


def is_syllable(folded: str) -> bool:
    """Whether a folded (diacritic-free) word can be one Vietnamese syllable."""
    return _SYLLABLE_RE.fullmatch(folded) is not None


def split_run_together(folded: str, known: frozenset[str] | set[str]) -> tuple[str, str] | None:
    """Two syllables a recogniser wrote as one ("khotho" → "kho", "tho"), or None.

    Only a word that cannot be one syllable is split, and only into two that can, at least
    one of them `known`; among several cuts the one with more known halves wins.
    """
    if is_syllable(folded) or not folded.isalpha():
        return None
    best, best_known = None, 0
    for cut in range(1, len(folded)):
        left, right = folded[:cut], folded[cut:]
        if not (is_syllable(left) and is_syllable(right)):
            continue
        n_known = (left in known) + (right in known)
        if n_known > best_known:
            best, best_known = (left, right), n_known
    return best


# Words that carry no meaning for matching: politeness, hesitation, address terms.
FILLER_PHRASES = (
    "cho tôi hỏi",
    "cho bác hỏi",
    "cho con hỏi",
    "cho cháu hỏi",
    "cho em hỏi",
    "cho tui hỏi",
    "cho mình hỏi",
    "tôi muốn hỏi",
    "bác muốn hỏi",
    "con muốn hỏi",
    "cháu muốn hỏi",
    "em muốn hỏi",
    "tui muốn hỏi",
    "mình muốn hỏi",
    "xin hỏi",
    "làm ơn",
    "cô ơi",
    "chú ơi",
    "anh ơi",
    "chị ơi",
    "em ơi",
    "cán bộ ơi",
    "thưa cô",
    "thưa chú",
    "thưa anh",
    "thưa chị",
)
FILLER_WORDS = frozenset(
    {
        "ờ",
        "ừ",
        "à",
        "ạ",
        "ơi",
        "dạ",
        "thưa",
        "nhé",
        "nhá",
        "nha",
        "nhen",
        "hả",
        "hử",
        "ấy",
        "ý",
        "ừm",
        "hừm",
        "ơ",
    }
)
_FILLER_PHRASES_NORMAL = tuple(
    sorted((normalize(p) for p in FILLER_PHRASES), key=len, reverse=True)
)


def strip_fillers(normal_text: str) -> str:
    """Drop polite openings and hesitations from normalised text (see `normalize`)."""
    text = f" {normal_text} "
    for phrase in _FILLER_PHRASES_NORMAL:
        text = text.replace(f" {phrase} ", " ")
    kept: list[str] = []
    for word in text.split():
        if word not in FILLER_WORDS or (word == "ơi" and _crying(kept)):
            kept.append(word)
    return " ".join(kept)


# "Trời ơi", "làng nước ơi", "bà con ơi": a cry, not a polite "cô ơi": its "ơi" is kept,
# so that the emergency cues written with it can hear it.
CRIED_TO = (("trời",), ("giời",), ("nước",), ("bà", "con"))


def _crying(words: list[str]) -> bool:
    return any(tuple(words[-len(cried) :]) == cried for cried in CRIED_TO)


# Regional spellings of words the phrases are written with: Southern "hổng thấy" is "không
# thấy", "dìa" is "về"; Nghệ Tĩnh "nác" is "nước". Only with tone marks: without them "hong"
# may as well be "hỏng" (broken) or "hồng" (sổ hồng), "dia" "địa" (địa chỉ).
REGIONAL_WORDS = {"hổng": "không", "hông": "không", "dìa": "về", "nác": "nước"}


def standard_words(toned: list[str]) -> list[str]:
    """Canonical syllables with regional spellings written as the phrases write them."""
    return [REGIONAL_WORDS.get(s, s) for s in toned]


# Numbers as people say them ("mười bốn tuổi", "sáu mươi") and as catalogues write them ("14").
_UNITS = {
    "một": 1, "mốt": 1, "hai": 2, "ba": 3, "bốn": 4, "tư": 4, "năm": 5, "lăm": 5,
    "sáu": 6, "bảy": 7, "bẩy": 7, "tám": 8, "chín": 9,
}  # fmt: skip
_UNITS_FOLDED = {fold_syllable(w): n for w, n in _UNITS.items() if w not in ("tư", "mốt")}
_TENS = ("mười", "mươi")
# The last digit of a number said short, without "mươi": "hai lăm" is 25, "tám mốt" 81,
# "bảy nhăm" 75, "hai tư tuổi" 24. Only these forms: "hai ba" is two or three, not 23.
_SHORT_LAST = {"mốt": 1, "lăm": 5, "nhăm": 5}
_SHORT_LAST_BEFORE_AGE = {"tư": 4}


def _is_tens(syllable: str) -> bool:
    return syllable in _TENS or syllable == "muoi"


def _unit(syllable: str) -> int | None:
    if syllable in _UNITS:
        return _UNITS[syllable]
    return _UNITS_FOLDED.get(syllable) if syllable.isascii() else None


def number_word_value(syllable: str) -> int | None:
    """The digit a single number word stands for ("ba" → 3, "sau" → 6), else None."""
    return _unit(syllable)


def spoken_numbers_to_digits(syllables: list[str]) -> list[str]:
    """Write numbers said in words as digits: "mười bốn tuổi" → "14 tuổi", "sáu mươi" → "60".

    Only where the words cannot mean anything else: a number with "mười"/"mươi" in it, or
    a single digit before "tuổi" ("dưới sáu tuổi"). "năm" alone stays a year, "ba" a father.
    Works on canonical syllables with or without tone marks.
    """
    out: list[str] = []
    i, n = 0, len(syllables)
    while i < n:
        syl = syllables[i]
        nxt = syllables[i + 1] if i + 1 < n else ""
        if _is_tens(syl):
            value, i = 10, i + 1  # "mười", "mười bốn"
            unit = _unit(syllables[i]) if i < n else None
            if unit is not None:
                value, i = value + unit, i + 1
            out.append(str(value))
            continue
        unit = _unit(syl)
        if unit is not None and _is_tens(nxt):
            value, i = unit * 10, i + 2  # "sáu mươi", "hai mươi lăm"
            last = _unit(syllables[i]) if i < n else None
            if last is not None:
                value, i = value + last, i + 1
            out.append(str(value))
            continue
        after = syllables[i + 2] if i + 2 < n else ""
        before_age = fold_syllable(after) == "tuoi"
        last = _SHORT_LAST.get(nxt) or (_SHORT_LAST_BEFORE_AGE.get(nxt) if before_age else None)
        if last is None and before_age and nxt.isascii():  # without tones: only before "tuổi"
            last = {"mot": 1, "lam": 5, "nham": 5, "tu": 4}.get(nxt)
        year = fold_syllable(syl) == "nam" and not before_age  # "sang năm mốt": in two years
        if unit is not None and unit >= 2 and last is not None and not year:
            out.append(str(unit * 10 + last))  # "hai lăm tuổi" → "25 tuổi"
            i += 2
            continue
        if unit is not None and fold_syllable(nxt) == "tuoi":
            out.append(str(unit))
            i += 1
            continue
        out.append(syl)
        i += 1
    return out
