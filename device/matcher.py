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

import math
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import pairwise

from rapidfuzz import fuzz, process

from hoixa.contract.catalogue import Catalogue, Procedure, spoken_name
from hoixa.device.intents import Utterance, detect_category, detect_emergency, remove_span
from hoixa.device.synonyms import official_words
from hoixa.vietnamese import fold, fold_syllable, normalize, sound_key

ANSWER_MIN_SCORE = 0.68  # best score needed to answer without asking back
ANSWER_MIN_LEAD = 0.1  # … and its lead over the next procedure
LONE_MIN_SCORE = 0.48  # a lower score is enough when no other procedure comes close:
LONE_MIN_LEAD = 0.15  # … a lead this large
LONE_MIN_COVER = 0.5  # … and most of one of its phrases said
CLARIFY_MIN_SCORE = 0.4  # below this the question is "not found"
CLARIFY_WINDOW = 0.15  # candidates this close to the best are offered together
MAX_CLARIFY = 3
KEYWORD_FACTOR = 0.45  # a keyword alone can make the box ask back, never answer
BIGRAM_FACTOR = 0.8
FUZZY_MIN_RATIO = 80  # rapidfuzz ratio needed to snap an unknown syllable to a known one
FUZZY_MIN_LENGTH = 4
COMMON_TERM_SHARE = 0.05  # terms in more procedures than this don't generate candidates
PHRASE_COVER_BETA = 1.5
CHATTER_FACTOR = 0.25  # how much talk words count on the question's side
TONE_MISMATCH_CREDIT = 0.5  # same letters, other tones: maybe misheard, maybe another word
UNKNOWN_WORD_SHARE = 0.5  # an unknown word counts as half a word found in one procedure

# Words villagers wrap their question in: people, "want", "now", "then". They may appear in a
# procedure's name ("nhận cha, mẹ, con"), so they still match, but they count for little when
# measuring how much of the question a phrase explains.
CHATTER = frozenset(
    sound_key(w)
    for w in [
        "tôi",
        "tui",
        "bác",
        "con",
        "cháu",
        "em",
        "anh",
        "chị",
        "ông",
        "bà",
        "mẹ",
        "bố",
        "ba",
        "má",
        "mệ",
        "nó",
        "mình",
        "chúng",
        "họ",
        "tụi",
        "nhà",
        "thì",
        "là",
        "mà",
        "của",
        "cho",
        "với",
        "ở",
        "và",
        "có",
        "không",
        "được",
        "phải",
        "muốn",
        "cần",
        "giờ",
        "bây",
        "chừ",
        "rồi",
        "đã",
        "sẽ",
        "đang",
        "này",
        "đó",
        "kia",
        "nào",
        "gì",
        "chi",
        "sao",
        "thế",
        "như",
        "vậy",
        "rứa",
        "cái",
        "những",
        "các",
        "xã",
        "đi",
        "lên",
        "về",
        "ra",
        "đây",
        "hồi",
        "xưa",
        "nay",
        "mới",
        "vừa",
        "lắm",
        "quá",
        "luôn",
        "nữa",
        "thằng",
        "đứa",
    ]
)


@dataclass(frozen=True)
class Candidate:
    code: str
    name: str
    score: float
    cover: float = 1.0  # share of the best phrase's weight that was said


@dataclass(frozen=True)
class Decision:
    """The matcher's verdict on one utterance."""

    query: str
    action: str  # "answer" | "clarify" | "not_found" | "emergency"
    procedure: Procedure | None = None
    category: str | None = None
    candidates: tuple[Candidate, ...] = ()
    emergency: str | None = None  # "fire" | "medical" | "police" | "rescue"

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
            "candidates": [
                {"code": c.code, "name": c.name, "score": round(c.score, 3)}
                for c in self.candidates
            ],
        }


@dataclass
class _Phrase:
    proc: int
    terms: dict[str, float]
    total: float
    factor: float
    spellings: dict[str, set[str]]  # sound key -> the toned syllables written for it


@dataclass
class _Index:
    phrases: list[_Phrase] = field(default_factory=list)
    postings: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    weights: dict[str, float] = field(default_factory=dict)
    common: set[str] = field(default_factory=set)
    syllables: dict[str, str] = field(default_factory=dict)  # folded syllable -> sound key


