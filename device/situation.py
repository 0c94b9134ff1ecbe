"""What a question says about the villager's situation, beside which procedure it names.

Sister procedures differ by one condition, and villagers say the condition in everyday
words: the thing was had before ("cấp lại", "bị mất"), is registered already ("con đã có
giấy khai sinh"), was never registered ("mà chưa khai tử"), or the commune's own record is
gone ("sổ ở xã cũng không còn"). A question also has a clause that holds what is asked:
after "rồi thì", before a "để" of purpose; and words for what is not wanted ("không cần
nhập khẩu"). These functions read those from the recognised words; the matcher
(device/matcher.py) decides what they do to the ranking.
"""

from __future__ import annotations

from itertools import pairwise

from hoixa.contract.catalogue import Procedure, spoken_name
from hoixa.device.intents import Utterance, remove_at, said_at
from hoixa.vietnamese import fold, normalize

# A procedure for the first time, and words that say it is not the first time.
FIRST_TIME = "lan dau"
AGAIN_PHRASES = ("cap lai", "lam lai", "xin lai", "bi mat", "lam mat", "danh mat", "mat roi")


def is_first_time(proc: Procedure) -> bool:
    """Whether the procedure's name says it is for the first time ("… lần đầu")."""
    return any(FIRST_TIME in fold(text) for text in (proc["name"], spoken_name(proc)))


def _says_any(utt: Utterance, phrases: tuple[str, ...]) -> bool:
    """Whether the question says one of the folded phrases, as whole words."""
    folded = f" {' '.join(utt.folded)} "
    return any(f" {phrase} " in folded for phrase in phrases)


def says_again(utt: Utterance) -> bool:
    """Whether the question says the thing was had before: re-issued, redone, lost."""
    return _says_any(utt, AGAIN_PHRASES)


# A procedure for after a death (funeral costs, a one-off allowance when a person with merit
# dies), and words that say someone died: "thương binh" alone is not a death.
AFTER_DEATH = ("mai tang", "tu tran", "tu tuat")
DEATH_WORDS = ("mat", "chet", "qua doi", "tu tran", "mai tang", "ma chay", "dam ma", "dam tang")
DEATH_WORDS += ("tu tuat", "khai tu", "bao tu", "chung tu", "hy sinh", "ta the", "tang le")


def is_after_death(proc: Procedure) -> bool:
    """Whether the procedure's name says it is for after someone died."""
    name = fold(proc["name"])
    return any(phrase in name for phrase in AFTER_DEATH)


def says_someone_died(utt: Utterance) -> bool:
    """Whether the question says anything of a death ("mất", "qua đời", "đám ma")."""
    return _says_any(utt, DEATH_WORDS)


# A monthly allowance is for the living: "bà cụ hàng xóm sống một mình mới mất thì ai đi khai
# tử cho bà" asks about the death, however much of it ("sống một mình", "không có con cái")
# describes who may get the allowance. Stopping an allowance at a death is asked in its own
# words ("cắt tiền", "thôi hưởng trợ cấp").
MONTHLY = ("hang thang", "huu tri xa hoi")  # the social pension is paid monthly too
DEATH_REGISTRATION = ("khai tu", "bao tu", "chung tu")
ALLOWANCE_WORDS = ("tro cap", "tien", "cat", "ngung", "che do", "luong", "giam")
ALLOWANCE_WORDS += ("dung tra", "dung cap", "dung chi")  # not "dung" alone: "đứng ra"
# not "huong" alone: "hướng dẫn" folds to it as "hưởng" does
ALLOWANCE_WORDS += ("thoi huong", "duoc huong", "dang huong", "huong tro", "huong che")


def is_monthly_allowance(proc: Procedure) -> bool:
    """Whether the procedure pays something every month (to a living person)."""
    name = fold(proc["name"])
    return any(words in name for words in MONTHLY) and not is_after_death(proc)


def says_death_registration_only(utt: Utterance) -> bool:
    """Whether the question asks to register a death and says nothing of an allowance."""
    return _says_any(utt, DEATH_REGISTRATION) and not _says_any(utt, ALLOWANCE_WORDS)


# A procedure that changes what the civil-status record says, and words that say the ID
# card is what must change: "căn cước ghi sai quê quán", "đổi tên rồi thì thẻ căn cước có
# phải đổi theo không", "cải chính tên trong giấy khai sinh rồi giờ đổi căn cước". The card
# is changed by its own procedure (cấp đổi), whatever changed in the record before.
RECORD_CHANGE = ("thay doi", "cai chinh")
CARD = ("can", "cuoc")
CARD_CHANGES = ("sai", "doi", "cu")  # ghi sai, đổi (theo), tên cũ
CARD_CHANGES_TONED = ("sai", "đổi", "cũ")
CARD_REACH = 5  # syllables after "căn cước" where its change is said
CARD_CHANGE_BEFORE = 3  # syllables before it: "đổi lại thẻ căn cước"
RECORD_WORDS = ("khai", "ho", "giay", "so")  # a record named: its change is not the card's


