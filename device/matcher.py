"""Which procedure a villager means: rank the catalogue and decide answer, ask back, or not found.

How it scores. Every procedure is known by phrases: its official name, its spoken name and the
aliases people use. Phrases and the question are cut into syllables and reduced to "sounds
alike" keys (hoixa.vietnamese.sound_key), so wrong tones and regional consonants still match.
Single keys and pairs of neighbouring keys are terms, weighted by how rare they are in the
catalogue (a word in every name, like "cấp", says little). A phrase scores high when the
question covers most of the phrase's weight AND the phrase covers most of the question's known
weight: "làm giấy khai sinh" then beats "đăng ký khai sinh lưu động", whose extra words
were not said. Words the catalogue has never seen do not count against a phrase; syllables a
recogniser merged ("khaisinh") are split, and near misses are snapped to a known syllable with
rapidfuzz.

How it decides. An emergency is never matched to a procedure. A clear winner is answered; two or
three close ones are offered back ("clarify"), and a lone middling one is confirmed; a weak best
match is "not_found". Asking back is always preferred to a wrong answer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

import numpy as np
from rapidfuzz import fuzz, process

from hoixa.contract.catalogue import Catalogue, Procedure, Referral, spoken_name
from hoixa.device.intents import (
    Utterance,
    category_hits,
    detect_distress,
    detect_emergency,
    detect_taken_back_emergency,
    remove_at,
    remove_span,
)
from hoixa.device.phrase_index import PhraseIndex, QueryTerm
from hoixa.device.situation import (
    COPYING,
    away_for_work,
    clause_after_done,
    clause_after_want,
    clause_after_who,
    clause_before_purpose,
    clause_before_purpose_asked,
    clause_before_result,
    is_after_death,
    is_bundle,
    is_card_not_reissued,
    is_first_time,
    is_monthly_allowance,
    is_record_change,
    life_side,
    life_side_named,
    papers_held_or_needed,
    registered_thing,
    registrations_said,
    reregistered_thing,
    residence_in_bundle,
    says_again,
    says_card_changed,
    says_card_damaged,
    says_death_registration_only,
    says_record_lost,
    says_someone_died,
    without_unwanted,
)
from hoixa.device.synonyms import copied_papers, official_words
from hoixa.vietnamese import (
    fold,
    fold_syllable,
    normalize,
    number_word_value,
    sound_key,
    spoken_numbers_to_digits,
)

ANSWER_MIN_SCORE = 0.66  # best score needed to answer without asking back
ANSWER_MIN_LEAD = 0.12  # … and its lead over the next procedure
LONE_MIN_SCORE = 0.48  # a lower score is enough when no other procedure comes close:
LONE_MIN_LEAD = 0.15  # … a lead this large
LONE_MIN_COVER = 0.6  # … and most of one of its phrases said
CLARIFY_MIN_SCORE = 0.42  # below this the question is "not found"
CLARIFY_WINDOW = 0.15  # candidates this close to the best are offered together
MAX_CLARIFY = 3
KEYWORD_FACTOR = 0.45  # a keyword alone can make the box ask back, never answer
FUZZY_MIN_RATIO = 80  # rapidfuzz ratio needed to snap an unknown syllable to a known one
FUZZY_MIN_LENGTH = 4
PHRASE_COVER_BETA = 1.5  # covering the phrase matters more than covering the whole question
CHATTER_FACTOR = 0.25  # how much talk words count on the question's side
TONE_MISMATCH_CREDIT = 0.5  # same letters, other tones: maybe misheard, maybe another word
SUPPORT_BONUS = 0.15  # share of a second fitting phrase added to the best one
EXPLAINED_BONUS = 0.4  # share of the question explained by the procedure's other phrases
MAX_EXPLAINED = 15  # … looked at for the best procedures only: it only reorders close ones
UNKNOWN_WORD_SHARE = 0.5  # an unknown word counts as half as much as the rarest known one
RIVALS = 2  # runners-up whose names are checked against the best candidate
RIVAL_NAMED_SHARE = 0.2  # share of the question naming a rival, unexplained by the best: ask
# A procedure named in this share of a question about a referral's matter, by words the
# referral does not explain: the matter is only the setting of a procedure question.
REFERRAL_SETTING_SHARE = 0.1
AGE_CONFLICT_FACTOR = 0.6  # a phrase for another age ("con 14 tuổi" when "5 tuổi" was said)
AGE_NEAR_YEARS = 3  # "15 tuổi" is "từ đủ 14 tuổi"; "60 tuổi" is about more than reaching 14
OLD_AGE_YEARS = 75  # an old-age limit: "80 tuổi" is "từ đủ 75 tuổi", however far past it
AFTER_EXPLAINED = 0.5  # share of "… rồi thì <this>" / "<this> để …" the answer must explain
# A "lần đầu" procedure when the question says "cấp lại"; likewise a registration of what is
# registered already, a re-registration of what never was, a copy of a lost record, funeral
# costs when nobody died (device/situation.py reads those conditions).
FIRST_TIME_CONFLICT_FACTOR = 0.6
# "căn cước ghi sai quê quán": the record change is named by most of the words, but the card
# is what changes; lowered more than a first-time conflict, or the record still comes first.
CARD_CHANGE_FACTOR = 0.4
# "thẻ căn cước bị gãy đôi rồi đổi thẻ mới": a damaged card is re-issued, not exchanged nor
# issued as a first card, however the villager names it; lowered as much as a card change.
CARD_DAMAGE_FACTOR = CARD_CHANGE_FACTOR

# Words villagers wrap their question in: people, "want", "now", "then". They may appear in a
# procedure's name ("nhận cha, mẹ, con"), so they still match, but they count for little when
# measuring how much of the question a phrase explains.
_CHATTER_WORDS = (
    "tôi tui bác con cháu em anh chị ông bà mẹ bố ba má mệ nó mình chúng họ tụi nhà "
    "thì là mà của cho với ở và có không được phải muốn cần giờ bây chừ rồi đã sẽ đang "
    "này đó kia nào gì chi sao thế như vậy rứa cái những các xã đi lên về ra đây "
    "hồi xưa nay mới vừa lắm quá luôn nữa thằng đứa "
    # the same in the Centre and the South: "tau", "mi", "hắn", "ni", "tê", "mô", "hổng"…
    "tau mi hắn ni tê mô hổng hông ổng bả tía mạ bu bầm hở nhỉ chứ giùm dùm "
    # round 38: "thủ tục" says a procedure is asked, not which ("thủ tục khai tử theo quy
    # định nào" is not "làm thủ tục nhận con")
    "thủ tục"
)
# By spelling, not by sound: "cái" sounds like "khai", "họ" like "hộ", "nay" like "lại".
CHATTER_TONED = frozenset(normalize(_CHATTER_WORDS).split())
CHATTER_FOLDED = frozenset(fold_syllable(w) for w in CHATTER_TONED)


def _number_words_untoned(toned: tuple[str, ...]) -> list[str]:
    """Tens and the digits beside them without tones, so a misheard tone ("mưởi bốn",
    "sàu mươi") still reads as the number, not as "bốn" or "mười" alone."""
    folded = [fold_syllable(s) for s in toned]
    out = list(toned)
    for i, f in enumerate(folded):
        beside = [j for j in (i - 1, i + 1) if 0 <= j < len(out)]
        digits = [j for j in beside if number_word_value(folded[j]) is not None]
        if f != "muoi" or not (digits or folded[i + 1 : i + 2] == ["tuoi"]):
            continue  # "muối" (salt) is not a number
        out[i] = f
        for j in digits:
            out[j] = folded[j]
    return out


# "chưa tới 14 tuổi", "chưa đủ 6 tuổi": how villagers say the "dưới" of a procedure's name
UNDER_SAID = frozenset(
    (a, b) for a in ("chua", "khong", "hong", "hem") for b in ("toi", "den", "du", "tron", "day")
)


def _under_in_words(toned: list[str]) -> list[str]:
    """ "chưa tới 14 tuổi" written as "dưới 14 tuổi", the words of the procedure's name."""
    folded = [fold_syllable(s) for s in toned]
    out = list(toned)
    for i in range(len(toned) - 2, 1, -1):  # from the end: removing keeps earlier places
        if (
            toned[i].isdigit()
            and folded[i + 1] == "tuoi"
            and tuple(folded[i - 2 : i]) in UNDER_SAID
        ):
            out[i - 2 : i] = ["dưới"]
    return out


