"""The words and phrases a box expects to hear, for restricting or biasing a recogniser.

Vosk's small Vietnamese model is weak on free speech; given this list as a grammar it only
has to choose between words the box understands, which is far more reliable. The list holds
the catalogue's names and aliases plus every command, question and answer phrase the
dialogue reacts to, so restricting recognition never makes a command unrecognisable.
"""

from __future__ import annotations

from hoixa.contract.catalogue import Catalogue
from hoixa.device import intents
from hoixa.device.matcher import procedure_phrases
from hoixa.vietnamese import normalize

NUMBER_WORDS = ("một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "số", "thứ", "nhất")


def phrases(catalogue: Catalogue) -> list[str]:
    """Every phrase the box reacts to, normalised, without duplicates, in a stable order."""
    out: list[str] = []
    for proc in catalogue["procedures"]:
        out += [text for text, _ in procedure_phrases(proc)]
    for referral in catalogue.get("referrals", []):  # a passport must be heard to say where
        out += [referral["name"], *referral["aliases"]]
    for table in (
        intents.CATEGORY_PHRASES,
        intents.SECTION_NAMES,
        intents.COMMAND_PHRASES,
        intents.EMERGENCY_PHRASES,
        intents.EMERGENCY_EVENTS,
    ):
        for group in table.values():
            out += group
    # an event word counts as an emergency with a "now" word, and not with a past one: a
    # recogniser restricted to this list must be able to hear both
    out += list(intents.NOW_CUES) + list(intents.PAST_CUES)
    out += [word for _, *pair in intents.EMERGENCY_PAIRS for group in pair for word in group]
    out += intents.YES_PHRASES + intents.NO_PHRASES + NUMBER_WORDS
    seen: set[str] = set()
    unique = []
    for text in out:
        norm = normalize(text)
        if norm and norm not in seen:
            seen.add(norm)
            unique.append(norm)
    return unique


def vocabulary(catalogue: Catalogue) -> list[str]:
    """Every syllable of those phrases, sorted."""
    return sorted({syllable for phrase in phrases(catalogue) for syllable in phrase.split()})