def is_record_change(proc: Procedure) -> bool:
    """Whether the procedure changes what a civil-status record says."""
    name = fold(proc["name"])
    return any(name.startswith(phrase) for phrase in RECORD_CHANGE)


def says_card_changed(utt: Utterance) -> bool:
    """Whether the ID card is what the question wants changed (see CARD_CHANGES)."""
    words = utt.folded
    changes = CARD_CHANGES_TONED if utt.has_tones else CARD_CHANGES
    heard = utt.toned if utt.has_tones else words
    for i in range(len(words) - 1):
        if words[i : i + 2] != CARD:
            continue
        before = words[max(i - CARD_CHANGE_BEFORE, 0) : i]
        if "doi" in before and "ten" not in before:
            return True  # "đổi (lại thẻ) căn cước"; "đổi tên" says what changed, not where
        for word, folded in zip(
            heard[i + 2 : i + 2 + CARD_REACH], words[i + 2 : i + 2 + CARD_REACH], strict=True
        ):
            if folded in RECORD_WORDS:
                break
            if word in changes:
                return True
    return False


# The card exchange, and words that say the ID card is damaged: "thẻ căn cước bị gãy đôi",
# "căn cước mờ hết chữ", "hư cái chíp". Luật Căn cước 2023 (art. 24(2)(a)) re-issues a card
# "bị hư hỏng không sử dụng được" (cấp lại, as the portal's record of 1.014064 says); the
# exchange (cấp đổi) is for an age, changed or misprinted details. Villagers say "đổi" for
# both, so the damage, not the verb, tells which.
# The first card ("cấp thẻ căn cước cho người từ đủ 14 tuổi") is not for a damaged one either.
CARDS_NOT_REISSUED = ("cap doi the can cuoc", "cap the can cuoc")
_CARD_DAMAGE = "gãy bể vỡ rách nứt hỏng hư nát mờ bong tróc trầy cong vênh nhòe ướt ngấm mẻ nhàu"
CARD_DAMAGE_TONED = frozenset(normalize(_CARD_DAMAGE).split())
# Without tones most of those are other words too ("hong" is Southern "hông", "mo" the
# Central "mô"), so they count only after "bị"; these few are damage wherever they stand.
CARD_DAMAGE_FOLDED = frozenset(("gay", "troc", "nhoe", "venh"))
CARD_DAMAGE_AFTER_BI = frozenset(fold(_CARD_DAMAGE).split())
CARD_DAMAGE_REACH = 7  # syllables after "căn cước": "căn cước gắn chíp của tui bị cong hư chíp"


def is_card_not_reissued(proc: Procedure) -> bool:
    """Whether the procedure issues an ID card other than by re-issue: the first card or the
    exchange (cấp đổi), neither of which is for a damaged card."""
    return fold(proc["name"]).startswith(CARDS_NOT_REISSUED)


CARD_MISPRINTED = "sai"  # "ghi sai", "sai ngày sinh": a misprint, exchanged whatever else


def says_card_damaged(utt: Utterance) -> bool:
    """Whether the question says the ID card is damaged (see CARD_DAMAGE_TONED), and not
    also misprinted ("bị mờ chữ với sai ngày sinh"): a misprint is exchanged whatever else."""
    words = utt.folded
    for i in range(len(words) - 1):
        if words[i : i + 2] != CARD:
            continue
        after = slice(i + 2, i + 2 + CARD_DAMAGE_REACH)
        if CARD_MISPRINTED in words[after]:
            return False
        if utt.has_tones:
            if any(word in CARD_DAMAGE_TONED for word in utt.toned[after]):
                return True
            continue
        said_bi = False
        for word in words[after]:
            if word in CARD_DAMAGE_FOLDED or (said_bi and word in CARD_DAMAGE_AFTER_BI):
                return True
            said_bi = said_bi or word == "bi"
    return False


# A procedure that registers something for the first time, and words that say it was done.
REGISTERING = ["dang", "ky"]  # "Đăng ký khai sinh…"
REGISTERING_WITHIN = " ve dang ky "  # "Liên thông thủ tục hành chính về đăng ký khai sinh"
HAD_BEFORE = "da"  # "đã có giấy khai sinh", "đã đăng ký kết hôn"
HAD_AFTER = "roi"  # "có khai sinh rồi"
HAVING = ("co", "co giay")
NOT_YET = frozenset(("chua", "khong", "hong", "hem", "chang"))
SAID_AS = {"sanh": "sinh"}  # "khai sanh" is "khai sinh"
NOT_YET_DONE = "chua"  # "chưa khai tử"
# Round 37: a record said to lack something was made already: "giấy khai sinh để trống tên
# bố", "khai sinh chỉ có tên mẹ" (the father then recognises the child, 1.001022).
DONE_LACKING = ("de trong", "bo trong", "chi co ten", "khong co ten", "hong co ten", "thieu ten")