def _with_digits(utt: Utterance) -> Utterance:
    """Numbers said in words written as catalogues write them ("mười bốn" → "14")."""
    toned = tuple(_under_in_words(spoken_numbers_to_digits(_number_words_untoned(utt.toned))))
    if toned == utt.toned:
        return utt
    return Utterance(toned, tuple(fold_syllable(s) for s in toned), utt.has_tones)


def _lowered(score: np.ndarray, phrases: np.ndarray, factor: float) -> np.ndarray:
    """The phrase scores with those of `phrases` (positions) multiplied by `factor`."""
    score[phrases] *= factor
    return score


@dataclass(frozen=True)
class AgeLimit:
    """An age a phrase is for: "dưới 14 tuổi" (<), "từ đủ 14 tuổi" (>=), "con 14 tuổi" (=)."""

    op: str  # "<", ">", ">=" or "="
    years: int
    words: str  # how the phrase says it, given as official words to a question it fits

    def describes(self, age: int) -> bool:
        """Whether the phrase's words say what the age says: below a limit, just past one,
        or anywhere past an old-age one."""
        if age == self.years or not self.admits(age):
            return False  # the number itself was said, or the phrase is for another age
        return (
            self.op in ("<", "=")
            or age - self.years < AGE_NEAR_YEARS
            or self.years >= OLD_AGE_YEARS
        )

    def admits(self, age: int) -> bool:
        if self.op == "<":
            return age < self.years
        if self.op == ">":
            return age > self.years
        if self.op == ">=":
            return age >= self.years
        return age == self.years


def phrase_age_limits(toned: list[str]) -> list[AgeLimit]:
    """The ages a phrase names (its syllables with numbers already as digits)."""
    folded = [fold_syllable(s) for s in toned]
    out = []
    for i, syl in enumerate(toned):
        if not syl.isdigit() or folded[i + 1 : i + 2] != ["tuoi"]:
            continue
        before = folded[max(i - 2, 0) : i]
        start, op = i, "="
        if before[-1:] == ["duoi"]:
            start, op = i - 1, "<"
        elif before[-1:] == ["tren"]:
            start, op = i - 1, ">"
        elif before == ["tu", "du"]:
            start, op = i - 2, ">="
        elif before[-1:] in (["du"], ["tu"]):
            start, op = i - 1, ">="
        elif folded[i + 2 : i + 4] == ["tro", "len"]:
            op = ">="
        out.append(AgeLimit(op, int(syl), " ".join(toned[start : i + 2])))
    return out


_LIMIT_WORDS = frozenset(("duoi", "tren", "ngoai", "qua"))


def question_ages(utt: Utterance) -> list[tuple[int, int, int]]:
    """(age, start, end) for each age said: "5 tuổi", "tuổi 40", "mới lên ba", "lên 10".

    After "lên" a number is an age even without "tuổi" ("cháu lên ba"), which is how
    people say a small child's age.
    """
    folded = utt.folded
    out = []
    for i, syl in enumerate(utt.toned):
        prev = folded[i - 1] if i else ""
        nxt = folded[i + 1] if i + 1 < len(folded) else ""
        if prev in _LIMIT_WORDS:
            continue  # "dưới 6 tuổi" is a limit the villager names, not an age
        if syl.isdigit():
            if nxt == "tuoi":
                out.append((int(syl), i, i + 2))
            elif prev in ("tuoi", "len"):
                out.append((int(syl), i - 1, i + 1))
        elif prev == "len":
            value = number_word_value(syl)
            if value is not None and value > 1:
                out.append((value, i - 1, i + 1))
    return out


