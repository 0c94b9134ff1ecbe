"""Everyday words for the things procedures are officially named after.

Villagers say "cưới" for kết hôn, "chứng minh thư" for the căn cước that replaced it, "sổ đỏ"
for the land-use certificate, "tiền già" for the old-age allowance. Aliases in the catalogue
cover whole phrases for one procedure; this table covers words that recur across many, so
"làm lại chứng minh thư bị mất" finds "cấp lại thẻ căn cước" without an alias for every
combination. The official words are ADDED to what was heard, never substituted, so a phrase
that matches the villager's own words still matches.
"""

from __future__ import annotations

from hoixa.device.intents import Utterance, compile_phrases, find_phrases
from hoixa.device.situation import NOT_YET, paper_at
from hoixa.vietnamese import fold, number_word_value

EVERYDAY_WORDS: dict[str, tuple[str, ...]] = {
    # hộ tịch
    # Situations that imply a procedure, in the words of the North, Centre and South.
    "kết hôn": (
        "cưới",
        "cưới vợ",
        "cưới chồng",
        "lấy vợ",
        "lấy chồng",
        "hôn thú",
        "thành hôn",
        "lấy nhau",
        "cưới nhau",
        "cưới xin",
        "cưới hỏi",
        "đám cưới",
        "đi bước nữa",
        "tái hôn",
        "tái giá",
        "về một nhà",
    ),
    "khai sinh": (
        "mới sinh",
        "mới đẻ",
        "vừa sinh",
        "vừa đẻ",
        "giấy khai sanh",
        "khai sanh",
        "mới sanh",
        "vừa sanh",
        "sinh con",
        "sanh con",
        "đẻ con",
        "sinh được",
        "đẻ được",
        "sanh được",
        "sinh xong",
        "đẻ xong",
        "mới có cháu",
        "mới có em bé",
        "sinh em bé",
        "ở cữ",
        "mới lọt lòng",
        "đầy tháng",
    ),
    "khai tử": (
        "qua đời",
        "mất rồi",
        "đã mất",
        "mới mất",
        "vừa mất",
        "mất được",
        "mất hôm qua",
        "chết",
        "từ trần",
        "tạ thế",
        "quy tiên",
        "khuất núi",
        "về với ông bà",
        "về với tổ tiên",
        "chứng tử",
        "báo tử",
    ),
    "tình trạng hôn nhân": (
        "độc thân",
        "chưa có vợ",
        "chưa có chồng",
        "chưa lấy vợ",
        "chưa lấy chồng",
    ),
    "nhận cha mẹ con": (
        "nhận cha",
        "nhận con",
        "nhận bố",
        "nhận mẹ",
        "nhận ba",
        "nhận má",
        "công nhận cha",
        "nhận lại con",
        "chưa cưới",
        "chưa đăng ký kết hôn",
        "ngoài giá thú",
        "không có tên cha",
        "ghi tên bố",
        "ghi tên ba",
        "ghi tên cha",
        "có tên bố",
        "có tên cha",
        "có tên ba",
        "ở với nhau chưa",  # "tụi con ở với nhau chưa làm giấy tờ": not married
        "sống với nhau chưa",
    ),
    "giám hộ": (
        "người đỡ đầu",
        "đỡ đầu",
        "nuôi cháu mồ côi",
        "trông nom",
        "không tự lo được",
        "không tự lo",
        "mất năng lực hành vi",
        "mất trí",
    ),
    "cải chính": ("sửa lại", "sai ngày", "bổ sung thông tin"),
    "kết hợp": (
        "cùng lúc",
        "một lần",
        "một lượt",
        "luôn thể",
        "đồng thời",
        "làm luôn",
        "vừa làm",
        "kèm nhận",  # "khai sinh kèm nhận cha" (not "đi kèm": to go along)
    ),
    "chấm dứt giám hộ": (
        "thôi giám hộ",
        "hủy giám hộ",
        "không làm giám hộ",
        "thôi làm giám hộ",
        "bỏ giám hộ",
        "thôi làm người giám hộ",
        "hết làm giám hộ",  # round 41: "mẹ nó về nhận lại con thì tui hết làm giám hộ"
    ),
    "xác nhận thông tin hộ tịch": (
        "xác nhận thông tin kết hôn",
        "xác nhận thông tin khai sinh",
        "xác nhận đã đăng ký",
        "xác nhận việc đã đăng ký",
    ),
    "cấp thẻ căn cước": ("làm căn cước", "làm thẻ căn cước", "làm cccd", "làm căn cước lần đầu"),
    "thay đổi cải chính hộ tịch": (
        "sửa tên",
        "sửa họ",
        "đổi tên",
        "sửa ngày sinh",
        "sửa năm sinh",
        "sửa quê quán",
        "ghi sai",
        "viết sai",
        "sai tên",
        "sai ngày sinh",
    ),
    # not "thôi không" alone: "thôi không có gì" is "never mind"
    "chấm dứt": ("kết thúc", "không làm nữa", "thôi làm", "không nhận nữa", "thôi không làm"),
    "cấp bản sao trích lục": (
        "xin bản sao",
        "xin lại bản sao",
        "lấy bản sao",
        "trích lục",
        "xin lại giấy",
        "cấp lại bản sao",
    ),
    "khai sinh cho người đã có hồ sơ giấy tờ cá nhân": (
        "chưa có giấy khai sinh",
        "chưa bao giờ có giấy khai sinh",
        "chưa từng khai sinh",
        "không được khai sinh",
        "chưa khai sinh bao giờ",
        "người lớn chưa khai sinh",
    ),
    "đăng ký lại": (
        "sổ gốc bị mất",
        "mất sổ gốc",
        "sổ bị mất",
        "không còn sổ",
        "mất hết sổ",
        "sổ hộ tịch đã mất",
        "sổ hộ tịch bị mất",
        "mất sổ",
        "sổ gốc không còn",
        "không còn lưu",
    ),
    # chứng thực
    "chứng thực": ("công chứng", "thị thực", "xác nhận của xã"),
    "chứng thực bản sao": (
        "sao y",
        "sao y bản chính",
        "photo công chứng",
        "bản photo",
        "bản phô tô",
        "sao học bạ",
        "sao bằng",
        "sao văn bằng",
        "sao giấy tờ",
        "đóng dấu đỏ",
        "đóng dấu xã",
    ),
    "di chúc": ("chúc thư", "trăng trối", "dặn lại"),
    "chữ ký": ("chữ kí", "điểm chỉ", "lăn tay"),
    "hợp đồng giao dịch": ("cho tặng", "tặng cho", "mua bán", "chuyển nhượng", "sang tên"),
    "phân chia di sản": (
        "chia thừa kế",
        "chia tài sản",
        "chia đất",
        "chia nhà",
        "chia gia tài",
        "chia nhau",
        "chia phần",
        "chia của",
        "ông bà để lại",
        "bố mẹ để lại",
        "cha mẹ để lại",
        "ba má để lại",
    ),
    # cư trú, căn cước
    "thường trú": (
        "hộ khẩu",
        "nhập khẩu",
        "nhập hộ khẩu",
        "chuyển khẩu",
        "ở hẳn",
        "ở luôn",
        "ở lâu dài",
        "về làm dâu",
        "ở rể",
    ),
    "tách hộ": (
        "ra ở riêng",
        "ở riêng",
        "ra riêng",
        "hộ riêng",
        "tách khẩu",
        "tách sổ",
        "lập hộ mới",
    ),
    "xác nhận thông tin về cư trú": (
        "xác nhận cư trú",
        "xác nhận nơi ở",
        "xác nhận chỗ ở",
        "chứng minh nơi ở",
        "chứng minh chỗ ở",
        "bỏ sổ hộ khẩu",
        "thay sổ hộ khẩu",
    ),
    "xóa đăng ký thường trú": (
        "cắt khẩu",
        "cắt hộ khẩu",
        "xóa hộ khẩu",
        "rút hộ khẩu",
        "ra khỏi hộ khẩu",
        "xóa tên khỏi hộ khẩu",
    ),
    "tạm trú": (
        "ở trọ",
        "thuê trọ",
        "thuê nhà",
        "ở tạm",
        "ở nhờ",
        "nhà trọ",
        "thuê phòng",
        "ở mấy tháng",
        "ở vài tháng",
        "ở ít tháng",
        "ở dăm tháng",
        "ở ít lâu",
        "ở một thời gian",
        "lên ở với",
        "xuống ở với",
        "đến ở với",
        "sang ở với",
    ),
    "tạm vắng": (
        "đi vắng",
        "vắng nhà",
        "đi làm xa",
        "đi xa lâu ngày",
        "làm ăn xa",
        "đi làm ăn",
        # not "đi làm công ty", "lên thành phố": who works away may be asking about tạm trú there
        "vào nam",
        "ra bắc",
    ),
    "căn cước": ("chứng minh thư", "chứng minh nhân dân", "cmnd", "cccd", "thẻ căn cước công dân"),
    "cấp lại": (
        "bị mất",
        "đánh mất",
        "đánh rơi",
        "thất lạc",
        "bị lạc",
        "làm mất",
        "mất căn cước",
        "mất chứng minh",
        "mất thẻ",
    ),
    "cấp đổi": (
        "hết hạn",
        "bị hỏng",
        "gãy",
        "bị mờ",
        "rách",
        "bị hư",
        "đổi thẻ",
        "đổi cái mới",
        "đổi sang",
        "ghi sai",
        "sai thông tin",
    ),
    # đất đai, xã hội
    "giấy chứng nhận quyền sử dụng đất": ("sổ đỏ", "sổ hồng", "bìa đỏ", "giấy đỏ", "bằng khoán"),
    "hòa giải tranh chấp đất đai": (
        "lấn đất",
        "lấn ranh",
        "lấn sang",
        "cãi nhau về đất",
        "tranh chấp ranh giới",
    ),
    "trợ cấp": ("tiền già", "tiền trợ cấp", "tiền hỗ trợ"),
    # a monthly allowance stopped, said the everyday way ("báo xã cắt tiền trợ cấp")
    "thôi hưởng": (
        "cắt tiền",
        "cắt trợ cấp",
        "thôi lãnh",
        "ngưng lãnh",
        "dừng trợ cấp",
        "thôi nhận",
    ),
    "neo đơn": (
        "ở một mình",
        "sống một mình",
        "không ai chăm",
        "không ai nuôi",
        "không con cháu",
        "không nơi nương tựa",
        "không người thân",
    ),
    "người cao tuổi": ("người già", "già yếu", "ông cụ", "bà cụ", "cụ già"),
    "khuyết tật": (
        "tàn tật",
        "câm điếc",
        "bị câm",
        "bị điếc",
        "bị mù",
        "liệt",
        "thiểu năng",
        "tâm thần",
    ),
    "hộ nghèo": ("nhà nghèo", "hộ cận nghèo", "sổ nghèo"),
    "hộ kinh doanh": (
        "mở quán",
        "mở tiệm",
        "buôn bán nhỏ",
        "giấy phép kinh doanh",
        "đăng ký kinh doanh",
        "bán hàng tạp hóa",
    ),
    "bảo hiểm y tế": ("thẻ bảo hiểm", "bảo hiểm cho bé", "bhyt"),
    "gia hạn": ("sắp hết hạn", "gần hết hạn", "sắp hết", "xin ở thêm"),  # tạm trú
    # an ID card held is the "hồ sơ, giấy tờ cá nhân" of a late birth registration
    "giấy tờ cá nhân": (
        "có căn cước",
        "có chứng minh",
        "có chứng minh thư",
        "có sổ hộ khẩu",
        "có học bạ",
    ),
    "trẻ em": ("con nít", "trẻ con"),  # "làm căn cước cho con nít"
    "tên đệm": ("tên lót",),  # the South's word for the middle name
}