def registered_thing(proc: Procedure) -> tuple[str, str] | None:
    """The two words a first registration registers ("khai sinh" for "Đăng ký khai sinh
    kết hợp đăng ký nhận cha, mẹ, con"), or None: re-registration ("đăng ký lại") and
    deregistration ("xóa đăng ký") are not first registrations."""
    words = fold(proc["name"]).replace(",", " ").split()
    if words[:2] == REGISTERING:
        rest = words[2:]
    else:  # "Liên thông thủ tục hành chính về đăng ký khai sinh, …"
        text = f" {' '.join(words)} "
        at = text.find(REGISTERING_WITHIN)
        rest = text[at + len(REGISTERING_WITHIN) :].split() if at >= 0 else []
    if len(rest) < 2 or rest[0] == "lai":
        return None
    return rest[0], rest[1]


def reregistered_thing(proc: Procedure) -> tuple[str, str] | None:
    """The two words a re-registration registers again ("khai tử" for "Đăng ký lại khai
    tử"): it is for what was registered once and whose record was lost."""
    words = fold(proc["name"]).replace(",", " ").split()
    if words[:2] == REGISTERING and words[2:3] == ["lai"] and len(words) >= 5:
        return words[3], words[4]
    return None


# A death, or the births and marriages of the living: a question that names a death
# registration and no birth or marriage ("ông cụ mất hơn một năm rồi mà chưa khai tử") is
# not about a birth's procedures, however well their aliases fit the story ("người lớn tuổi
# chưa bao giờ làm khai sinh"), and the other way round. A birth and a marriage are named
# together often ("chưa đăng ký kết hôn mà sinh con"), so they are not set apart.
LIFE_EVENTS = {
    ("khai", "tu"): ("death", ("khai tu", "chung tu", "bao tu")),
    ("khai", "sinh"): ("living", ("khai sinh", "khai sanh")),
    ("ket", "hon"): ("living", ("ket hon", "hon thu")),
}


def life_side_named(utt: Utterance) -> str | None:
    """ "death" or "living" when the question names registrations of that side only."""
    sides = {side for side, said in LIFE_EVENTS.values() if _says_any(utt, said)}
    return sides.pop() if len(sides) == 1 else None


def life_side(proc: Procedure) -> str | None:
    """The side (see LIFE_EVENTS) of the event a procedure registers or registers again."""
    thing = registered_thing(proc) or reregistered_thing(proc)
    return LIFE_EVENTS[thing][0] if thing in LIFE_EVENTS else None


# Round 38: two bundles for a newborn differ by one part. "Liên thông … khai sinh, đăng ký
# thường trú, cấp thẻ bảo hiểm y tế" (2.000986) has the child's permanent residence, the other
# (2.001023) does not. Villagers name the bundle by its parts ("làm khai sinh với thẻ bảo
# hiểm y tế cho con một lần"); residence is part of it only when said among the parts ("khai
# sinh kèm nhập hộ khẩu kèm thẻ bảo hiểm"), not when said as the setting ("ở trọ chưa nhập
# khẩu được", "còn hộ khẩu thì để sau", "hộ khẩu vẫn ở quê").
BUNDLE_BIRTH = ("khai sinh", "khai sanh")
BUNDLE_INSURANCE = ("bao hiem",)
BUNDLE_RESIDENCE = ("thuong tru", "nhap khau", "ho khau")  # in a procedure's name
# Heard, the residence part is any syllable with these in it: "nhập", "khẩu", "trú", and
# words run together by the recogniser ("hộkhẩu", "thườngtrú").
RESIDENCE_HEARD = ("nhap", "khau", "tru")
NOT_WANTED_BEFORE = frozenset(("chua", "khong", "hong", "ko", "khoi", "chang"))
NOT_WANTED_BEFORE_TONED = frozenset(("còn", "chớ", "chứ"))  # "còn hộ khẩu thì để sau"
NOT_WANTED_REACH = 2  # syllables before the residence word: "chưa nhập hộ khẩu"
# the syllables of one residence part: "nhập hộ khẩu", "đăng ký thường trú"
RESIDENCE_GOES_ON = (*RESIDENCE_HEARD, "ky")
# "hộ khẩu thì để sau", "hộ khẩu vẫn ở quê", "hộ khẩu còn ở quê", "hộ khẩu có rồi"
SETTING_AFTER = frozenset(("thi", "van", "con", "o", "de", "co"))
# Between birth and insurance, a second registration or "thường" misheard ("thường chú"):
# "khai sinh đăng ký thường chú với bảo hiểm".
RESIDENCE_BETWEEN = frozenset(("thuong", "dang"))
JOINING = frozenset(("voi", "va", "kem", "luon", "roi", "cung"))  # "… bảo hiểm với nhập khẩu"