def _syllable(toned: str) -> Syllable:
    folded = fold_syllable(toned)
    return sound_key(folded), toned, folded


def _is_chatter(spelling: str | None, folded: str) -> bool:
    return spelling in CHATTER_TONED if spelling else folded in CHATTER_FOLDED


Syllable = tuple[str, str | None, str]  # sound key, toned spelling (None if unsure), folded


@dataclass(frozen=True)
class Candidate:
    code: str
    name: str
    score: float
    cover: float = 1.0  # share of the best phrase's weight that was said
    keyword: bool = False  # the best phrase is a keyword: enough to ask back, never to answer
    # Share of the question that names a runner-up (`rival`) and that this procedure's
    # phrases leave unexplained: the villager named two procedures, so the box asks back.
    contested: float = 0.0
    rival: str | None = None
    rivals: tuple[str, ...] = ()  # every runner-up named that much: all are offered back
    # A referral rival explains what the question says of this procedure's names too: "nhận
    # con nuôi" says "nhận … con" of "nhận cha, mẹ, con" and more of the rival's, adoption.
    rival_covers: bool = False


@dataclass(frozen=True)
class Decision:
    """The matcher's verdict on one utterance."""

    query: str
    action: str  # "answer" | "clarify" | "not_found" | "emergency"
    procedure: Procedure | None = None
    category: str | None = None
    candidates: tuple[Candidate, ...] = ()
    emergency: str | None = None  # "fire" | "medical" | "police" | "rescue"
    referral: Referral | None = None  # with "not_found": a known matter handled elsewhere

    @property
    def confidence(self) -> float:
        return self.candidates[0].score if self.candidates else 0.0

    def to_json(self) -> dict:
        proc = self.procedure
        return {
            "query": self.query,
            "action": self.action,
            "procedure": {"code": proc["code"], "name": proc["name"]} if proc else None,
            "category": self.category,
            "emergency": self.emergency,
            "referral": (
                {"id": self.referral["id"], "name": self.referral["name"]}
                if self.referral
                else None
            ),
            "candidates": [
                {"code": c.code, "name": c.name, "score": round(c.score, 3)}
                for c in self.candidates
            ],
        }


def procedure_phrases(proc: Procedure) -> list[tuple[str, float]]:
    """The phrases a procedure is known by (normalised, without repeats), with how strongly
    each one counts; the first two are its official and spoken names."""
    out = [(proc["name"], 1.0), (spoken_name(proc), 1.0)]
    out += [(alias, 1.0) for alias in proc.get("aliases", [])]
    out += [(kw, KEYWORD_FACTOR) for kw in proc.get("keywords", [])]
    seen: set[str] = set()
    unique = []
    for text, factor in out:
        key = normalize(text)
        if key and key not in seen:
            seen.add(key)
            unique.append((key, factor))
    return unique


REFERRAL_PREFIX = "ref."


def is_referral(code: str) -> bool:
    return code.startswith(REFERRAL_PREFIX)


def _referral_entry(referral: Referral) -> Procedure:
    """A referral in the shape the index reads: known by its name and aliases."""
    return {"code": referral["id"], "name": referral["name"], "aliases": referral["aliases"]}


def age_limits_by_phrase(
    phrases: list[tuple[int, str, float]], naming: list[bool]
) -> dict[int, list[AgeLimit]]:
    """Phrases naming an age, by position in `phrases` (= the index's phrase ids). A
    procedure whose name is for an age ("… cho người dưới 14 tuổi") passes its limits on to
    all its phrases: "làm căn cước" is for 14 and over there too."""
    limits_of = [
        phrase_age_limits(spoken_numbers_to_digits(text.split())) if _says_age(text) else []
        for _, text, _ in phrases
    ]
    named: dict[int, list[AgeLimit]] = defaultdict(list)
    for (proc, _, _), limits, names in zip(phrases, limits_of, naming, strict=True):
        if names:
            named[proc] += limits
    out: dict[int, list[AgeLimit]] = {}
    for pid, ((proc, _, _), limits) in enumerate(zip(phrases, limits_of, strict=True)):
        if limits or named.get(proc):
            out[pid] = limits or named[proc]
    return out


def _says_age(text: str) -> bool:
    """A cheap filter before reading numbers: most phrases name no age."""
    return "tuổi" in text or "tuoi" in text


CANDIDATES_KEPT = 10  # procedures a ranking returns
GRAM_TERMS_KEPT = 50_000  # syllables and pairs heard whose terms are remembered
MAX_PHRASES_PER_RANK = 12  # sorting only the best phrases is enough to find 10 procedures


def _best_first(score: np.ndarray, limit: int) -> np.ndarray:
    """Indices of the `limit` highest scores, best first (all of them if fewer); equal
    scores in the catalogue's order, whatever order the partition left them in."""
    if len(score) > limit:
        top = np.sort(np.argpartition(-score, limit)[:limit])
        return top[np.argsort(-score[top], kind="stable")]
    return np.argsort(-score, kind="stable")