_TABLE = compile_phrases(EVERYDAY_WORDS, by_sound=False)  # a loose synonym misleads

# Papers people ask to have copied or certified ("sao y sổ đỏ", "công chứng giấy khai sinh"):
# after a word of copying, a paper's name is the thing copied, not a procedure to do.
COPYING = ("chứng thực", "công chứng", "sao y", "bản sao", "photo", "phô tô", "thị thực")
COPYABLE_PAPERS = ("giấy chứng nhận quyền sử dụng đất", "căn cước", "khai sinh", "kết hôn")
_COPYING = compile_phrases({"copy": COPYING}, by_sound=False)
# A paper by its official name or its everyday ones ("sổ đỏ" is the land-use certificate).
_COPYABLE_PAPER_NAMES = compile_phrases(
    {paper: (paper, *EVERYDAY_WORDS.get(paper, ())) for paper in COPYABLE_PAPERS}, by_sound=False
)


def _copying_starts(utt: Utterance) -> int:
    """Where the first word of copying is heard (the utterance's length if none is)."""
    return min((hit.start for hit in find_phrases(utt, _COPYING)), default=len(utt))


def copied_papers(utt: Utterance) -> set[str]:
    """The papers named after a word of copying: "photo sổ đỏ rồi chứng thực", "sao chứng
    thực ba bản sổ đỏ". Whoever copies one holds it already: it is not being applied for
    ("làm sổ đỏ lần đầu có cần công chứng không" names it before, and is)."""
    copied_from = _copying_starts(utt)
    return {hit.key for hit in find_phrases(utt, _COPYABLE_PAPER_NAMES) if hit.start > copied_from}