def is_bundle(proc: Procedure) -> bool | None:
    """For a newborn's bundle of birth and health insurance, whether it holds residence
    too; None for any other procedure."""
    name = fold(proc["name"])
    if not all(any(part in name for part in parts) for parts in (BUNDLE_BIRTH, BUNDLE_INSURANCE)):
        return None
    return any(part in name for part in BUNDLE_RESIDENCE)


def _residence_wanted(utt: Utterance, words: list[str], i: int, after_parts: bool) -> bool:
    """Whether the residence word at i is asked for, not said lacking or as the setting."""
    before = words[max(i - NOT_WANTED_REACH, 0) : i]
    if NOT_WANTED_BEFORE & set(before):
        return False
    toned_before = utt.toned[max(i - NOT_WANTED_REACH, 0) : i]
    if utt.has_tones and NOT_WANTED_BEFORE_TONED & set(toned_before):
        return False
    end = i + 1  # past the residence part, to what follows it
    while end < len(words) and any(part in words[end] for part in RESIDENCE_GOES_ON):
        end += 1
    if words[end : end + 1] and words[end] in SETTING_AFTER:
        return False
    return not after_parts or bool(JOINING & set(before))


def residence_in_bundle(utt: Utterance) -> bool | None:
    """Whether a question naming birth and health insurance together asks residence among
    them: said between the two or joined after them ("… bảo hiểm với nhập hộ khẩu"), and
    not as lacking or as the setting. None when it does not name both."""
    words = _said(utt)
    said = tuple(words)
    births = [i for part in BUNDLE_BIRTH for i in said_at(said, part)]
    insured = [i for part in BUNDLE_INSURANCE for i in said_at(said, part)]
    if not births or not insured:
        return None
    start, end = min(births + insured), max(births + insured) + 1

    def residence(i: int) -> bool:
        heard = any(part in words[i] for part in RESIDENCE_HEARD)
        return heard or (start < i < end and words[i] in RESIDENCE_BETWEEN)

    for i in range(start + 1, len(words)):
        if not residence(i) or residence(i - 1):
            continue  # not residence, or the second syllable of "nhập khẩu", "hộ khẩu"
        if _residence_wanted(utt, words, i, after_parts=i > end):
            return True
    return False


def _said(utt: Utterance) -> list[str]:
    return [SAID_AS.get(w, w) for w in utt.folded]


def things_never_done(utt: Utterance) -> set[tuple[str, str]]:
    """The pairs of words the question says were never registered: "mà chưa khai tử",
    "chưa ai đi khai tử", "chưa có giấy khai sinh" ("không có" may be a paper lost)."""
    return registrations_said(utt)[0]


def registrations_said(utt: Utterance) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """things_never_done and things_done, the question read once for both."""
    words = _said(utt)
    done = things_done(utt)
    never = {
        (words[i], words[i + 1])
        for i in range(len(words) - 1)
        if NOT_YET_DONE in words[max(i - 4, 0) : i]
    }
    # "mà chưa cưới, cháu có khai sinh rồi": the "chưa" is about the wedding
    return never - done, done


# The registry's record itself is lost: "sổ ở xã cũng cháy", "xã cũng hổng còn lưu".
RECORD = "so"  # sổ (hộ tịch, gốc, bộ, ở xã), not these other books:
NOT_THE_RECORD = ("ho khau", "do", "hong", "bao hiem", "tiet kiem", "ngheo", "dien thoai")
RECORD_LOST = ("mất", "cháy", "không còn", "hổng còn", "hông còn", "hư", "hỏng", "ướt", "cuốn")
RECORD_LOST += ("thất lạc", "mục")
RECORD_LOST_FOLDED = tuple(fold(w) for w in RECORD_LOST)  # toneless: "hong" may be "hồng"
RECORD_LOST_REACH = 5  # syllables after "sổ"
NOT_KEPT = (("khong", "con", "luu"), ("hong", "con", "luu"), ("khong", "luu"), ("hong", "luu"))
NOT_KEPT += (("khong", "con", "so"), ("hong", "con", "so"))  # "xã cũng không còn sổ"
COPYING = "cap ban sao"  # "Cấp bản sao trích lục hộ tịch…": a copy needs the record