class Matcher:
    """Ranks the procedures of one catalogue for an utterance. Build once per catalogue."""

    def __init__(self, catalogue: Catalogue):
        self.procedures: list[Procedure] = list(catalogue["procedures"])
        self.referrals: dict[str, Referral] = {r["id"]: r for r in catalogue.get("referrals", [])}
        # Referrals are ranked like procedures, so that a question about a passport is
        # recognised as such rather than matched to the nearest procedure.
        self._entries = self.procedures + [_referral_entry(r) for r in self.referrals.values()]
        self._by_code = {p["code"]: i for i, p in enumerate(self._entries)}
        phrases = []
        naming = []
        said_by_procedures: set[str] = set()
        for i, proc in enumerate(self._entries):
            names = {normalize(proc["name"]), normalize(spoken_name(proc))}
            for text, factor in procedure_phrases(proc):
                if i >= len(self.procedures) and text in said_by_procedures:
                    continue  # a procedure added since explains it: the referral steps aside
                said_by_procedures.add(text)
                phrases.append((i, text, factor))
                naming.append(text in names)
        self._index = PhraseIndex(phrases, len(self._entries), naming, len(self.procedures))
        self._referral_phrases = sum(1 for proc, _, _ in phrases if proc >= len(self.procedures))
        self._age_limits = age_limits_by_phrase(phrases, naming)
        # Procedures whose phrases rank() lowers when a question rules them out, kept as the
        # positions of those phrases in the index.
        phrases_of = self._index.phrases_of
        self._first_time = phrases_of(
            [i for i, proc in enumerate(self.procedures) if is_first_time(proc)]
        )
        self._after_death = frozenset(
            i for i, proc in enumerate(self.procedures) if is_after_death(proc)
        )
        registering: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, proc in enumerate(self.procedures):
            if thing := registered_thing(proc):
                registering[thing].append(i)
        self._registering = {t: phrases_of(ids) for t, ids in registering.items()}
        again: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, proc in enumerate(self.procedures):
            if thing := reregistered_thing(proc):
                again[thing].append(i)
        self._reregistering = {t: phrases_of(ids) for t, ids in again.items()}
        self._needing_the_record = phrases_of(
            [
                i
                for i, proc in enumerate(self.procedures)
                if registered_thing(proc) or fold(proc["name"]).startswith(COPYING)
            ]
        )
        # the newborn's bundles with and without permanent residence (2.000986, 2.001023)
        bundles = {i: is_bundle(proc) for i, proc in enumerate(self.procedures)}
        self._bundle = {
            holds: phrases_of([i for i, has in bundles.items() if has is holds])
            for holds in (True, False)
        }
        self._record_change = phrases_of(
            [i for i, proc in enumerate(self.procedures) if is_record_change(proc)]
        )
        self._card_not_reissued = phrases_of(
            [i for i, proc in enumerate(self.procedures) if is_card_not_reissued(proc)]
        )
        self._monthly = phrases_of(
            [i for i, proc in enumerate(self.procedures) if is_monthly_allowance(proc)]
        )
        sides: dict[str, list[int]] = defaultdict(list)
        for i, proc in enumerate(self.procedures):
            if side := life_side(proc):
                sides[side].append(i)
        self._other_side = {
            side: phrases_of([i for other, ids in sides.items() if other != side for i in ids])
            for side in sides
        }
        # Known syllables by first letter, so snapping a misheard one compares few strings.
        self._by_initial: dict[str, list[str]] = defaultdict(list)
        for syllable in self._index.syllables:
            self._by_initial[syllable[:1]].append(syllable)
        # Terms of the syllables and pairs heard so far: most questions repeat the words of
        # earlier ones ("làm", "giấy", "ở đâu"), and each is ranked once or more.
        self._gram_terms: dict[tuple[Syllable, ...], tuple[str, str | None, float] | None] = {}

    # -- the question's terms -------------------------------------------------------------

    def _heard_syllables(self, utt: Utterance) -> list[list[Syllable]]:
        """(sound key, toned spelling or None, folded spelling) per syllable heard, repaired.

        A syllable the catalogue never uses may be two run together ("khaisinh") or a near
        miss of a known one: split it, or snap it to the closest known syllable. One list per
        syllable of `utt`, so spans found on `utt` still point at the right ones.
        """
        out: list[list[Syllable]] = []
        known = self._index.known_keys
        for toned, folded in zip(utt.toned, utt.folded, strict=True):
            key = sound_key(folded)
            spelling = toned if utt.has_tones else None
            if key in known or len(folded) < FUZZY_MIN_LENGTH or not folded.isalpha():
                out.append([(key, spelling, folded)])
                continue
            split = self._split_merged(folded)
            if split:
                out.append([(sound_key(part), None, part) for part in split])
                continue
            best = process.extractOne(
                folded,
                self._by_initial.get(folded[:1], ()),
                scorer=fuzz.ratio,
                score_cutoff=FUZZY_MIN_RATIO,
            )
            if best:
                out.append([(self._index.syllables[best[0]], None, best[0])])
            else:
                out.append([(key, spelling, folded)])
        return out

    def _split_merged(self, syl: str) -> list[str] | None:
        known = self._index.known_keys
        for cut in range(2, len(syl) - 1):
            left, right = syl[:cut], syl[cut:]
            if sound_key(left) in known and sound_key(right) in known:
                return [left, right]
        return None

    def _terms(self, segment: list[Syllable]) -> list[tuple[str, str | None, float, int, int]]:
        """(sound-key term, exact term or None, weight, first, last) of a run of syllables.

        `first` and `last` are the positions in `segment` the term spans. A word the
        catalogue has never seen has no term to match (empty name) but still weighs: it is
        something said that no phrase explains ("con chó nhà hàng xóm sủa").
        """
        out = []
        n = len(segment)
        for first, last in [(i, i) for i in range(n)] + [(i, i + 1) for i in range(n - 1)]:
            gram = tuple(segment[first : last + 1])
            term = self._gram_terms.get(gram, False)
            if term is False:
                if len(self._gram_terms) >= GRAM_TERMS_KEPT:
                    self._gram_terms.clear()  # a box that has heard a great deal starts over
                term = self._gram_terms[gram] = self._gram_term(gram)
            if term is not None:
                out.append((*term, first, last))
        return out

    def _gram_term(self, gram: tuple[Syllable, ...]) -> tuple[str, str | None, float] | None:
        """_terms' (sound-key term, exact term, weight) of one syllable or pair; None for a
        pair the catalogue never says."""
        keys = [k for k, _, _ in gram]
        key_term = ("u:" if len(keys) == 1 else "b:") + "_".join(keys)
        factor = CHATTER_FACTOR if all(_is_chatter(s, f) for _, s, f in gram) else 1.0
        if not self._index.has(key_term):
            if len(keys) == 1:
                return ("", None, self._index.unknown_weight * UNKNOWN_WORD_SHARE * factor)
            return None
        weight = self._index.weight([f for _, _, f in gram], keys) * factor
        spellings = [s for _, s, _ in gram]
        exact = None
        if all(spellings):
            exact = ("t:" if len(keys) == 1 else "bt:") + "_".join(spellings)  # type: ignore[arg-type]
        return (key_term, exact, weight)

    def _age_words(self, ages: list[tuple[int, int, int]]) -> list[tuple[str, int, int]]:
        """Official words for the ages said: "5 tuổi" is "dưới 14 tuổi" and "dưới 6 tuổi"."""
        out = []
        for age, start, end in ages:
            fitting = {
                limit.words
                for limits in self._age_limits.values()
                for limit in limits
                if limit.op != "=" and limit.describes(age)
            }
            if fitting:
                out.append((" ".join(sorted(fitting)), start, end))
        return out

    def _age_conflicts(self, ages: list[tuple[int, int, int]]) -> np.ndarray:
        """Phrases naming an age that none of the ages said fits."""
        said = [age for age, _, _ in ages]
        return np.asarray(
            [
                pid
                for pid, limits in self._age_limits.items()
                if not any(limit.admits(age) for limit in limits for age in said)
            ],
            dtype=np.int32,
        )

    def _question(
        self, utt: Utterance, extra: list[tuple[str, int, int]] = ()
    ) -> tuple[list[QueryTerm], float]:
        """The question's terms with their shares and weights, and its total weight.

        Official words stand in for the everyday words they were found for ("chứng minh
        nhân dân" → "căn cước"): a phrase may match either, and the question's total grows
        only by what the official words weigh beyond the words heard, so saying one thing
        does not count as saying two.
        """
        heard = self._heard_syllables(utt)
        flat = [s for part in heard for s in part]
        owner = [i for i, part in enumerate(heard) for _ in part]  # flat position -> utt's
        synonyms = official_words(utt) + list(extra)
        group_at: dict[int, int] = {}
        for n, (_, start, end) in enumerate(synonyms, 1):
            for i in range(start, end):
                group_at.setdefault(i, n)  # where hits overlap, the first one owns the words
        terms: dict[str, QueryTerm] = {}
        total = 0.0

        def add(key_term: str, exact: str | None, weight: float, group: int) -> None:
            if key_term in terms:
                return
            if exact:
                # With tone marks heard, "bao" (bao nhiêu) is not "báo" (báo tử): a match
                # that only agrees once tones are dropped earns part of the credit.
                terms[key_term] = QueryTerm(key_term, TONE_MISMATCH_CREDIT, weight, group)
                terms[exact] = QueryTerm(exact, 1 - TONE_MISMATCH_CREDIT, weight, group)
            else:
                terms[key_term] = QueryTerm(key_term, 1.0, weight, group)

        for key_term, exact, weight, first, last in self._terms(flat):
            if key_term not in terms:
                total += weight
                if key_term:
                    group = group_at.get(owner[first], 0)
                    add(key_term, exact, weight, group if group == group_at.get(owner[last]) else 0)
        for group, (phrase, start, end) in enumerate(synonyms, 1):
            said = sum(t[2] for t in self._terms([s for part in heard[start:end] for s in part]))
            official = self._terms([_syllable(s) for s in normalize(phrase).split()])
            total += max(0.0, sum(t[2] for t in official) - said)
            for key_term, exact, weight, _, _ in official:
                if key_term:
                    add(key_term, exact, weight, -group)
        return [t for t in terms.values() if t.share > 0], total

    # -- ranking and deciding -------------------------------------------------------------

    def rank(
        self, utt: Utterance, among: set[str] | None = None, whole: Utterance | None = None
    ) -> list[Candidate]:
        """Procedures by score for an utterance (category words already removed), best first.
        `whole` is the question `utt` is a clause of: the ages it says still hold."""
        utt = _with_digits(utt)
        ages = question_ages(utt)
        ages_said = question_ages(_with_digits(whole)) if whole else ages
        query, total = self._question(utt, self._age_words(ages))
        scores = self._index.score(query, total)
        if scores is None:
            return []
        p, q = scores.phrase_cover, scores.question_cover
        beta2 = PHRASE_COVER_BETA**2
        score = scores.factor * (1 + beta2) * p * q / np.maximum(beta2 * q + p, 1e-9)
        if ages_said:
            # A phrase for another age ("làm căn cước cho con 14 tuổi" when the child is
            # five) is not what was asked, however many of its other words were said.
            score = _lowered(score, self._age_conflicts(ages_said), AGE_CONFLICT_FACTOR)
        if self._first_time.size and (says_again(utt) or copied_papers(utt)):
            # "sổ đỏ bị mất, xin cấp lại" is not "cấp sổ đỏ lần đầu", however alike, and
            # neither is "photo sổ đỏ rồi chứng thực": the paper is held already.
            score = _lowered(score, self._first_time, FIRST_TIME_CONFLICT_FACTOR)
        # "tiền chế độ thương binh tháng này bao giờ có": nobody died, no funeral costs. Few
        # procedures are for after a death, so their scores are lowered per procedure below.
        nobody_died = bool(self._after_death) and not says_someone_died(utt)
        unsaid = self._after_death if nobody_died else frozenset()
        if self._needing_the_record.size and says_record_lost(utt):
            # "giấy mất mà sổ ở xã cũng cháy": neither a copy nor a first registration.
            score = _lowered(score, self._needing_the_record, FIRST_TIME_CONFLICT_FACTOR)
        if self._record_change.size and says_card_changed(utt):
            # "căn cước ghi sai quê quán": the card is changed, not the civil-status record.
            score = _lowered(score, self._record_change, CARD_CHANGE_FACTOR)
        if self._card_not_reissued.size and says_card_damaged(utt):
            # "căn cước bị gãy đôi rồi đổi thẻ mới": re-issued (cấp lại), not exchanged.
            score = _lowered(score, self._card_not_reissued, CARD_DAMAGE_FACTOR)
        side = life_side_named(whole or utt)
        if side in self._other_side:
            # "ông cụ mất hơn một năm mà chưa khai tử": not a late birth registration. The
            # whole question says whose life it is, when only a part of it is ranked.
            score = _lowered(score, self._other_side[side], FIRST_TIME_CONFLICT_FACTOR)
        if self._monthly.size and says_death_registration_only(utt):
            # "bà cụ sống một mình mới mất, ai đi khai tử cho bà": no allowance for the dead.
            score = _lowered(score, self._monthly, FIRST_TIME_CONFLICT_FACTOR)
        residence = residence_in_bundle(whole or utt)
        if residence is not None and self._bundle[not residence].size:
            # "làm khai sinh với thẻ bảo hiểm y tế cho con, chưa nhập khẩu": the newborn's
            # bundle without residence; "khai sinh kèm nhập hộ khẩu kèm thẻ bảo hiểm": with it.
            score = _lowered(score, self._bundle[not residence], FIRST_TIME_CONFLICT_FACTOR)
        # "mất ba năm rồi mà chưa khai tử" is a late registration, not a lost record; "con đã
        # có giấy khai sinh, giờ bố nó muốn nhận con" is not a birth to register: what is
        # asked comes after.
        never_done, done = registrations_said(utt)
        for things, procedures in (
            (never_done, self._reregistering),
            (done, self._registering),
        ):
            for thing in things & procedures.keys():
                score = _lowered(score, procedures[thing], FIRST_TIME_CONFLICT_FACTOR)
        # Best phrase per procedure, plus a little for a second phrase that also fits: the
        # everyday procedure ("đăng ký khai tử") is usually named several ways in a question,
        # its special cases ("đăng ký lại khai tử") by one.
        best: dict[int, list[float]] = {}
        keyword: dict[int, bool] = {}
        # Referral phrases are looked at besides, not instead of, the best procedure phrases:
        # referrals must not change how procedures are ranked.
        limit, n_procedures = CANDIDATES_KEPT * MAX_PHRASES_PER_RANK, len(self.procedures)
        order = _best_first(score, limit=limit + self._referral_phrases)
        # Plain lists: reading numpy arrays one element at a time is slow.
        for proc, phrase_score, phrase_cover, question_cover, is_keyword in zip(
            scores.procs[order].tolist(),
            score[order].tolist(),
            p[order].tolist(),
            q[order].tolist(),
            (scores.factor[order] <= KEYWORD_FACTOR).tolist(),
            strict=True,
        ):
            if phrase_cover == 0.0:
                continue  # the phrase shares nothing with the question
            if proc < n_procedures:
                if limit == 0:
                    continue
                limit -= 1
            if proc not in best:
                best[proc] = [phrase_score, phrase_cover, 0.0, question_cover]
                keyword[proc] = is_keyword
            elif best[proc][2] == 0.0:
                best[proc][2] = phrase_score
        first_pass = sorted(
            (
                (
                    (first + SUPPORT_BONUS * second)
                    * (FIRST_TIME_CONFLICT_FACTOR if proc in unsaid else 1.0),
                    proc,
                    cover,
                    first_q,
                )
                for proc, (first, cover, second, first_q) in best.items()
                if among is None or self._entries[proc]["code"] in among
            ),
            reverse=True,
        )
        # Words of the question that other phrases of the same procedure explain ("mất"
        # beside "chứng minh nhân dân") tell sister procedures apart: looked at for the
        # best MAX_EXPLAINED procedures (and the referrals among them) only.
        looked_at, counted = 0, 0
        while looked_at < len(first_pass) and counted < MAX_EXPLAINED:
            counted += first_pass[looked_at][1] < n_procedures
            looked_at += 1
        shares = self._index.explained_many([e[1] for e in first_pass[:looked_at]], query, total)
        final = [
            (min(s + EXPLAINED_BONUS * max(share - first_q, 0.0), 1.0), proc, cover)
            for (s, proc, cover, first_q), share in zip(first_pass, shares, strict=False)
        ] + [(min(s, 1.0), proc, cover) for s, proc, cover, _ in first_pass[looked_at:]]
        final.sort(key=lambda f: -f[0])
        # Candidates up to the tenth procedure: dropping referrals (_without_settings) and
        # keeping ten then leaves the same list as doing it with all of them.
        ranked = []
        procedures_kept = 0
        for final_score, proc, cover in final:
            code, name = self._entries[proc]["code"], self._entries[proc]["name"]
            ranked.append(Candidate(code, name, final_score, cover, keyword[proc]))
            procedures_kept += proc < n_procedures
            if procedures_kept == CANDIDATES_KEPT:
                break
        if ranked and not is_referral(ranked[0].code):
            ranked = self._without_settings(ranked, query, total)
        if len(ranked) > 1:
            ranked[0] = self._contest(ranked, query, total, unsaid)
        return ranked[:CANDIDATES_KEPT]

    def _without_settings(
        self, ranked: list[Candidate], query: list[QueryTerm], total: float
    ) -> list[Candidate]:
        """The ranking without referrals that are only the setting of the best procedure:
        in "đi xuất khẩu lao động thì khai báo tạm vắng ở đâu" the procedure's name is said
        in words the referral does not explain, so the referral must not make the box ask
        back. Only names count here: aliases may hold words as loose as "thủ tục".
        """
        first = self._by_code[ranked[0].code]
        index = self._index
        return [
            c
            for c in ranked
            if not is_referral(c.code)
            or index.named_not_explained(first, self._by_code[c.code], query, total, 0.0)
            < REFERRAL_SETTING_SHARE
        ]

    def _contest(
        self,
        ranked: list[Candidate],
        query: list[QueryTerm],
        total: float,
        unsaid: frozenset[int],
    ) -> Candidate:
        """The best candidate, marked when the question also names a runner-up.

        "thẻ căn cước" in "tôi đổi tên rồi thì thẻ căn cước có phải làm lại không" is the
        name of "cấp đổi thẻ căn cước", and nothing of "thay đổi thông tin hộ tịch", which
        fits "đổi tên" best, explains it: answering either one would be a guess.
        """
        first = ranked[0]
        own = self._by_code[first.code]
        contested, rival, rivals = 0.0, None, []
        for other in ranked[1 : 1 + RIVALS]:
            if other.score < CLARIFY_MIN_SCORE:
                break
            if self._by_code[other.code] in unsaid:
                continue  # its condition was not said (funeral costs, and nobody died)
            share = self._index.named_not_explained(self._by_code[other.code], own, query, total)
            if share > contested:
                contested, rival = share, other.code
            if share >= RIVAL_NAMED_SHARE:
                rivals.append(other.code)
        names = self._index.named_not_explained
        covers = (
            rival is not None
            and is_referral(rival)
            and names(own, None, query, total, 0.0) > 0
            and not names(own, self._by_code[rival], query, total, 0.0)
        )
        return replace(
            first, contested=contested, rival=rival, rivals=tuple(rivals), rival_covers=covers
        )

    def match(self, text: str) -> Decision:
        """Understand one utterance: emergency, answer, clarify or not found."""
        utt = Utterance.of(text)
        emergency = detect_emergency(utt) or detect_taken_back_emergency(text)
        if emergency:
            return Decision(text, "emergency", emergency=emergency)
        # The first way of asking names the part wanted; none of them name the procedure
        # ("làm căn cước ở đâu, mất bao lâu").
        asked = category_hits(utt)
        category = asked[0].key if asked else None
        utt, heard = without_unwanted(remove_span(utt, *asked)), utt
        done = clause_before_result(heard)
        if done is not None:
            # "khai sinh xong thì được nhận giấy gì, có kèm bản sao không": the result of
            # the procedure before "xong thì" is asked; the copy is part of that result.
            asked_result = self.decide(
                text, self.rank(without_unwanted(done), whole=heard), "result"
            )
            if asked_result.action in ("answer", "clarify"):
                return asked_result
        decision = self.decide(text, self.rank(utt), category)
        # "kết hôn có cần giấy xác nhận độc thân không": the paper is not what is asked;
        # "bố mẹ đi làm ăn xa, ông bà đi khai sinh thay được không": nor is the absence.
        setting = papers_held_or_needed(heard) | away_for_work(heard)
        if setting and decision.action in ("answer", "clarify"):
            asked_at = {i for hit in asked for i in range(hit.start, hit.end)}
            rest = without_unwanted(remove_at(heard, asked_at | setting))
            other = self.decide(text, self.rank(rest, whole=heard), category)
            if self._names_another(decision, other, rest):
                decision, utt = other, rest
        who = clause_after_who(utt)
        if who is not None:
            # "… mới mất thì ai đi khai tử cho bà": who does it is asked of what follows.
            # Only a procedure the whole question also put forward, and first when it asked
            # back, and named there by its own name: in "khai tử cho ông ngoại thì ai đi
            # khai cũng được hay phải con ruột" the words after "thì ai" name nothing.
            done_by = self.decide(text, self.rank(who, whole=utt), category)
            offered = [c.code for c in decision.candidates]
            if decision.action == "clarify":
                offered = offered[:1]
            if (
                done_by.action == "answer"
                and done_by.procedure["code"] in offered
                and self._names(done_by.procedure["code"], who)
            ):
                decision = done_by
        decision = self._asked_in(clause_after_done(utt), decision, utt)
        decision = self._asked_in(clause_before_purpose(utt), decision, utt)
        if decision.action == "clarify":  # only then is the order of those offered read
            decision = self._asked_first(clause_before_purpose_asked(utt, heard), decision, utt)
        wanted = clause_after_want(utt) if decision.action == "not_found" else None
        if wanted is not None and decision.referral is None:
            # A story the whole of which names nothing clearly: what follows "muốn" may, when
            # it puts forward the procedure the whole ranked first.
            other = self.decide(text, self.rank(wanted, whole=utt), category)
            first = decision.candidates[0].code if decision.candidates else None
            if other.action in ("answer", "clarify") and first in {
                c.code for c in other.candidates[:MAX_CLARIFY]
            }:
                decision = other
        if decision.action == "not_found" and decision.referral is None:
            # Nothing the box handles was asked: harm described, not named, is an emergency.
            distress = detect_distress(heard)
            if distress:
                return Decision(text, "emergency", emergency=distress)
        return decision

    def _names_another(self, decision: Decision, other: Decision, rest: Utterance) -> bool:
        """Whether the question without its setting names what is asked better: it answers
        one of the procedures offered, or it offers others than a procedure the setting
        alone made the answer ("bố mẹ đi làm ăn xa" is not "khai báo tạm vắng" then), and
        names the first of them ("khai sinh"), not only a stray word of it ("báo")."""
        offered = {c.code for c in decision.candidates[:MAX_CLARIFY]}
        if other.action == "answer":
            return decision.action == "answer" or other.procedure["code"] in offered
        if other.action != "clarify" or decision.procedure is None:
            return False
        answered = decision.procedure["code"]
        if answered in {c.code for c in other.candidates}:
            return False
        query, total = self._question(rest)
        first, own = self._by_code[other.candidates[0].code], self._by_code[answered]
        return self._index.named_not_explained(first, own, query, total) >= RIVAL_NAMED_SHARE

    def _names(self, code: str, clause: Utterance) -> bool:
        """Whether the clause names the procedure by its official or spoken name."""
        query, total = self._question(clause)
        named = self._index.named_not_explained(self._by_code[code], None, query, total, 0.0)
        return named >= RIVAL_NAMED_SHARE

    def _asked_in(self, clause: Utterance | None, decision: Decision, utt: Utterance) -> Decision:
        """Ask back when the clause that holds the question names another procedure.

        "Mới sửa năm sinh trong khai sinh xong thì căn cước đổi thế nào": the words before
        "xong thì" tell what was done (cải chính), those after it what is asked (cấp đổi
        căn cước). "Tách hộ để được xét hộ nghèo": the words before "để" are what is asked,
        those after it why. If that clause names a procedure clearly and it is not the one
        the whole question was answered with, the box offers both rather than guessing.
        """
        if decision.action != "answer" or decision.procedure is None or clause is None:
            return decision
        answered = decision.procedure["code"]
        asked = self._other_asked_in(clause, answered, utt)
        if asked is None or asked.score < ANSWER_MIN_SCORE:
            return decision
        first = next(c for c in decision.candidates if c.code == answered)
        return replace(decision, action="clarify", procedure=None, candidates=(asked, first))

    def _other_asked_in(self, clause: Utterance, code: str, utt: Utterance) -> Candidate | None:
        """The procedure the clause ranks first, when it is not `code` and `code` does not
        explain the clause already ("… rồi thì đi khai sinh" is khai sinh's own clause)."""
        query, total = self._question(clause)
        if self._index.explained(self._by_code[code], query, total) >= AFTER_EXPLAINED:
            return None
        asked = [c for c in self.rank(clause, whole=utt) if not is_referral(c.code)]
        if not asked or asked[0].code == code:
            return None
        return asked[0]

    def _asked_first(
        self, clause: Utterance | None, decision: Decision, utt: Utterance
    ) -> Decision:
        """When the box asks back, offer first what the clause that holds the question names.

        Round 38: "ông tôi mất năm chín mươi, có khai tử rồi mà giấy mất, sổ xã cũng không
        còn, muốn làm lại để chia đất": dividing the land (2.001406) is why; re-registering
        the death (1.005461) is what is asked, named before "để". The box still asks back,
        but offers that one first; added to those offered only when the clause names it.
        """
        if decision.action != "clarify" or clause is None:
            return decision
        asked = self._other_asked_in(clause, decision.candidates[0].code, utt)
        if asked is None or asked.score < CLARIFY_MIN_SCORE:
            return decision
        offered = {c.code for c in decision.candidates}
        if asked.code not in offered and not self._names(asked.code, clause):
            # Only a procedure named there is added to those offered: "ba mất hổng để di
            # chúc, muốn làm giấy chia đất" puts nothing forward before "để".
            return decision
        rest = [c for c in decision.candidates if c.code != asked.code]
        return replace(decision, candidates=(asked, *rest)[:MAX_CLARIFY])

    def decide(self, text: str, ranked: list[Candidate], category: str | None) -> Decision:
        procedures = [c for c in ranked if not is_referral(c.code)]
        top = tuple(procedures[:5])
        if not ranked or ranked[0].score < CLARIFY_MIN_SCORE:
            return Decision(text, "not_found", category=category, candidates=top)
        first = ranked[0]
        referral = self.referrals.get(first.code)
        named = first.rival is not None and not is_referral(first.rival)
        if referral and named and first.contested >= REFERRAL_SETTING_SHARE:
            # The matter is the setting ("đi xuất khẩu lao động thì có phải khai báo tạm
            # vắng không"); the procedure also named is the question.
            return self.decide(text, procedures, category)
        lead = first.score - (ranked[1].score if len(ranked) > 1 else 0.0)
        # A keyword alone ("tiệm", "quán") may be what was meant; the box asks first, even
        # when other words of the question lifted its score.
        clear_winner = (
            first.score >= ANSWER_MIN_SCORE and lead >= ANSWER_MIN_LEAD and not first.keyword
        )
        lone_winner = (
            not first.keyword
            and first.score >= LONE_MIN_SCORE
            and lead >= LONE_MIN_LEAD
            and first.cover >= LONE_MIN_COVER
        )
        contested = first.contested >= RIVAL_NAMED_SHARE
        named_referral = self.referrals.get(first.rival or "")
        rival_score = next((c.score for c in ranked if c.code == first.rival), 0.0)
        if (
            named_referral
            and first.rival_covers
            and first.contested >= REFERRAL_SETTING_SHARE
            and rival_score >= first.score - CLARIFY_WINDOW
        ):
            # "nhận con nuôi thì làm thủ tục chi": the matter handled elsewhere is what was
            # said, the procedure only a part of its words. The box says where to ask.
            return Decision(text, "not_found", None, category, top, referral=named_referral)
        if referral and (clear_winner or lone_winner):
            # A matter the catalogue knows it does not explain: say where to ask. The box
            # names the matter, so a villager who meant something else hears it.
            return Decision(text, "not_found", None, category, top, referral=referral)
        if (clear_winner or lone_winner) and not contested:
            return Decision(text, "answer", self.procedure(first.code), category, top)
        close = [
            c
            for c in procedures
            if c.score >= max(first.score - CLARIFY_WINDOW, CLARIFY_MIN_SCORE)
            or (contested and c.code in first.rivals)  # the rival is among them
        ]
        if not close:  # only an unsure referral came close
            return Decision(text, "not_found", category=category, candidates=top)
        return Decision(text, "clarify", None, category, tuple(close[:MAX_CLARIFY]))

    def procedure(self, code: str) -> Procedure:
        return self.procedures[self._by_code[code]]

    def has(self, code: str) -> bool:
        return code in self._by_code and not is_referral(code)
