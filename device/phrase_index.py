"""The matcher's index: every phrase of every procedure as weighted terms, scored in bulk.

A phrase ("làm giấy khai sinh") becomes terms: one per syllable's sound key ("u:nam",
"u:zai", …), one per pair of neighbouring keys ("b:khai_xin"), and the same two again with the
exact toned spelling ("t:làm", "bt:khai_sinh"). A term's weight is how rare it is across
procedures. For each term the index keeps numpy arrays of the phrases holding it, so scoring a
question against 10,000 procedures is a few array sums rather than a Python loop per phrase:
that is what keeps a Raspberry Pi answering in milliseconds.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from hoixa.vietnamese import fold_syllable, normalize, sound_key, spoken_numbers_to_digits

BIGRAM_FACTOR = 0.8  # a pair of syllables in order counts a little less than a syllable
# Verbs of asking that any procedure may or may not be named with ("đăng ký khai tử", "làm
# khai tử", "khai tử"): a phrase that has them loses little when they are not said.
GENERIC_WORDS = frozenset(normalize("đăng ký làm mần cấp xin giấy").split())
GENERIC_FACTOR = 0.5
ALIAS_NAMING_SHARE = 0.5  # how much a rival's alias names it, next to its official name
# A word only the uncounted entries (referrals) use weighs what a word no procedure uses
# weighs in a question (matcher.UNKNOWN_WORD_SHARE): knowing "hộ chiếu" for a referral must
# not make it count more against the procedures in "bản sao khai sinh để làm hộ chiếu".
UNCOUNTED_SHARE = 0.5


def key_terms(keys: list[str]) -> list[str]:
    return [f"u:{k}" for k in keys] + [f"b:{a}_{b}" for a, b in pairwise(keys)]


@dataclass(frozen=True)
class QueryTerm:
    """One term of a question: `share` of its credit, and its weight on the question's side."""

    term: str
    share: float
    weight: float
    # Everyday words and the official words found for them are alternatives: +n marks the
    # words heard in the n-th such span, -n the official words added for it (0: neither).
    group: int = 0


@dataclass(frozen=True)
class PhraseScores:
    """Per phrase of the index, in the order phrases were given to it: its procedure and how
    much of it the question covers. A phrase sharing nothing with the question covers 0.

    Every phrase rather than only those hit: at 10,000 procedures most phrases share a word
    with any question ("giấy"), and picking the hit ones out cost more than it saved.
    """

    procs: np.ndarray
    phrase_cover: np.ndarray  # share of the phrase's weight that was said
    question_cover: np.ndarray  # share of the question's weight the phrase explains
    factor: np.ndarray