def says_record_lost(utt: Utterance) -> bool:
    """Whether the question says the registry's record is gone, which only a
    re-registration ("đăng ký lại") can mend: not a copy, not a first registration."""
    words = utt.folded
    for i, word in enumerate(words):
        for kept in NOT_KEPT:
            after = " ".join(words[i + len(kept) :])
            if tuple(words[i : i + len(kept)]) == kept and not (
                kept[-1] == RECORD and any(after.startswith(o) for o in NOT_THE_RECORD)
            ):
                return True  # "xã cũng không còn lưu", not "không còn sổ hộ khẩu"
        if word != RECORD or (utt.has_tones and utt.toned[i] != "sổ"):
            continue
        if any(" ".join(words[i + 1 :]).startswith(other) for other in NOT_THE_RECORD):
            continue
        heard, lost = (utt.toned, RECORD_LOST) if utt.has_tones else (words, RECORD_LOST_FOLDED)
        following = f" {' '.join(heard[i + 1 : i + 1 + RECORD_LOST_REACH])} "
        if any(f" {word} " in following for word in lost):
            return True
    return False


def things_done(utt: Utterance) -> set[tuple[str, str]]:
    """The pairs of words the question says were registered already: "đã có giấy khai
    sinh", "con có khai sinh rồi", "đã đăng ký kết hôn" (not "chưa có khai sinh", and not
    "đã được đăng ký kết hôn chưa", which asks whether it may be done)."""
    words = _said(utt)
    done = set()
    for i in range(len(words) - 1):
        if NOT_YET & set(_same_clause(words[i + 2 : i + 4])):
            continue
        before = words[max(i - 4, 0) : i]
        if HAD_BEFORE in before:  # "đã có giấy khai sinh", not "đã mấy tháng chưa khai sinh"
            since_done = before[len(before) - 1 - before[::-1].index(HAD_BEFORE) :]
            if not NOT_YET & set(since_done):
                done.add((words[i], words[i + 1]))
                continue
        having = any(" ".join(before[-len(h.split()) :]) == h for h in HAVING)
        # "có khai sinh rồi", not "chưa có khai sinh rồi"; "chưa cưới, cháu có khai sinh
        # rồi" has its "chưa" in the clause before
        if having and words[i + 2 : i + 3] == [HAD_AFTER] and not NOT_YET & set(before[-2:]):
            done.add((words[i], words[i + 1]))
            continue
        after = " ".join(words[i + 2 : i + 5])
        if any(after.startswith(lacking) for lacking in DONE_LACKING):
            done.add((words[i], words[i + 1]))  # "khai sinh để trống tên bố"
    return done


# Words that start another clause: "đã có giấy khai sinh mà chưa có tên bố" says the
# birth was registered; the "chưa" is about the father's name.
CLAUSE_STARTS = ("ma", "nhung")


def _same_clause(words: list[str]) -> list[str]:
    """The words up to the start of another clause."""
    for i, word in enumerate(words):
        if word in CLAUSE_STARTS:
            return words[:i]
    return words


# Words that end what was already done and start what is asked now ("… rồi thì …").
DONE_THEN = ("roi thi", "roi gio", "roi bay gio", "roi bay chu", "roi chu", "xong thi")


def _clause_after_last(utt: Utterance, markers: tuple[str, ...]) -> Utterance | None:
    """The words after the last of the folded markers said, when there are enough of them
    to name a procedure (two syllables or more)."""
    folded = utt.folded
    ends = [i + len(marker.split()) for marker in markers for i in said_at(folded, marker)]
    if not ends or len(folded) - max(ends) < 2:
        return None
    start = max(ends)
    return Utterance(utt.toned[start:], folded[start:], utt.has_tones)


def clause_after_done(utt: Utterance) -> Utterance | None:
    """The words after the last "rồi thì" / "xong thì" (or the like)."""
    return _clause_after_last(utt, DONE_THEN)


# "Bà cụ hàng xóm sống một mình mới mất thì ai đi khai tử cho bà": after "thì ai" (who)
# comes what is to be done, and that is the question; the story before it only says why.
WHO_DOES = ("thi ai", "roi ai")


def clause_after_who(utt: Utterance) -> Utterance | None:
    """The words after the last "thì ai" / "rồi ai"."""
    return _clause_after_last(utt, WHO_DOES)


# Round 35: "anh trong tổ bảo vệ rừng bị cây đổ đè chết mấy hôm trước, gia đình muốn khai tử
# thì nộp ở đâu": in a long story the box cannot place, what the villager wants follows
# "muốn".
WANTING = ("muon", "mun")


def clause_after_want(utt: Utterance) -> Utterance | None:
    """The words after the last "muốn" (want)."""
    return _clause_after_last(utt, WANTING)