def official_words(utt: Utterance) -> list[tuple[str, int, int]]:
    """(official phrase, start, end) for the everyday words heard at syllables start:end.

    Hits may overlap: "mất chứng minh nhân dân" is both "cấp lại" and "căn cước". A paper
    named after a word of copying ("sao y sổ đỏ") is what is copied: no official words.
    """
    hits = find_phrases(utt, _TABLE, overlapping=True)
    copied_from = _copying_starts(utt)
    keys = {hit.key for hit in hits}
    # read only when its words were heard: official_words runs for every ranking
    late_for_grown_ups = LATE_FOR_GROWN_UPS in keys and not (
        FATHER_OR_MOTHER_NAMED in keys or _says_a_child(utt)
    )
    return [
        (hit.key, hit.start, hit.end)
        for hit in hits
        if not (hit.key in COPYABLE_PAPERS and hit.start > copied_from)
        and not (hit.key == DEATH and _a_paper_is_lost(utt, hit.start))
        and not (hit.key == PAPERS_HELD and _not_held(utt, hit.start))
        and (hit.key != LATE_FOR_GROWN_UPS or late_for_grown_ups)
    ]


# Round 42: "chưa có giấy khai sinh" is the late registration of a grown-up who holds other
# papers, but not of a baby ("con mới đẻ", "cháu hai tháng tuổi chưa có giấy khai sinh") or a
# young child ("cháu bảy tuổi"), whose birth is registered late as any birth; nor when a
# parent is named at the same time ("bố mẹ chưa cưới, làm khai sinh có tên bố"): that is
# the birth registered with the father recognised.
LATE_FOR_GROWN_UPS = "khai sinh cho người đã có hồ sơ giấy tờ cá nhân"
FATHER_OR_MOTHER_NAMED = "nhận cha mẹ con"
CHILD_AGE_BELOW = 10  # years: "cháu bảy tuổi", "lên sáu"
BABY_WORDS = ("mới đẻ", "mới sinh", "mới sanh", "sinh được", "sanh được", "đẻ được", "em bé")
_BABY = compile_phrases({"baby": BABY_WORDS}, by_sound=False)
AGE_UNITS = {"tuoi": CHILD_AGE_BELOW, "thang": 1000}  # "2 tháng (tuổi)": any number of months


