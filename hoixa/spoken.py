"""Written Vietnamese answer text rewritten as it should be said aloud.

Answers are written the way offices write: "8.000 đồng/bản", "01/7/2025", "UBND",
"123/2015/NĐ-CP", "15h30", "3-5 ngày". A TTS engine (Piper, espeak-ng) reads those badly or
not at all, so just before speaking every number, date, time, range, code and abbreviation is
written out as the words a clerk would say, and everything else is left as it was.

The work is an ordered list of small regex rules (`RULES`). Order matters: legal codes and
dates must be read before their digits are taken as bare numbers, ranges before times, and
bare numbers before the symbols between words. Vietnamese conventions: "." groups thousands,
"," is the decimal mark.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from num2words import num2words

DIGIT_WORDS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")

# Abbreviations read as words: case-sensitive, whole words; "A-B" chains of them are read as
# "A B". Add new ones here. TT (thông tư) and TP (thành phố) without its dot are ambiguous and
# have their own rule; document kinds inside legal codes are read by the legal-code rule.
ABBREVIATIONS: dict[str, str] = {
    "UBND": "ủy ban nhân dân",
    "HĐND": "hội đồng nhân dân",
    "UBMTTQ": "ủy ban mặt trận tổ quốc",
    "MTTQ": "mặt trận tổ quốc",
    "CCCD": "căn cước công dân",
    "CMND": "chứng minh nhân dân",
    "BHYT": "bảo hiểm y tế",
    "BHXH": "bảo hiểm xã hội",
    "BHTN": "bảo hiểm thất nghiệp",
    "TTHC": "thủ tục hành chính",
    "VNeID": "vê en e i đê",
    "CSDL": "cơ sở dữ liệu",
    "CSDLQGVDC": "cơ sở dữ liệu quốc gia về dân cư",
    "TP.": "thành phố",
    "Tp.": "thành phố",
    "HCM": "Hồ Chí Minh",
    "NĐ-CP": "nghị định chính phủ",
    "NĐ": "nghị định",
    "QĐ": "quyết định",
    "NQ": "nghị quyết",
    "TTLT": "thông tư liên tịch",
    "SĐT": "số điện thoại",
    "ĐT": "điện thoại",
    "STT": "số thứ tự",
    "v.v.": "vân vân",
    "HTX": "hợp tác xã",
    "PCCC": "phòng cháy chữa cháy",
    "CSGT": "cảnh sát giao thông",
    "THPT": "trung học phổ thông",
    "THCS": "trung học cơ sở",
    "GPLX": "giấy phép lái xe",
    "TNHH": "trách nhiệm hữu hạn",
    "MST": "mã số thuế",
    "NNT": "người nộp thuế",
    "NSNN": "ngân sách nhà nước",
    "KBNN": "kho bạc nhà nước",
    "NLĐ": "người lao động",
    "NCC": "người có công",
    "GCN": "giấy chứng nhận",
    "QSDĐ": "quyền sử dụng đất",
    "ĐKKD": "đăng ký kinh doanh",
    "ĐVHC": "đơn vị hành chính",
    "DVC": "dịch vụ công",
    "DVCQG": "dịch vụ công quốc gia",
    "TTPVHCC": "trung tâm phục vụ hành chính công",
    "TN&TKQ": "tiếp nhận và trả kết quả",
    "TN&MT": "tài nguyên và môi trường",
    "GD&ĐT": "giáo dục và đào tạo",
    "KH&ĐT": "kế hoạch và đầu tư",
    "LĐ-TB&XH": "lao động, thương binh và xã hội",
    "LĐTBXH": "lao động, thương binh và xã hội",
    "CNTT": "công nghệ thông tin",
    "BĐS": "bất động sản",
    "GTGT": "giá trị gia tăng",
    "TNCN": "thu nhập cá nhân",
    "TNDN": "thu nhập doanh nghiệp",
    "KCB": "khám chữa bệnh",
    "VNĐ": "đồng",
    "VND": "đồng",
    "USD": "đô la Mỹ",
}
_SENTENCE_FINAL_ABBR = {"v.v."}  # their final dot may also end the sentence

# Legal document codes "123/2015/NĐ-CP": the part before the issuer names the kind of document.
LEGAL_KINDS: dict[str, str] = {
    "NĐ": "Nghị định",
    "TT": "Thông tư",
    "TTLT": "Thông tư liên tịch",
    "QĐ": "Quyết định",
    "NQ": "Nghị quyết",
    "NQLT": "Nghị quyết liên tịch",
    "CT": "Chỉ thị",
    "PL": "Pháp lệnh",
    "KH": "Kế hoạch",
    "HD": "Hướng dẫn",
    "TB": "Thông báo",
    "CV": "Công văn",
}
# Issuers, keyed without their trailing term number ("QH15" → "QH").
LEGAL_ISSUERS: dict[str, str] = {
    "CP": "Chính phủ",
    "TTg": "Thủ tướng Chính phủ",
    "VPCP": "Văn phòng Chính phủ",
    "QH": "Quốc hội",
    "UBTVQH": "Ủy ban Thường vụ Quốc hội",
    "BTC": "Bộ Tài chính",
    "BTP": "Bộ Tư pháp",
    "BCA": "Bộ Công an",
    "BQP": "Bộ Quốc phòng",
    "BNV": "Bộ Nội vụ",
    "BNG": "Bộ Ngoại giao",
    "BYT": "Bộ Y tế",
    "BXD": "Bộ Xây dựng",
    "BCT": "Bộ Công Thương",
    "BLĐTBXH": "Bộ Lao động, Thương binh và Xã hội",
    "BGDĐT": "Bộ Giáo dục và Đào tạo",
    "BTNMT": "Bộ Tài nguyên và Môi trường",
    "BNNMT": "Bộ Nông nghiệp và Môi trường",
    "BNNPTNT": "Bộ Nông nghiệp và Phát triển nông thôn",
    "BGTVT": "Bộ Giao thông vận tải",
    "BKHĐT": "Bộ Kế hoạch và Đầu tư",
    "BKHCN": "Bộ Khoa học và Công nghệ",
    "BTTTT": "Bộ Thông tin và Truyền thông",
    "BVHTTDL": "Bộ Văn hóa, Thể thao và Du lịch",
    "BDTTG": "Bộ Dân tộc và Tôn giáo",
    "NHNN": "Ngân hàng Nhà nước",
    "TANDTC": "Tòa án nhân dân tối cao",
    "VKSNDTC": "Viện kiểm sát nhân dân tối cao",
    "UBND": "Ủy ban nhân dân",
    "HĐND": "Hội đồng nhân dân",
}
# Kinds named by their title more than their number: "Luật số 60…" sounds right, "Luật 60…" not.
_KINDS_WITH_SO = {"luật", "bộ luật", "pháp lệnh"}

# Letter names a Vietnamese TTS says well, for codes nobody has written out.
LETTER_NAMES: dict[str, str] = {
    "A": "a", "B": "bê", "C": "xê", "D": "đê", "Đ": "đê", "E": "e", "F": "ép", "G": "giê",
    "H": "hát", "I": "i", "J": "gi", "K": "ca", "L": "lờ", "M": "em", "N": "en", "O": "o",
    "P": "pê", "Q": "quy", "R": "rờ", "S": "ét", "T": "tê", "U": "u", "V": "vê", "W": "vê kép",
    "X": "ích", "Y": "i dài", "Z": "dét",
}  # fmt: skip

UNIT_WORDS = {
    "km2": "ki lô mét vuông", "km²": "ki lô mét vuông", "m2": "mét vuông", "m²": "mét vuông",
    "m3": "mét khối", "m³": "mét khối", "km": "ki lô mét", "cm": "xen ti mét",
    "mm": "mi li mét", "m": "mét", "kg": "ki lô gam", "ha": "héc ta",
}  # fmt: skip

ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50}

_LETTER = r"[^\W\d_]"
_DIGITS = "0123456789"
_URL_OR_EMAIL = re.compile(r"(https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.]+)")


# ---------------------------------------------------------------- numbers and digits


@lru_cache(maxsize=2048)
def _below_thousand(n: int, inner: bool) -> str:
    """1..999 by num2words; a group after a higher one says its empty hundreds ("không trăm")."""
    words = num2words(n, lang="vi").replace("mươi bốn", "mươi tư")  # 24: "hai mươi tư"
    if inner and n < 100:
        words = "không trăm " + (f"lẻ {words}" if n < 10 else words)
    return words


def _cardinal(n: int, inner: bool) -> str:
    if n >= 10**9:
        head, tail = divmod(n, 10**9)
        words = _cardinal(head, inner) + " tỷ"
        return f"{words} {_cardinal(tail, True)}" if tail else words
    parts = []
    for scale, name in ((10**6, " triệu"), (10**3, " nghìn"), (1, "")):
        group = n // scale % 1000
        if group:
            parts.append(_below_thousand(group, inner) + name)
            inner = True
    return " ".join(parts)


def number_to_words(n: int) -> str:
    """Cardinal number as said in the North: 2025 "hai nghìn không trăm hai mươi lăm".

    num2words says "hai nghìn lẻ hai mươi lăm" and "hai mươi bốn"; we read it group by group
    so an inner group keeps "không trăm" (and "lẻ" for 1..9), and say "mươi tư".
    """
    if n < 0:
        return "âm " + number_to_words(-n)
    if n == 0:
        return "không"
    return _cardinal(n, inner=False)


def read_digits(s: str) -> str:
    """Digits one by one; each run of other characters becomes a pause (", ")."""
    runs = re.findall(r"[0-9]+", s)
    return ", ".join(" ".join(DIGIT_WORDS[int(d)] for d in run) for run in runs)


def _read_integer_text(digits: str) -> str:
    """A written integer: ids with a leading zero or very long ones digit by digit."""
    if (digits.startswith("0") and len(digits) >= 4) or len(digits) > 15:
        return read_digits(digits)
    return number_to_words(int(digits))


def _read_fraction_digits(digits: str) -> str:
    """Digits after the decimal comma: "05" → "không năm", "25" → "hai mươi lăm"."""
    if len(digits) > 3:
        return read_digits(digits)
    zeros = len(digits) - len(digits.lstrip("0"))
    rest = digits.lstrip("0")
    return " ".join(["không"] * zeros + ([number_to_words(int(rest))] if rest else []))


def _read_dotted(token: str) -> str:
    """Section or form numbers "2.3", "03.1" (not thousands): parts joined by "chấm"."""
    return " chấm ".join(
        read_digits(p) if p.startswith("0") and len(p) > 1 else number_to_words(int(p))
        for p in token.split(".")
    )


def _read_number_token(token: str) -> str:
    if "." in token:
        return _read_dotted(token)
    return number_to_words(int(token))


def _day_words(day: int) -> str:
    """Day of month after "ngày": 1–10 take "mùng"."""
    return ("mùng " if day <= 10 else "") + number_to_words(day)


def _month_words(month: int) -> str:
    return "tư" if month == 4 else number_to_words(month)


def _spell(code: str) -> str:
    """Letters by their names, digits one by one: "C06" → "xê không sáu"."""
    out = []
    for ch in code:
        if ch.isdigit():
            out.append(DIGIT_WORDS[int(ch)])
        elif ch.upper() in LETTER_NAMES:
            out.append(LETTER_NAMES[ch.upper()])
    return " ".join(out)


def _roman_value(text: str) -> int | None:
    values = [ROMAN_VALUES[c] for c in text]
    total = sum(
        -v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values)
    )
    return total if 0 < total < 90 and _to_roman(total) == text else None


def _to_roman(n: int) -> str:
    out = ""
    for value, sym in ((50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out, n = out + sym, n - value
    return out


# ---------------------------------------------------------------- rule callbacks

Lead = re.Match[str] | None  # the words just before a match that its reading absorbs ("ngày")


def _parse_suffix(suffix: str) -> tuple[str | None, list[str], list[str]]:
    """Split "TTLT-BTC-BTP" into ("Thông tư liên tịch", issuers, parts not understood)."""
    parts = suffix.split("-")
    kind = LEGAL_KINDS.get(parts[0])
    if kind:
        parts = parts[1:]
    issuers, unknown = [], []
    for part in parts:
        issuer = LEGAL_ISSUERS.get(part) or LEGAL_ISSUERS.get(part.rstrip("0123456789"))
        (issuers if issuer else unknown).append(issuer or part)
    return kind, issuers, unknown


_LEGAL_KIND_WORDS = (
    "Thông tư liên tịch|Nghị quyết liên tịch|Nghị định|Thông tư|Quyết định|Nghị quyết|Bộ luật|"
    "Luật|Pháp lệnh|Chỉ thị|Công văn|Văn bản|Kế hoạch|Hướng dẫn|Thông báo"
)
_LEGAL_CONTEXT_BEFORE = re.compile(rf"(?<!\w)(?i:số|{_LEGAL_KIND_WORDS})\s*\Z")
_ISSUER_FOLLOWS = re.compile(
    r"\s*,?\s*(?:(?i:ngày)\s+\d{1,2}(?:/\d{1,2}/\d{4}|\s+(?i:tháng)\s+\d{1,2}\s+(?i:năm)\s+\d{4})"
    r"\s*,?\s*)?(?i:của)(?!\w)"
)


def _say_legal_code(m: re.Match[str], lead: Lead) -> str:
    kind, issuers, unknown = _parse_suffix(m["suffix"])
    if m["year"] is None and kind is None and not issuers:
        return lead[0] + m[0] if lead else m[0]  # "12/ABC" without a year: not a document
    written = lead["kind"] if lead else None
    written = LEGAL_KINDS.get(written, written) if written else None
    so = lead["so"] if lead else None
    words = [written] if written else []
    if so:
        words.append(so)
    elif written is None:
        words += [kind, "số"] if kind else ["số"]
    elif written.lower() in _KINDS_WITH_SO:
        words.append("số")
    words.append(_read_number_token(m["num"]))
    if m["year"]:
        words += ["năm", number_to_words(int(m["year"]))]
    if _ISSUER_FOLLOWS.match(m.string, m.end()):
        pass  # the text names the issuer itself ("… ngày 15/5/2015 của Bộ Tư pháp")
    elif issuers:
        words += ["của", " và ".join(issuers)]
    elif unknown:
        words += ["của" if kind else "ký hiệu", " ".join(_spell(p) for p in unknown)]
    return " ".join(words)


_ABBR_ALTERNATIVES = "|".join(
    re.escape(a) + (rf"(?!{_LETTER})" if a[-1].isalnum() else "")  # "NSNN1": digits may follow
    for a in sorted(ABBREVIATIONS, key=len, reverse=True)
)
_ABBR_ONE = re.compile(_ABBR_ALTERNATIVES)


def _say_abbreviation(m: re.Match[str]) -> str:
    if m.string[m.start() - 1 : m.start()].isalpha():
        return m[0]  # inside a longer word (a digit before is fine: "50USD")
    words = " ".join(ABBREVIATIONS[p] for p in _ABBR_ONE.findall(m[0]))
    rest = m.string[m.end() :]
    if m[0] in _SENTENCE_FINAL_ABBR:
        if re.match(r"[ \t]*(?:$|\n)", rest) or rest.lstrip()[:1].isupper():
            words += "."  # "…, v.v. Sau đó" keeps its full stop
    elif m[0].endswith(".") and rest[:1].isalnum():
        words += " "  # "TP.HCM"
    return words


def _say_context_abbreviation(m: re.Match[str]) -> str:
    if m["tp"] and not m.string[m.end() :].lstrip()[:1].isupper():
        return m[0]
    return "thông tư" if m["tt"] else "thành phố"


def _say_emergency(m: re.Match[str], lead: Lead) -> str:
    s = m.string
    in_brackets = s[m.start() - 1 : m.start()] == "(" and s[m.end() : m.end() + 1] == ")"
    if not lead and not in_brackets:
        return m[0]  # "Điều 114" is a number; only a call reads digit by digit
    spoken = re.sub(r"11[1-5]", lambda d: read_digits(d[0]), m[0])
    return lead[0] + spoken if lead else spoken


def _phone_ok(digits: str) -> bool:
    if digits.startswith("0"):
        return 9 <= len(digits) <= 11
    return digits[:4] in ("1800", "1900") and 8 <= len(digits) <= 10


def _phone_groups(digits: str) -> list[str]:
    """How an unbroken phone number is grouped aloud (0277 3851 234, 0912 345 678)."""
    sizes = {8: (4, 4), 9: (3, 3, 3), 10: (4, 3, 3), 11: (4, 4, 3)}[len(digits)]
    out, start = [], 0
    for size in sizes:
        out.append(digits[start : start + size])
        start += size
    return out


def _say_phone(m: re.Match[str]) -> str:
    runs = list(re.finditer(r"[0-9]+", m[0]))
    if len(runs[0][0]) < 3:
        return m[0]
    for k in range(len(runs), 0, -1):  # numbers written right after the phone stay numbers
        digits = "".join(r[0] for r in runs[:k])
        if _phone_ok(digits):
            groups = [r[0] for r in runs[:k]] if k > 1 else _phone_groups(digits)
            return read_digits(" ".join(groups)) + m[0][runs[k - 1].end() :]
    return m[0]


def _say_range(m: re.Match[str]) -> str:
    s, dash = m.string, m.start("dash")
    left = re.search(r"[0-9-]*\Z", s[max(0, dash - 6) : dash])[0]
    right = re.match(r"[0-9-]*", s[m.end() : m.end() + 8])[0]
    if re.fullmatch(r"[0-9]{1,2}-[0-9]{1,2}-[0-9]{4}", left + m["dash"] + right):
        return m[0]  # a date written with dashes
    return m["left"] + " đến "


def _say_date(m: re.Match[str], lead: Lead) -> str:
    day, month, year = int(m["d"]), int(m["m"]), int(m["y"])
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return lead[0] + m[0] if lead else m[0]
    ngay = lead["w"] if lead else "ngày"
    return f"{ngay} {_day_words(day)} tháng {_month_words(month)} năm {number_to_words(year)}"


def _say_month_year(m: re.Match[str], lead: Lead) -> str:
    number, year = int(m["m"]), number_to_words(int(m["y"]))
    if not lead and _LEGAL_CONTEXT_BEFORE.search(m.string, max(0, m.start() - 40), m.start()):
        return f"{number_to_words(number)} năm {year}"  # "Thông tư 01/2022": a document
    if not 1 <= number <= 12:
        return lead[0] + m[0] if lead else m[0]
    return f"{lead['w'] if lead else 'tháng'} {_month_words(number)} năm {year}"


def _say_day_month(m: re.Match[str], lead: Lead) -> str:
    day, month = int(m["d"]), int(m["m"])
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return lead[0] + m[0] if lead else m[0]
    if not lead:
        padded = len(m["d"]) == 2 or len(m["m"]) == 2
        after_so = _AFTER_SO.search(m.string, max(0, m.start() - 8), m.start())
        if after_so or not (padded or day > month):
            return m[0]  # "số 12/3" is an address, "1/2" a fraction
    return f"{lead['w'] if lead else 'ngày'} {_day_words(day)} tháng {_month_words(month)}"


def _say_time(m: re.Match[str]) -> str:
    hour = int(m["h"])
    minute = int(m["min"] or 0)
    if hour > 24 or minute > 59:
        return m[0]
    words = f"{number_to_words(hour)} giờ"
    return f"{words} {number_to_words(minute)} phút" if minute else words


def _say_after_word(
    words: Callable[[int], str], low: int, high: int, after_count: bool = True
) -> Callable[[re.Match[str]], str]:
    """Callback for "<word> <n>" rules; `after_count=False` skips "3 tháng 4 ngày" (durations)."""

    def say(m: re.Match[str]) -> str:
        n = int(m["n"])
        if not low <= n <= high:
            return m[0]
        before = m.string[max(0, m.start() - 3) : m.start()]
        if not after_count and re.search(r"[0-9]\s*\Z", before):
            return m[0]
        return f"{m['w']} {words(n)}"

    return say


def _ordinal_words(n: int) -> str:
    """After "thứ": 1 "nhất", 4 "tư" ("thứ hai" … "thứ bảy" are weekdays too)."""
    return {1: "nhất", 4: "tư"}.get(n) or number_to_words(n)


def _say_roman(m: re.Match[str], lead: Lead) -> str:
    value = _roman_value(m["r"])
    if value is None or lead is None:
        return lead[0] + m[0] if lead else m[0]
    words = f"{lead['pre']} {number_to_words(value)}"
    if m["suf"]:
        words += f" {m['suf']}"
    if m["y"]:
        words += f" năm {number_to_words(int(m['y']))}"
    return words


def _say_fraction(m: re.Match[str]) -> str:
    a, b = (int(x.replace(".", "")) for x in (m["a"], m["b"]))
    glued = m.string[m.start() - 1 : m.start()].isalpha()  # a form code "ĐKX10/79"
    return f"{m['a']} {'phần' if a < b and not glued else 'trên'} {m['b']}"


_THOUSANDS = re.compile(r"([0-9]{1,3}(?:\.[0-9]{3})+)(?:,([0-9]+))?")
_DECIMAL = re.compile(r"([0-9]+),([0-9]+)")
_DOTTED = re.compile(r"[0-9]+(?:\.[0-9]+)+")


def _read_number_text(token: str, after_letter: bool) -> str:
    """One written number: thousands "1.500.000", decimal "1,5", section "2.3", integer."""
    if m := _THOUSANDS.fullmatch(token):
        words = number_to_words(int(m[1].replace(".", "")))
        return words + (" phẩy " + _read_fraction_digits(m[2]) if m[2] else "")
    if m := _DECIMAL.fullmatch(token):
        return number_to_words(int(m[1])) + " phẩy " + _read_fraction_digits(m[2])
    if _DOTTED.fullmatch(token):
        return _read_dotted(token)
    if token.isdigit():
        if after_letter and token.startswith("0"):
            return read_digits(token)  # "CC02": a form code, "xê xê không hai"
        return _read_integer_text(token)
    # Mixed marks such as "1,2,3": each number, the marks as pauses.
    return re.sub(
        r"[0-9]+|[.,]", lambda p: "," if p[0] in ".," else _read_integer_text(p[0]), token
    ).replace(",", ", ")


def _say_number(m: re.Match[str]) -> str:
    s = m.string
    after_letter = s[m.start() - 1 : m.start()].isalpha()
    words = _read_number_text(m[0], after_letter)
    if after_letter:
        words = " " + words
    if s[m.end() : m.end() + 1].isalpha():
        words += " "
    return words


_PER_UNIT = re.compile(r"(?<!\w)(?:đồng|lần|người|mét vuông|ki lô mét|ki lô gam|héc ta)\Z")


def _say_slash(m: re.Match[str]) -> str:
    before = m.string[max(0, m.start() - 12) : m.start()]
    word_end = before.rstrip(" \t")
    if not word_end[-1:].isalpha():
        return m[0]
    between = " một " if _PER_UNIT.search(word_end) else " hoặc "  # a price per unit
    return between[1:] if before[-1:] in " \t" else between


def _say_word_dash(m: re.Match[str]) -> str:
    s = m.string
    if s[m.start() - 1].islower() and s[m.end()].isupper():
        return ", "  # "Lao động-Thương binh"
    return m[0]


# ---------------------------------------------------------------- the rules, in order


@dataclass(frozen=True)
class Rule:
    """One rewrite: `why` says what it reads and how, in one line."""

    why: str
    pattern: re.Pattern[str]
    replace: str | Callable[..., str]
    needs: str = ""  # the rule cannot match unless one of these characters is in the text
    # Words just before a match (e.g. "ngày ") that its reading absorbs. Looked for only where
    # `pattern` matched, so `pattern` can start with a digit and the scan stays fast; the
    # callback then takes (match, lead match or None).
    lead: re.Pattern[str] | None = None

    def apply(self, text: str) -> str:
        if self.needs and not any(c in text for c in self.needs):
            return text  # cheap skip: most answers have few numbers and symbols
        if self.lead is None:
            return self.pattern.sub(self.replace, text)
        out, done = [], 0
        for m in self.pattern.finditer(text):
            lead = self.lead.search(text, max(done, m.start() - 40), m.start())
            lead = lead if lead and lead[0] else None
            out += [text[done : lead.start() if lead else m.start()], self.replace(m, lead)]
            done = m.end()
        out.append(text[done:])
        return "".join(out)


def _word(word: str) -> str:
    """A whole word, either case at its start; written so the regex scan can skip ahead."""
    first = f"[{word[0].upper()}{word[0]}]"
    return rf"{first}(?<!\w{first}){word[1:]}(?!\w)"


def _lead_word(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?P<w>{_word(word)})\s+\Z")


# A number starts here: a digit not glued after another digit, a letter, "/", "." or ",".
_NUM_START = r"[0-9](?<![\w/.,][0-9])"
_NUM_END = r"(?![\w/]|[.,][0-9])"
_MINUTE_MARK = r"(?:\s*phút(?!\w)|'|p(?!\w))?"
_AFTER_SO = re.compile(r"(?<!\w)(?i:số)\s*\Z")

RULES: tuple[Rule, ...] = (
    Rule(
        "Bullets at the start of a line are layout, not words.",
        re.compile(r"^[ \t]*[-+•–][ \t]+", re.M),
        "",
        "-+•–",
    ),
    Rule(
        "Legal codes, read as officials do: 'Nghị định 123/2015/NĐ-CP' → '… năm … của Chính phủ'.",
        re.compile(
            rf"(?P<num>{_NUM_START}[0-9]*(?:\.[0-9]+)?)/(?:(?P<year>(?:19|20)[0-9]{{2}})/)?"
            r"(?P<suffix>[A-ZĐ][A-Za-zĐđ]*[0-9]*(?:-[A-ZĐ][A-Za-zĐđ]*[0-9]*)*)(?![\w-])"
        ),
        _say_legal_code,
        "/",
        lead=re.compile(
            rf"(?:(?<!\w)(?P<kind>(?i:{_LEGAL_KIND_WORDS})|TTLT|NQLT|NĐ|TT|QĐ|NQ)\s+)?"
            r"(?:(?<!\w)(?P<so>(?i:số))\s*)?\Z"
        ),
    ),
    Rule(
        "Abbreviations from the table, whole words, case-sensitive; 'QĐ-UBND' chains too.",
        re.compile(rf"(?:{_ABBR_ALTERNATIVES})(?:-(?:{_ABBR_ALTERNATIVES}))*"),
        _say_abbreviation,
    ),
    Rule(
        "TT is a thông tư only before a number; TP a thành phố only before a name.",
        re.compile(r"T(?<!\wT)(?:(?P<tt>T)(?=\s+(?:số\s+)?[0-9])|(?P<tp>P)(?=\s+\w))"),
        _say_context_abbreviation,
        "T",
    ),
    Rule(
        "Amounts of money written with English thousands commas: '7,000 đồng' → '7.000 đồng'.",
        re.compile(
            rf"{_NUM_START}[0-9]{{0,2}}(?:,[0-9]{{3}})+"
            r"(?=\s*(?:đồng|Đồng|đ|VNĐ|VND|Việt Nam [Đđ]ồng)(?!\w))"
        ),
        lambda m: m[0].replace(",", "."),
        ",",
    ),
    Rule(
        "Emergency numbers 111–115 digit by digit when a call is meant: 'Gọi 114', 'Công an: 113'.",
        re.compile(r"1(?<![0-9]1)1[1-5](?:\s*(?:,|/|hoặc|và)\s*11[1-5])*(?![0-9/]|[.,][0-9])"),
        _say_emergency,
        "1",
        lead=re.compile(
            r"(?<!\w)(?i:gọi|tổng đài|đường dây nóng|hotline|quay|bấm|điện thoại|công an|cảnh sát"
            r"|cứu hỏa|cứu hoả|chữa cháy|cứu nạn|cứu hộ|cấp cứu|khẩn cấp|PCCC|phòng cháy chữa cháy)"
            r"(?:\s+(?i:ngay|số|tới|đến|cho|về|khẩn cấp))*\s*:?\s*\Z"
        ),
    ),
    Rule(
        "Phone numbers digit by digit, a pause between groups: '0277 3851 234', '1900 1234'.",
        re.compile(r"[01](?<![\w.,/-][01])[0-9]+(?:[ .-][0-9]{2,})*(?!\w)"),
        _say_phone,
        "01",
    ),
    Rule(
        "A dash between numbers is a range: '3-5 ngày', '7h30 – 11h30' → '… đến …'.",
        re.compile(r"(?P<left>[0-9][h%]?)\s*(?P<dash>[-–—])\s*(?=[0-9])"),
        _say_range,
        "-–—",
    ),
    Rule(
        "Full dates '01/7/2025' → 'ngày mùng một tháng bảy năm …', without doubling 'ngày'.",
        re.compile(
            rf"(?P<d>{_NUM_START}[0-9]?)(?P<sep>[/.-])(?P<m>[0-9]{{1,2}})(?P=sep)"
            rf"(?P<y>[0-9]{{4}}){_NUM_END}"
        ),
        _say_date,
        "/.-",
        lead=_lead_word("ngày"),
    ),
    Rule(
        "Month and year '7/2025', 'tháng 7/2025' → 'tháng bảy năm …'.",
        re.compile(rf"(?P<m>{_NUM_START}[0-9]?)/(?P<y>(?:19|20)[0-9]{{2}}){_NUM_END}"),
        _say_month_year,
        "/",
        lead=_lead_word("tháng"),
    ),
    Rule(
        "Day and month '30/9' after 'ngày' (or zero-padded, or day > month) → 'ngày … tháng …'.",
        re.compile(rf"(?P<d>{_NUM_START}[0-9]?)/(?P<m>[0-9]{{1,2}}){_NUM_END}"),
        _say_day_month,
        "/",
        lead=_lead_word("ngày"),
    ),
    Rule(
        "Clock times '15h30', '15h', '7h30p' → 'mười lăm giờ ba mươi phút', 'mười lăm giờ'.",
        re.compile(rf"(?P<h>{_NUM_START}[0-9]?)h(?P<min>[0-9]{{2}})?{_MINUTE_MARK}(?!\w)"),
        _say_time,
        "h",
    ),
    Rule(
        "Clock times '15g30'.",
        re.compile(rf"(?P<h>{_NUM_START}[0-9]?)g(?P<min>[0-9]{{2}}){_MINUTE_MARK}(?!\w)"),
        _say_time,
        "g",
    ),
    Rule(
        "Clock times '7 giờ 30' (no 'phút' written) → 'bảy giờ ba mươi phút'.",
        re.compile(rf"(?P<h>{_NUM_START}[0-9]?)\s*giờ\s*(?P<min>[0-9]{{2}})(?![0-9]|\s*phút)"),
        _say_time,
        "ờ",
    ),
    Rule(
        "Clock times '07:30'.",
        re.compile(r"(?P<h>[0-9](?<![\w.,:][0-9])[0-9]?):(?P<min>[0-9]{2})(?![0-9:])"),
        _say_time,
        ":",
    ),
    Rule(
        "Percentages '50%' → '50 phần trăm' (the number is read below).",
        re.compile(r"([0-9])\s*%"),
        r"\1 phần trăm",
        "%",
    ),
    Rule(
        "Money signs after a number: '8.000đ', '50.000 VND' → '… đồng'.",
        re.compile(r"([0-9])\s*(?:VNĐ|VND|vnđ|vnd|đ|Đ)(?!\w)"),
        r"\1 đồng",
        "đĐVv",
    ),
    Rule(
        "Sizes '4x6', '4x6cm', '3 cm x 4 cm' → 'bốn nhân sáu'.",
        re.compile(r"(?P<n>[0-9])\s*(?P<u>cm|mm|m)?\s*[xX×]\s*(?=[0-9])"),
        lambda m: f"{m['n']} {m['u'] + ' ' if m['u'] else ''}nhân ",
        "xX×",
    ),
    Rule(
        "Units after a number: '15m2', '4x6cm', '2 ha' → 'mét vuông', 'xen ti mét', 'héc ta'.",
        re.compile(
            r"(?P<n>[0-9])\s*(?P<u>"
            + "|".join(sorted(map(re.escape, UNIT_WORDS), key=len, reverse=True))
            + r")(?!\w)"
        ),
        lambda m: f"{m['n']} {UNIT_WORDS[m['u']]}",
        "mkh",
    ),
    Rule(
        "Ordinals 'thứ 2', 'thứ 4', 'thứ 1' → 'thứ hai', 'thứ tư', 'thứ nhất'.",
        re.compile(rf"(?P<w>{_word('thứ')})\s+(?P<n>[0-9]{{1,2}}){_NUM_END}"),
        _say_after_word(_ordinal_words, 1, 99),
        "ứ",
    ),
    Rule(
        "Day of month 'ngày 1' → 'ngày mùng một', 'ngày 15' → 'ngày mười lăm'.",
        re.compile(rf"(?P<w>{_word('ngày')})\s+(?P<n>[0-9]{{1,2}}){_NUM_END}"),
        _say_after_word(_day_words, 1, 31),
        "à",
    ),
    Rule(
        "Month 'tháng 4' → 'tháng tư' (not '3 tháng 4 ngày', a duration).",
        re.compile(rf"(?P<w>{_word('tháng')})\s+(?P<n>[0-9]{{1,2}}){_NUM_END}"),
        _say_after_word(_month_words, 1, 12, after_count=False),
        "á",
    ),
    Rule(
        "Roman numerals after 'Phụ lục', 'Chương', 'Mục', 'Quý'…: 'Phụ lục II' → 'Phụ lục hai'.",
        re.compile(
            r"(?P<r>[IVXL](?<!\w[IVXL])[IVXL]*)(?P<suf>[a-z]?)(?:/(?P<y>(?:19|20)[0-9]{2}))?(?!\w)"
        ),
        _say_roman,
        "IVXL",
        lead=re.compile(
            r"(?<!\w)(?P<pre>(?i:phụ lục|chương|phần|mục|quý|khóa|khoá|tập|biểu))\s+\Z"
        ),
    ),
    Rule(
        "Fractions and slashed numbers: '1/2' → '1 phần 2', 'ĐKX10/79' → '10 trên 79'.",
        re.compile(
            r"(?P<a>[0-9](?<![0-9.,/][0-9])[0-9]*(?:\.[0-9]{3})*)"
            rf"/(?P<b>[0-9]+(?:\.[0-9]{{3}})*){_NUM_END}"
        ),
        _say_fraction,
        "/",
    ),
    Rule(
        "Numbers: '1.500.000', '1,5' → 'một phẩy năm', '2.3' → 'hai chấm ba', '05' → 'năm'.",
        re.compile(r"[0-9](?<![0-9][0-9])[0-9]*(?:[.,][0-9]+)*"),
        _say_number,
        _DIGITS,
    ),
    Rule(
        "'ngày/tháng/năm' is one phrase, not alternatives.",
        re.compile(r"(?i:ngày)\s*/\s*(?i:tháng)\s*/\s*(?i:năm)"),
        lambda m: re.sub(r"\s*/\s*", " ", m[0]),
        "/",
    ),
    Rule("'&' → 'và'.", re.compile(r"\s*&\s*"), " và ", "&"),
    Rule("'+' between terms → 'cộng'.", re.compile(r"(?<=[\w)])\s*\+\s*(?=[\w(])"), " cộng ", "+"),
    Rule(
        "'/' between words: 'xã/phường' → 'xã hoặc phường', '8.000 đồng/bản' → 'đồng một bản'.",
        re.compile(rf"/[ \t]*(?={_LETTER})"),
        _say_slash,
        "/",
    ),
    Rule(
        "A spaced dash or an en/em dash between words is a pause.",
        re.compile(r"(?<=[\w)])(?:[ \t]+[-–—][ \t]+|[ \t]*[–—][ \t]*)(?=\S)"),
        ", ",
        "-–—",
    ),
    Rule(
        "A hyphen from a lowercase to a capital word is a pause: 'Lao động-Thương binh'.",
        re.compile(r"(?<=\w)-(?=\w)"),
        _say_word_dash,
        "-",
    ),
)


def to_spoken(text: str) -> str:
    """The same sentences with numbers, dates, codes and abbreviations as words to be said.

    Web and mail addresses are left exactly as written.
    """
    pieces = _URL_OR_EMAIL.split(text)
    for i in range(0, len(pieces), 2):
        piece = pieces[i]
        for rule in RULES:
            piece = rule.apply(piece)
        pieces[i] = piece
    return "".join(pieces)