# "Khai sinh xong thì được nhận giấy gì, có kèm bản sao không": after "xong thì" the
# villager asks what the procedure before it gives. The papers named there (a copy, a
# re-registered extract) are its result, not another procedure.
RESULT_AFTER = "xong thi"
# round 40: "khai sinh xong thì được cái gì" (being given, said plainly)
RECEIVING = frozenset(("nhan", "cap", "cam", "dua", "lay", "tra", "giao", "phat", "huong", "duoc"))
ASKING_WHAT = frozenset(("gì", "chi", "gi"))  # toned or not; not "chị" (an older sister)
RECEIVING_REACH = 4  # syllables from the receiving verb to "gì"


def clause_before_result(utt: Utterance) -> Utterance | None:
    """The words before the first "xong thì" when the words after it ask what is received
    ("được nhận cái gì", "được cấp những giấy gì"), and there are enough of them to name
    a procedure; otherwise None."""
    folded = utt.folded
    words = utt.toned if utt.has_tones else folded
    for at in said_at(folded, RESULT_AFTER):
        start = at + len(RESULT_AFTER.split())
        asks_what = any(
            folded[i] in RECEIVING and ASKING_WHAT & set(words[i + 1 : i + 1 + RECEIVING_REACH])
            for i in range(start, len(folded))
        )
        if asks_what and at >= 2:
            return Utterance(utt.toned[:at], folded[:at], utt.has_tones)
    return None


# Words that say something is not wanted: "không cần nhập khẩu", "hộ khẩu thì chưa cần".
NOT_NEEDED = ("khong can", "chua can", "khoi can", "hong can")  # not "khỏi": "ra khỏi hộ khẩu"
NOT_NEEDED_REACH = 3  # syllables the "not needed" covers
LATER = ("de sau", "de lam sau", "de man sau", "lam sau", "man sau", "tinh sau")  # not now
LATER += ("thi chua lam", "thi chua man")  # "hộ khẩu thì chưa làm"
LATER += ("thi chua nhap",)  # round 34: "còn hộ khẩu thì chưa nhập"
NOT_LATER_AFTER = "nay"  # "để sau này xin hộ nghèo": a purpose, not "later"
CLAUSE_BREAKS = frozenset(("thi", "ma", "con", "chu", "voi", "va", "nhung", "duoc", "khong"))


def _clause_start(folded: tuple[str, ...], end: int) -> int:
    """Where the few words before `end` that a "not now" marker covers begin."""
    start = end
    while start > 0 and end - start < NOT_NEEDED_REACH and folded[start - 1] not in CLAUSE_BREAKS:
        start -= 1
    return start


# Round 35: land held "ổn định, không tranh chấp" is the condition for a first land title,
# not a dispute to mediate ("dat o on dinh khong tranh chap thi co cap so duoc khong").
NO_DISPUTE = ("khong tranh chap", "khong co tranh chap", "hong tranh chap", "ko tranh chap")
NO_DISPUTE += ("khong ai tranh chap", "khong bi tranh chap", "chua tranh chap")


def _markers_said(folded: tuple[str, ...], markers: tuple[str, ...]) -> list[tuple[int, int]]:
    """(where, how many syllables) of each of the folded markers said."""
    return [(i, len(m.split())) for m in markers for i in said_at(folded, m)]


def without_unwanted(utt: Utterance) -> Utterance:
    """The question without what it says is not wanted, so that "khai sinh với thẻ bảo
    hiểm y tế, không cần nhập khẩu" is not matched to the procedure that also registers the
    residence. The unwanted words run from "không cần" to the next clause word, or, in
    "hộ khẩu thì chưa cần" and "hộ khẩu để mần sau", back to the previous one."""
    folded = utt.folded
    drop: set[int] = set()
    for i, size in _markers_said(folded, NOT_NEEDED):
        first = end = i + size
        while end < len(folded) and end - first < NOT_NEEDED_REACH:
            if folded[end] in CLAUSE_BREAKS:
                break
            end += 1
        if end > first:  # "không cần nhập khẩu"
            drop.update(range(i, end))
        elif i >= 1 and folded[i - 1] == "thi":  # "hộ khẩu thì chưa cần"
            drop.update(range(_clause_start(folded, i - 1), i + size))
    for i, size in _markers_said(folded, NO_DISPUTE):  # the land's condition, not a dispute
        drop.update(range(i, i + size))
    for i, size in _markers_said(folded, LATER):  # "hộ khẩu để mần sau"
        if i >= 1 and folded[i + size : i + size + 1] != (NOT_LATER_AFTER,):
            drop.update(range(_clause_start(folded, i), i + size))
    if not drop or len(drop) >= len(folded):
        return utt  # "không cần": nothing would be left
    return remove_at(utt, drop)


# "… để …": what is asked comes before, the purpose after ("tách hộ để được xét hộ nghèo").
PURPOSE = "de"
SAID_FOR_PURPOSE = ("để", "đặng")  # "đặng": the South's "để" ("tách hộ đặng xin xét hộ nghèo")
NOT_PURPOSE_AFTER = frozenset(("lai", "trong", "danh", "y", "nghi", "xem"))  # "để lại", "để trống"


