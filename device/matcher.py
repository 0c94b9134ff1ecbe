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

from hoixa.contract.catalogue import Catalogue, Procedure, spoken_name
from hoixa.device.intents import Utterance, category_hits, detect_emergency, remove_span
from hoixa.device.phrase_index import PhraseIndex, QueryTerm
from hoixa.device.synonyms import official_words
from hoixa.vietnamese import fold_syllable, normalize, sound_key, spoken_numbers_to_digits

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

# Words villagers wrap their question in: people, "want", "now", "then". They may appear in a
# procedure's name ("nhận cha, mẹ, con"), so they still match, but they count for little when
# measuring how much of the question a phrase explains.
_CHATTER_WORDS = (
    "tôi tui bác con cháu em anh chị ông bà mẹ bố ba má mệ nó mình chúng họ tụi nhà "
    "thì là mà của cho với ở và có không được phải muốn cần giờ bây chừ rồi đã sẽ đang "
    "này đó kia nào gì chi sao thế như vậy rứa cái những các xã đi lên về ra đây "
    "hồi xưa nay mới vừa lắm quá luôn nữa thằng đứa "
    # the same in the Centre and the South: "tau", "mi", "hắn", "ni", "tê", "mô", "hổng"…
    "tau mi hắn ni tê mô hổng hông ổng bả tía mạ bu bầm hở nhỉ chứ giùm dùm"
)
# By spelling, not by sound: "cái" sounds like "khai", "họ" like "hộ", "nay" like "lại".
CHATTER_TONED = frozenset(normalize(_CHATTER_WORDS).split())
CHATTER_FOLDED = frozenset(fold_syllable(w) for w in CHATTER_TONED)


def _with_digits(utt: Utterance) -> Utterance:
    """Numbers said in words written as catalogues write them ("mười bốn" → "14")."""
    toned = tuple(spoken_numbers_to_digits(list(utt.toned)))
    if toned == utt.toned:
        return utt
    return Utterance(toned, tuple(fold_syllable(s) for s in toned), utt.has_tones)


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
    # Share of the question that names a runner-up (`rival`) and that this procedure's
    # phrases leave unexplained: the villager named two procedures, so the box asks back.
    contested: float = 0.0
    rival: str | None = None


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


MAX_PHRASES_PER_RANK = 12  # sorting only the best phrases is enough to find 10 procedures


def _best_first(score: np.ndarray, limit: int) -> np.ndarray:
    """Indices of the `limit` highest scores, best first (all of them if fewer)."""
    if len(score) > limit:
        top = np.argpartition(-score, limit)[:limit]
        return top[np.argsort(-score[top], kind="stable")]
    return np.argsort(-score, kind="stable")