class PhraseIndex:
    """Weighted terms of all phrases; built once per catalogue.

    Terms MATCH by sound key but WEIGH by spelling: "vắng" and "dân" share the key "zan", yet
    "vắng" is in one procedure and "dân" in dozens, so a match on "vắng" counts for much more.
    """

    def __init__(
        self,
        phrases: list[tuple[int, str, float]],
        n_procedures: int,
        naming: list[bool] | None = None,
        rarity_from: int | None = None,
    ):
        """`phrases`: (procedure index, text, strength factor) for every phrase; `naming`:
        which of them name the procedure (official or spoken name, not an alias).

        `rarity_from`: only procedures with a lower index count when weighing words by
        rarity; the others (the catalogue's referrals) must not change how procedures are
        told apart (words only they use weigh UNCOUNTED_SHARE of the rarest)."""
        counted = n_procedures if rarity_from is None else rarity_from
        self.n_procedures = max(counted, 1)
        self.syllables: dict[str, str] = {}  # folded syllable -> sound key
        parsed = []
        spelled: dict[int, set[str]] = defaultdict(set)
        keyed: dict[int, set[str]] = defaultdict(set)
        for proc, text, factor in phrases:
            toned = spoken_numbers_to_digits(normalize(text).split())
            folded = [fold_syllable(s) for s in toned]
            keys = [sound_key(s) for s in folded]
            for syl, key in zip(folded, keys, strict=True):
                self.syllables.setdefault(syl, key)
            parsed.append((proc, toned, folded, keys, factor))
            spelled[proc].update(key_terms(folded))
            keyed[proc].update(key_terms(keys))
        self._weight_cache: dict[tuple[str, ...], float] = {}
        self._spelled_idf = self._idf(spelled, counted)
        self._keyed_idf = self._idf(keyed, counted)
        self.known_keys = frozenset(self.syllables.values())
        self.unknown_weight = math.log(1 + self.n_procedures)  # as rare as a word can be
        self._build_postings(parsed, naming or [False] * len(phrases))

    def _idf(self, term_sets: dict[int, set[str]], counted: int) -> dict[str, float]:
        df: dict[str, int] = defaultdict(int)
        for proc, terms in term_sets.items():
            for term in terms:
                df[term] += proc < counted
        rarest = math.log(1 + self.n_procedures)
        return {
            t: math.log(1 + self.n_procedures / c) if c else rarest * UNCOUNTED_SHARE
            for t, c in df.items()
        }

    def weight(self, folded: list[str], keys: list[str]) -> float:
        """How much a syllable (or a pair) tells, from its spelling, else from its sound."""
        cache_key = (*folded, *keys)
        cached = self._weight_cache.get(cache_key)
        if cached is None:
            cached = self._weight_cache[cache_key] = self._compute_weight(folded, keys)
        return cached

    def _compute_weight(self, folded: list[str], keys: list[str]) -> float:
        if len(folded) == 1:
            return self._spelled_idf.get(f"u:{folded[0]}") or self._keyed_idf[f"u:{keys[0]}"]
        pair = self._spelled_idf.get(f"b:{folded[0]}_{folded[1]}") or self._keyed_idf.get(
            f"b:{keys[0]}_{keys[1]}", 0.0
        )
        # A rare pair of common syllables ("báo tạm") is not rare information: a pair weighs
        # at most the mean of its two syllables.
        mean = (self.weight(folded[:1], keys[:1]) + self.weight(folded[1:], keys[1:])) / 2
        return BIGRAM_FACTOR * min(pair, mean)

    def _build_postings(self, parsed, naming: list[bool]) -> None:
        """Flat (term, phrase, weight) triples, grouped by term into numpy arrays."""
        term_ids: dict[str, int] = {}
        triple_terms: list[int] = []
        triple_phrases: list[int] = []
        triple_weights: list[float] = []
        totals, procs, factors = [], [], []
        proc_terms: dict[int, set[str]] = defaultdict(set)
        name_terms: dict[int, set[str]] = defaultdict(set)
        alias_terms: dict[int, set[str]] = defaultdict(set)  # aliases, not keywords
        for pid, (proc, toned, folded, keys, factor) in enumerate(parsed):
            seen: set[str] = set()
            phrase_terms: list[str] = []
            total = 0.0
            n = len(keys)
            for start, size in [(i, 1) for i in range(n)] + [(i, 2) for i in range(n - 1)]:
                end = start + size
                key_term = ("u:" if size == 1 else "b:") + "_".join(keys[start:end])
                if key_term in seen:
                    continue
                seen.add(key_term)
                weight = self.weight(folded[start:end], keys[start:end])
                if all(s in GENERIC_WORDS for s in toned[start:end]):
                    weight *= GENERIC_FACTOR
                total += weight
                exact_term = ("t:" if size == 1 else "bt:") + "_".join(toned[start:end])
                phrase_terms += (key_term, exact_term)
                for term in (key_term, exact_term):
                    triple_terms.append(term_ids.setdefault(term, len(term_ids)))
                    triple_phrases.append(pid)
                    triple_weights.append(weight)
            proc_terms[proc].update(phrase_terms)
            if naming[pid]:
                name_terms[proc].update(phrase_terms)
            elif factor == 1.0:
                alias_terms[proc].update(phrase_terms)
            totals.append(total)
            procs.append(proc)
            factors.append(factor)
        terms = np.asarray(triple_terms, dtype=np.int32)
        order = np.argsort(terms, kind="stable")
        phrases = np.asarray(triple_phrases, dtype=np.int32)[order]
        weights = np.asarray(triple_weights, dtype=np.float64)[order]
        bounds = np.searchsorted(terms[order], np.arange(len(term_ids) + 1))
        self._postings = {
            term: (phrases[bounds[i] : bounds[i + 1]], weights[bounds[i] : bounds[i + 1]])
            for term, i in term_ids.items()
        }
        self._proc_terms = {proc: frozenset(terms) for proc, terms in proc_terms.items()}
        self._name_terms = {proc: frozenset(terms) for proc, terms in name_terms.items()}
        self._alias_terms = {proc: frozenset(terms) for proc, terms in alias_terms.items()}
        self._totals = np.asarray(totals, dtype=np.float64)
        self._procs = np.asarray(procs, dtype=np.int32)
        self._factors = np.asarray(factors, dtype=np.float64)

    def explained(self, proc: int, query: list[QueryTerm], question_weight: float) -> float:
        """Share of the question's weight that any phrase of procedure `proc` explains."""
        return self.explained_many([proc], query, question_weight)[0]

    def explained_many(
        self, procs: list[int], query: list[QueryTerm], question_weight: float
    ) -> list[float]:
        """`explained` for several procedures, reading the question once."""
        if question_weight <= 0:
            return [0.0] * len(procs)
        heard = {q.term: (i, q.group, q.weight * q.share) for i, q in enumerate(query)}
        said = frozenset(heard)
        out = []
        for proc in procs:
            matched = 0.0
            alternatives: dict[int, float] = {}
            # in the question's order, so that sums come out the same whichever way they are
            # worked out
            for _, group, credit in sorted(
                heard[t] for t in said & self._proc_terms.get(proc, frozenset())
            ):
                if group:
                    alternatives[group] = alternatives.get(group, 0.0) + credit
                else:
                    matched += credit
            for group, credit in alternatives.items():
                if group > 0:
                    matched += max(credit, alternatives.get(-group, 0.0))
                elif -group not in alternatives:
                    matched += credit
            out.append(min(matched / question_weight, 1.0))
        return out

    def named_not_explained(
        self,
        rival: int,
        proc: int | None,
        query: list[QueryTerm],
        question_weight: float,
        alias_share: float = ALIAS_NAMING_SHARE,
    ) -> float:
        """Share of the question that names procedure `rival` and no phrase of `proc` explains
        (with `proc` None: that names `rival`).

        Only words heard count (not official words added for them). The rival's names say
        which procedure is meant; its aliases ("công chứng photo") say it too, less surely,
        as some of them only describe a situation: they count for `alias_share`.
        """
        if question_weight <= 0:
            return 0.0
        named = self._name_terms.get(rival, frozenset())
        aliased = self._alias_terms.get(rival, frozenset())
        explained = self._proc_terms.get(proc, frozenset()) if proc is not None else frozenset()
        left = 0.0
        for q in query:
            if q.group < 0 or q.term in explained:
                continue
            if q.term in named:
                left += q.weight * q.share
            elif q.term in aliased:
                left += q.weight * q.share * alias_share
        return min(left / question_weight, 1.0)

    def has(self, term: str) -> bool:
        return term in self._postings

    def score(self, query: list[QueryTerm], question_weight: float) -> PhraseScores | None:
        """Coverages of every phrase (None if no phrase shares a term with the question)."""
        parts = [(self._postings[q.term], q) for q in query if q.term in self._postings]
        if not parts or question_weight <= 0:
            return None
        ids = np.concatenate([p[0] for p, _ in parts])
        # One repeat per side rather than an array per term: a question has 30-40 terms, and
        # at 10,000 procedures building small arrays cost a third of this function.
        lengths = [len(p[0]) for p, _ in parts]
        shares = np.repeat([q.share for _, q in parts], lengths)
        phrase_side = np.concatenate([p[1] for p, _ in parts]) * shares
        question_side = np.repeat([q.weight * q.share for _, q in parts], lengths)
        n = len(self._totals)
        matched_phrase = np.bincount(ids, weights=phrase_side, minlength=n)
        matched_question = np.bincount(ids, weights=question_side, minlength=n)
        return PhraseScores(
            procs=self._procs,
            phrase_cover=matched_phrase / self._totals,
            question_cover=np.minimum(matched_question / question_weight, 1.0),
            factor=self._factors,
        )

    def phrases_of(self, procs: list[int]) -> np.ndarray:
        """Positions of the phrases of these procedures, to lower their scores at once."""
        return np.flatnonzero(np.isin(self._procs, np.asarray(procs, dtype=np.int32)))