def clause_before_purpose(utt: Utterance) -> Utterance | None:
    """The words before the first "để" (or "đặng") that starts a purpose, when there are
    enough of them to name a procedure ("để lại", "để trống" are not purposes)."""
    folded = utt.folded
    for i, word in enumerate(folded):
        purpose = utt.toned[i] in SAID_FOR_PURPOSE if utt.has_tones else word == PURPOSE
        if not purpose:
            continue
        if i + 1 < len(folded) and folded[i + 1] in NOT_PURPOSE_AFTER:
            continue
        return Utterance(utt.toned[:i], folded[:i], utt.has_tones) if i >= 2 else None
    return None


# Before "để", words asking how ("làm sao để xóa tạm trú cho họ", "ra đâu để …", "phải làm
# gì để …"): then what follows "để" is the procedure asked, not a purpose beside it. Not
# "làm" alone (round 39): "muốn làm lại để chia đất" asks to re-register.
ASKING_HOW = frozenset(("sao", "gi", "chi", "dau", "nao", "mo", "buoc"))


def clause_before_purpose_asked(utt: Utterance, heard: Utterance) -> Utterance | None:
    """clause_before_purpose of `utt`, when it holds what is asked: heard with tones
    (without them "de" is also "đẻ", "con mới đẻ") and not ending in words asking how in
    the question as heard (`utt` has lost "làm sao" to the category it asks)."""
    clause = clause_before_purpose(utt) if utt.has_tones else None
    if clause is None:
        return None  # most questions: no need to read the question as heard
    before = clause_before_purpose(heard)
    if before is None or ASKING_HOW & set(before.folded[-2:]):
        return None
    return clause


# A paper that one procedure gives and another needs ("giấy xác nhận độc thân" for a
# marriage), named as needed ("kết hôn có cần giấy xác nhận độc thân không") or as held
# already ("có giấy xác nhận độc thân rồi thì đăng ký kết hôn nộp cho ai"): the question is
# about the other procedure. Named as wanted ("xin giấy … để đăng ký kết hôn") it is the
# paper's own procedure, and nothing here touches it.
# a paper, a book ("có cần sổ đỏ nhà tui không"), an extract ("trích lục khai tử")
PAPERS = {"giay": "giấy", "so": "sổ", "trich": "trích"}
# Cards named without "giấy" or "sổ" ("hay chỉ cần căn cước là được"), by their two syllables:
# only as needed, since held ("có căn cước rồi mà chưa có khai sinh") they tell which
# procedure is asked (a late birth registration for a person with papers); a certificate
# named without "giấy" ("kết hôn có cần xác nhận độc thân không") is a paper like the others
CARD_NAMES = {("can", "cuoc"): ("căn", "cước"), ("chung", "minh"): ("chứng", "minh")}
PAPER_NAMES = {**CARD_NAMES, ("xac", "nhan"): ("xác", "nhận")}


def paper_at(utt: Utterance, start: int) -> bool:
    """Whether a paper's name starts at `start`: "giấy …", "sổ …", "trích lục …", "căn cước"."""
    word = utt.folded[start]
    if word in PAPERS:
        return not utt.has_tones or utt.toned[start] == PAPERS[word]
    name = PAPER_NAMES.get(utt.folded[start : start + 2])
    return name is not None and (not utt.has_tones or utt.toned[start : start + 2] == name)