def _keys(folded_syllables: list[str]) -> list[str]:
    # Keys are taken from the folded spelling on purpose: recognisers and people typing without
    # tone marks write "đ" as "d", so the matcher cannot tell them apart either.
    return [sound_key(s) for s in folded_syllables]


def _spellings(keys: list[str], toned: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for key, syllable in zip(keys, toned, strict=True):
        out[key].add(syllable)
    return dict(out)


def _terms(keys: list[str]) -> set[str]:
    terms = {f"u:{k}" for k in keys}
    terms.update(f"b:{a}_{b}" for a, b in pairwise(keys))
    return terms


def procedure_phrases(proc: Procedure) -> list[tuple[str, float]]:
    """The phrases a procedure is known by, with how strongly each one counts."""
    out = [(proc["name"], 1.0), (spoken_name(proc), 1.0)]
    out += [(alias, 1.0) for alias in proc.get("aliases", [])]
    out += [(kw, KEYWORD_FACTOR) for kw in proc.get("keywords", [])]
    seen: set[str] = set()
    unique = []
    for text, factor in out:
        key = normalize(text)
        if key and key not in seen:
            seen.add(key)
            unique.append((text, factor))
    return unique


class Matcher:
    """Ranks the procedures of one catalogue for an utterance. Build once per catalogue."""

    def __init__(self, catalogue: Catalogue):
        self.procedures: list[Procedure] = list(catalogue["procedures"])
        self._by_code = {p["code"]: i for i, p in enumerate(self.procedures)}
        self._index = self._build()

    def _build(self) -> _Index:
        index = _Index()
        per_proc_terms: list[set[str]] = [set() for _ in self.procedures]
        raw: list[tuple[int, set[str], float, dict[str, set[str]]]] = []
        for i, proc in enumerate(self.procedures):
            for text, factor in procedure_phrases(proc):
                toned = normalize(text).split()
                folded = [fold_syllable(s) for s in toned]
                for s in folded:
                    index.syllables.setdefault(s, sound_key(s))
                keys = _keys(folded)
                terms = _terms(keys)
                per_proc_terms[i] |= terms
                raw.append((i, terms, factor, _spellings(keys, toned)))
        df: dict[str, int] = defaultdict(int)
        for terms in per_proc_terms:
            for t in terms:
                df[t] += 1
        n = max(len(self.procedures), 1)
        for t, count in df.items():
            weight = math.log(1 + n / count)
            index.weights[t] = weight * (BIGRAM_FACTOR if t.startswith("b:") else 1.0)
        common_limit = max(50, COMMON_TERM_SHARE * n)
        index.common = {t for t, count in df.items() if count > common_limit}
        for proc_i, terms, factor, spellings in raw:
            weighted = {t: index.weights[t] for t in terms}
            pid = len(index.phrases)
            index.phrases.append(
                _Phrase(proc_i, weighted, sum(weighted.values()), factor, spellings)
            )
            for t in terms:
                index.postings[t].append(pid)
        self._unknown_weight = UNKNOWN_WORD_SHARE * math.log(1 + n)
        self._known_syllables = list(index.syllables)
        self._known_keys = set(index.syllables.values())
        return index

    # -- query side ---------------------------------------------------------------------

    def _query_keys(self, folded: tuple[str, ...]) -> list[str]:
        """Sound keys of the query, with merged syllables split and near misses snapped."""
        keys: list[str] = []
        for syl in folded:
            key = sound_key(syl)
            if key in self._known_keys or len(syl) < FUZZY_MIN_LENGTH:
                keys.append(key)
                continue
            split = self._split_merged(syl)
            if split:
                keys.extend(split)
                continue
            best = process.extractOne(
                syl, self._known_syllables, scorer=fuzz.ratio, score_cutoff=FUZZY_MIN_RATIO
            )
            keys.append(self._index.syllables[best[0]] if best else key)
        return keys

    def _split_merged(self, syl: str) -> list[str] | None:
        for cut in range(2, len(syl) - 1):
            left, right = sound_key(syl[:cut]), sound_key(syl[cut:])
            if left in self._known_keys and right in self._known_keys:
                return [left, right]
        return None

    @staticmethod
    def _tone_credit(term: str, phrase: _Phrase, heard: dict[str, set[str]]) -> float:
        for key in term[2:].split("_"):
            said, written = heard.get(key), phrase.spellings.get(key)
            if said is not None and written is not None and not said & written:
                return TONE_MISMATCH_CREDIT
        return 1.0

    def _query_weight(self, term: str) -> float:
        weight = self._index.weights[term]
        keys = term[2:].split("_")
        return weight * CHATTER_FACTOR if all(k in CHATTER for k in keys) else weight

    def rank(self, utt: Utterance, among: set[str] | None = None) -> list[Candidate]:
        """Procedures by score for an utterance (category words already removed), best first."""
        keys = self._query_keys(utt.folded)
        index = self._index
        terms = _terms(keys)
        for phrase in official_words(utt):
            terms |= _terms(_keys(fold(phrase).split()))
        query_terms = {t: self._query_weight(t) for t in terms if t in index.weights}
        if not query_terms:
            return []
        # Words the catalogue has never seen still count as something said that no phrase
        # explains ("con chó nhà hàng xóm sủa cả đêm" is not about a land dispute).
        unknown = [k for k in set(keys) if f"u:{k}" not in index.weights]
        query_weight = sum(query_terms.values()) + sum(
            self._unknown_weight * (CHATTER_FACTOR if k in CHATTER else 1.0) for k in unknown
        )
        seed_terms = [t for t in query_terms if t not in index.common] or list(query_terms)
        # With tone marks in the question, "bao" (bao nhiêu) is not "báo" (báo tử): a match that
        # only agrees once tones are dropped earns part of the credit.
        heard = _spellings(_keys(list(utt.folded)), list(utt.toned)) if utt.has_tones else None
        candidates: set[int] = set()
        for t in seed_terms:
            candidates.update(index.postings[t])
        best: dict[int, tuple[float, float]] = {}
        for pid in candidates:
            phrase = index.phrases[pid]
            if among is not None and self.procedures[phrase.proc]["code"] not in among:
                continue
            shared = [t for t in phrase.terms if t in query_terms]
            if not shared:
                continue
            credit = {t: self._tone_credit(t, phrase, heard) for t in shared} if heard else None
            p_cov = sum(phrase.terms[t] * (credit[t] if credit else 1) for t in shared)
            q_cov = sum(query_terms[t] * (credit[t] if credit else 1) for t in shared)
            p_cov, q_cov = p_cov / phrase.total, q_cov / query_weight
            beta2 = PHRASE_COVER_BETA**2
            score = phrase.factor * (1 + beta2) * p_cov * q_cov / (beta2 * q_cov + p_cov)
            if score > best.get(phrase.proc, (0.0, 0.0))[0]:
                best[phrase.proc] = (score, p_cov)
        ranked = sorted(best.items(), key=lambda item: -item[1][0])[:10]
        return [
            Candidate(self.procedures[i]["code"], self.procedures[i]["name"], score, cover)
            for i, (score, cover) in ranked
        ]

    def match(self, text: str) -> Decision:
        """Understand one utterance: emergency, answer, clarify or not found."""
        utt = Utterance.of(text)
        emergency = detect_emergency(utt)
        if emergency:
            return Decision(text, "emergency", emergency=emergency)
        category_hit = detect_category(utt)
        category = category_hit.key if category_hit else None
        if category_hit:
            utt = remove_span(utt, category_hit)
        ranked = self.rank(utt)
        return self.decide(text, ranked, category)

    def decide(self, text: str, ranked: list[Candidate], category: str | None) -> Decision:
        top = tuple(ranked[:5])
        if not ranked or ranked[0].score < CLARIFY_MIN_SCORE:
            return Decision(text, "not_found", category=category, candidates=top)
        first = ranked[0]
        runner_up = ranked[1].score if len(ranked) > 1 else 0.0
        lead = first.score - runner_up
        if (first.score >= ANSWER_MIN_SCORE and lead >= ANSWER_MIN_LEAD) or (
            first.score >= LONE_MIN_SCORE
            and lead >= LONE_MIN_LEAD
            and first.cover >= LONE_MIN_COVER
        ):
            return Decision(text, "answer", self.procedure(first.code), category, top)
        close = [c for c in ranked if c.score >= first.score - CLARIFY_WINDOW]
        close = [c for c in close if c.score >= CLARIFY_MIN_SCORE][:MAX_CLARIFY]
        return Decision(text, "clarify", None, category, tuple(close))

    def procedure(self, code: str) -> Procedure:
        return self.procedures[self._by_code[code]]

    def has(self, code: str) -> bool:
        return code in self._by_code