class Matcher:
    """Ranks the procedures of one catalogue for an utterance. Build once per catalogue."""

    def __init__(self, catalogue: Catalogue):
        self.procedures: list[Procedure] = list(catalogue["procedures"])
        self._by_code = {p["code"]: i for i, p in enumerate(self.procedures)}
        phrases = []
        naming = []
        for i, proc in enumerate(self.procedures):
            names = {normalize(proc["name"]), normalize(spoken_name(proc))}
            for text, factor in procedure_phrases(proc):
                phrases.append((i, text, factor))
                naming.append(normalize(text) in names)
        self._index = PhraseIndex(phrases, len(self.procedures), naming)
        # Known syllables by first letter, so snapping a misheard one compares few strings.
        self._by_initial: dict[str, list[str]] = defaultdict(list)
        for syllable in self._index.syllables:
            self._by_initial[syllable[:1]].append(syllable)

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
            gram = segment[first : last + 1]
            keys = [k for k, _, _ in gram]
            key_term = ("u:" if len(keys) == 1 else "b:") + "_".join(keys)
            factor = CHATTER_FACTOR if all(_is_chatter(s, f) for _, s, f in gram) else 1.0
            if not self._index.has(key_term):
                if len(keys) == 1:
                    weight = self._index.unknown_weight * UNKNOWN_WORD_SHARE * factor
                    out.append(("", None, weight, first, last))
                continue
            weight = self._index.weight([f for _, _, f in gram], keys) * factor
            spellings = [s for _, s, _ in gram]
            exact = None
            if all(spellings):
                exact = ("t:" if len(keys) == 1 else "bt:") + "_".join(spellings)  # type: ignore[arg-type]
            out.append((key_term, exact, weight, first, last))
        return out

    def _question(self, utt: Utterance) -> tuple[list[QueryTerm], float]:
        """The question's terms with their shares and weights, and its total weight.

        Official words stand in for the everyday words they were found for ("chứng minh
        nhân dân" → "căn cước"): a phrase may match either, and the question's total grows
        only by what the official words weigh beyond the words heard, so saying one thing
        does not count as saying two.
        """
        heard = self._heard_syllables(utt)
        flat = [s for part in heard for s in part]
        owner = [i for i, part in enumerate(heard) for _ in part]  # flat position -> utt's
        synonyms = official_words(utt)
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

    def rank(self, utt: Utterance, among: set[str] | None = None) -> list[Candidate]:
        """Procedures by score for an utterance (category words already removed), best first."""
        query, total = self._question(_with_digits(utt))
        scores = self._index.score(query, total)
        if scores is None:
            return []
        p, q = scores.phrase_cover, scores.question_cover
        beta2 = PHRASE_COVER_BETA**2
        score = scores.factor * (1 + beta2) * p * q / np.maximum(beta2 * q + p, 1e-9)
        # Best phrase per procedure, plus a little for a second phrase that also fits: the
        # everyday procedure ("đăng ký khai tử") is usually named several ways in a question,
        # its special cases ("đăng ký lại khai tử") by one.
        best: dict[int, list[float]] = {}
        for i in _best_first(score, limit=10 * MAX_PHRASES_PER_RANK):
            proc = int(scores.procs[i])
            if proc not in best:
                best[proc] = [float(score[i]), float(p[i]), 0.0, float(q[i])]
            elif best[proc][2] == 0.0:
                best[proc][2] = float(score[i])
        first_pass = sorted(
            (
                (first + SUPPORT_BONUS * second, proc, cover, first_q)
                for proc, (first, cover, second, first_q) in best.items()
                if among is None or self.procedures[proc]["code"] in among
            ),
            reverse=True,
        )
        ranked = []
        for rank, (score_so_far, proc, cover, first_q) in enumerate(first_pass):
            if rank < MAX_EXPLAINED:
                # Words of the question that other phrases of the same procedure explain
                # ("mất" beside "chứng minh nhân dân") tell sister procedures apart.
                extra = max(self._index.explained(proc, query, total) - first_q, 0.0)
                score_so_far += EXPLAINED_BONUS * extra
            code, name = self.procedures[proc]["code"], self.procedures[proc]["name"]
            ranked.append(Candidate(code, name, min(score_so_far, 1.0), cover))
        ranked.sort(key=lambda c: -c.score)
        if len(ranked) > 1:
            ranked[0] = self._contest(ranked, query, total)
        return ranked[:10]

    def _contest(self, ranked: list[Candidate], query: list[QueryTerm], total: float) -> Candidate:
        """The best candidate, marked when the question also names a runner-up.

        "thẻ căn cước" in "tôi đổi tên rồi thì thẻ căn cước có phải làm lại không" is the
        name of "cấp đổi thẻ căn cước", and nothing of "thay đổi thông tin hộ tịch", which
        fits "đổi tên" best, explains it: answering either one would be a guess.
        """
        first = ranked[0]
        own = self._by_code[first.code]
        contested, rival = 0.0, None
        for other in ranked[1 : 1 + RIVALS]:
            if other.score < CLARIFY_MIN_SCORE:
                break
            share = self._index.named_not_explained(self._by_code[other.code], own, query, total)
            if share > contested:
                contested, rival = share, other.code
        return replace(first, contested=contested, rival=rival)

    def match(self, text: str) -> Decision:
        """Understand one utterance: emergency, answer, clarify or not found."""
        utt = Utterance.of(text)
        emergency = detect_emergency(utt)
        if emergency:
            return Decision(text, "emergency", emergency=emergency)
        # The first way of asking names the part wanted; none of them name the procedure
        # ("làm căn cước ở đâu, mất bao lâu").
        asked = category_hits(utt)
        category = asked[0].key if asked else None
        utt = remove_span(utt, *asked)
        return self.decide(text, self.rank(utt), category)

    def decide(self, text: str, ranked: list[Candidate], category: str | None) -> Decision:
        top = tuple(ranked[:5])
        if not ranked or ranked[0].score < CLARIFY_MIN_SCORE:
            return Decision(text, "not_found", category=category, candidates=top)
        first = ranked[0]
        lead = first.score - (ranked[1].score if len(ranked) > 1 else 0.0)
        clear_winner = first.score >= ANSWER_MIN_SCORE and lead >= ANSWER_MIN_LEAD
        lone_winner = (
            first.score >= LONE_MIN_SCORE
            and lead >= LONE_MIN_LEAD
            and first.cover >= LONE_MIN_COVER
        )
        contested = first.contested >= RIVAL_NAMED_SHARE
        if (clear_winner or lone_winner) and not contested:
            return Decision(text, "answer", self.procedure(first.code), category, top)
        close = [
            c
            for c in ranked
            if c.score >= max(first.score - CLARIFY_WINDOW, CLARIFY_MIN_SCORE)
            or (contested and c.code == first.rival)
        ]
        return Decision(text, "clarify", None, category, tuple(close[:MAX_CLARIFY]))

    def procedure(self, code: str) -> Procedure:
        return self.procedures[self._by_code[code]]

    def has(self, code: str) -> bool:
        return code in self._by_code