NEEDED = ("co can", "can", "can co", "phai co", "co phai co", "phai xin", "co phai xin")
NEEDED += ("bat buoc co", "phai nop", "co phai nop", "phai lam", "co phai lam")
NEEDED += ("can mang", "can mang theo", "phai mang", "phai mang theo", "mang theo", "can dem")
NEEDED += ("phai dem", "dem theo")  # "lên xã khai sinh có cần mang theo giấy đăng ký kết hôn"
NEEDED += ("can xin", "co can xin")  # round 40: "kết hôn có cần xin xác nhận độc thân không"
HELD = ("co", "da co", "da xin", "xin", "xin duoc", "da lam", "lam", "co san", "da co san")
# A paper not held ("nhà ở thuê không có sổ đỏ thì có đăng ký thường trú được không"): why
# they ask, not what. Not "chưa có": "đất chưa có sổ đỏ" asks for a first one.
NOT_HELD = ("khong co", "hong co", "ko co")
# … but a birth or marriage record not held is what is asked ("có căn cước mà không có giấy
# khai sinh", "ở với nhau hổng có giấy hôn thú giờ làm khai sinh cho con có tên ba").
NOT_HELD_ASKED = frozenset(("sinh", "sanh", "hon"))
# A paper received ("đăng ký lại kết hôn xong thì được cấp giấy chứng nhận mới hay bản
# trích lục"): what the procedure gives, asked about, not another procedure.
RECEIVED = ("duoc cap", "cap cho", "duoc nhan", "nhan duoc", "duoc phat", "duoc tra")
RECEIVED += ("lay duoc", "cam ve", "duoc cam ve", "duoc lay")
ALTERNATIVES = frozenset(("hay", "hoac"))
YES_NO_ENDS = frozenset(("khong", "ko", "k", "hong", "hem", "chua", "ha"))  # not "ạ"
PAPER_ENDS = CLAUSE_BREAKS | {"roi", "truoc", "chua", "de", "o", "nua", "hong", "ko", "khi"}
PAPER_ENDS |= ALTERNATIVES | {"phai", "dung"}  # "… trích lục khai tử phải không"
PAPER_REACH = 6  # syllables of the paper's name, at most
CLASSIFIERS = frozenset(("cai", "to", "ban", "cuon", "mot"))  # "cái giấy", "tờ giấy", "một bản"
HELD_REACH = 4  # syllables between the paper's name and "rồi" ("… ở quê vợ rồi")
WANTED_REACH = 4  # syllables after the paper's name to the "để" of its purpose ("cho má để")


def _marker_before(words: tuple[str, ...], end: int, markers: tuple[str, ...]) -> int:
    """How many syllables of the longest marker said just before `end` (0: none)."""
    sizes = [
        len(m.split())
        for m in markers
        if words[max(end - len(m.split()), 0) : end] == tuple(m.split())
    ]
    return max(sizes, default=0)


def papers_held_or_needed(utt: Utterance) -> set[int]:
    """Where the question names a paper it needs or holds for another procedure, or
    receives from the one asked: the syllables of that paper's name and of the words that
    say so ("có cần", "đã xin", "được cấp"), which must not decide which procedure is asked."""
    words = utt.folded
    drop: set[int] = set()
    # "… có phải xin giấy … không", or "… trước không hay xã tự tra được": a second
    # question after the first
    asks_yes_no = bool(YES_NO_ENDS & set(words[-2:])) or any(
        a in YES_NO_ENDS and b in ALTERNATIVES for a, b in pairwise(words)
    )
    for start in range(len(words)):
        if start < 2 or not paper_at(utt, start):
            continue
        end = start + 1
        while end < len(words) and end - start < PAPER_REACH and words[end] not in PAPER_ENDS:
            end += 1
        said = start  # "có phải xin cái giấy …": a classifier between the marker and the paper
        while said > 0 and words[said - 1] in CLASSIFIERS:
            said -= 1
        held = _marker_before(words, said, HELD)
        if not (
            HAD_AFTER in words[end : end + HELD_REACH + 1]
            and not NOT_YET & set(words[max(start - 3, 0) : start])  # "chưa làm giấy hôn thú"
        ):
            held = 0
        needed = _marker_before(words, said, NEEDED) if asks_yes_no else 0
        received = _marker_before(words, said, RECEIVED)
        not_held = _marker_before(words, said, NOT_HELD)
        if NOT_HELD_ASKED & set(words[start:end]):
            not_held = 0
        if words[start : start + 2] in CARD_NAMES:  # a card: only as needed
            held = received = not_held = 0
        # "cần giấy … để đăng ký kết hôn", "cần giấy … cho má để làm hồ sơ thừa kế"
        wanted = PURPOSE in words[end : end + WANTED_REACH]
        # "… giấy chứng nhận mới hay bản trích lục": the other paper of the two, likewise
        alternative = said >= 2 and words[said - 1] in ALTERNATIVES and said - 2 in drop
        markers = (held, needed, received, not_held, alternative)
        if any(markers) and not wanted and end - start >= 2:
            drop.update(range(said - max(markers), end))
    return drop


# Where the villager or their family is ("bố mẹ nó đi làm ăn xa", "con gái đi xuất khẩu lao
# động") is often why they ask, not what: "bố mẹ đi làm ăn xa, ông bà đi khai sinh thay được
# không" asks about the birth. Said alone ("đi làm ăn xa có phải báo xã không") it is the
# absence itself (tạm vắng), and the question without it names nothing else.
AWAY_FOR_WORK = ("di lam an xa", "di lam xa", "lam an xa", "di xuat khau lao dong")
AWAY_FOR_WORK += ("xuat khau lao dong", "di lam an", "lam an")


def away_for_work(utt: Utterance) -> set[int]:
    """Where the question says someone is away working: the syllables that say so."""
    return {
        i + k
        for phrase in AWAY_FOR_WORK
        for i in said_at(utt.folded, phrase)
        for k in range(len(phrase.split()))
    }