def _says_a_child(utt: Utterance) -> bool:
    """Whether a baby or a young child is said (BABY_WORDS, an age in months or below
    CHILD_AGE_BELOW years)."""
    words = utt.folded
    for i, word in enumerate(words):
        value = int(word) if word.isdigit() else number_word_value(utt.toned[i])
        if value is None:
            continue
        after = words[i + 1] if i + 1 < len(words) else ""
        before = words[i - 1] if i else ""
        if value < AGE_UNITS.get(after, CHILD_AGE_BELOW if before == "len" else 0):
            return True
    return bool(find_phrases(utt, _BABY))


# "chưa có căn cước" holds no card: it is not the papers of a late birth registration.
PAPERS_HELD = "giấy tờ cá nhân"
NOT_HELD_REACH = 3  # syllables before: "chưa bao giờ có căn cước"


def _not_held(utt: Utterance, at: int) -> bool:
    before = slice(max(at - NOT_HELD_REACH, 0), at)
    # and Central "nỏ", only with its tone: "no" is as often "nó"
    return bool(NOT_YET.intersection(utt.folded[before])) or "nỏ" in utt.toned[before]


# "mất" of a paper ("sổ hộ tịch cũ đã mất hết", "giấy khai sinh mất rồi") is a loss, not a
# death: the paper is the nearest thing named before it, with no person between.
DEATH = "khai tử"
PEOPLE = frozenset({"ông", "bà", "bố", "mẹ", "ba", "má", "cha", "chồng", "vợ", "cụ", "người"})
PEOPLE_FOLDED = frozenset(fold(w) for w in PEOPLE)
PAPER_REACH = 5  # syllables before the word of loss


def _a_paper_is_lost(utt: Utterance, at: int) -> bool:
    words, people = (utt.toned, PEOPLE) if utt.has_tones else (utt.folded, PEOPLE_FOLDED)
    for i in range(at - 1, max(at - PAPER_REACH, 0) - 1, -1):
        if words[i] in people:
            return False
        if paper_at(utt, i):
            return True
    return False
