"""Parsers for the national public service portal's flattened record fields.

The portal crawl stores table cells glued together without separators ("Trực tiếp5 Ngày làm
việcLệ phí : 8.000 Đồng…", "…Luật Hộ tịch123/2015/NĐ-CP…") and free text with hard line
wraps inside sentences. Each function here turns one such field into plain structured values,
recovering cell boundaries from what the cells look like (mode names, time units, money,
"N bản chính", document numbers). Nothing is guessed: a value that cannot be read is reported
as unknown so the importer can say so instead of inventing it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

PLACEHOLDER = "Chưa có thông tin trên Cổng dịch vụ công; bác hỏi cán bộ một cửa."

MODES = {"Trực tiếp": "in_person", "Trực tuyến": "online", "Dịch vụ bưu chính": "post"}
MODE_WORDS = {"in_person": "nộp trực tiếp", "online": "nộp trực tuyến", "post": "qua bưu chính"}


def clean(text: str) -> str:
    """NFC, no non-breaking spaces or tabs, single spaces inside lines, lines kept."""
    text = unicodedata.normalize("NFC", text).replace("\xa0", " ").replace("\t", " ")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(re.sub(r" {2,}", " ", line).strip() for line in text.split("\n")).strip()


def one_line(text: str) -> str:
    """NFC, all whitespace (line breaks, non-breaking spaces) collapsed to single spaces."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def is_missing(text: str) -> bool:
    """The portal's ways of saying nothing: empty, 'Không có thông tin'."""
    if len(text) > 60:
        return False
    return one_line(text).strip(" .").lower() in {"", "không có thông tin"}


def format_vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".")


# ---------------------------------------------------------------------------------------------
# cach_thuc_thuc_hien: "Hình thức nộpThời gianPhí, lệ phíMô tả" + rows of mode|time|fee|note


_MODE_RE = "|".join(MODES)
_TIME_UNITS = "Ngày làm việc|Ngày|Giờ|Tháng|Năm|Phút|Tuần"
_TIME_RE = rf"\d+(?:[.,]\d+)? (?:{_TIME_UNITS})|\d+|Không[^\n]{{0,60}}?"
_FEE_RE = (
    r"Miễn phí|Không có thông tin|(?:Lệ phí|Phí)\s*:\s*\d[\d.,]*\s*Đồng"
    r"|\d[\d.,]*\s*(?:VNĐ|Việt Nam Đồng|Đồng|USD)"
)
_ROW = re.compile(rf"(?P<mode>{_MODE_RE})(?P<time>{_TIME_RE})(?P<fee>{_FEE_RE})")
# Fallback for tables whose time cell is a sentence ("Hệ thống … phản hồi tự động.").
_LOOSE_ROW = re.compile(rf"(?P<mode>{_MODE_RE})(?P<time>[^\n]{{1,200}}?)(?P<fee>{_FEE_RE})")


@dataclass
class ModeRow:
    """One row of the submission table, cells separated again."""

    mode: str
    time: str
    fee: str
    fee_note: str = ""
    description: str = ""
    # The time cell was a bare number glued to a money amount ("Trực tuyến120 VNĐ"):
    # where one ends and the other begins cannot be known.
    ambiguous: bool = False


def _balanced_parenthesis(text: str, start: int) -> int:
    """Index just after the parenthesis group opening at text[start], or -1 if unclosed."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def parse_submission_table(text: str) -> list[ModeRow]:
    """Rows of the 'Cách thức thực hiện' table, in page order."""
    text = clean(text)
    matches = list(_ROW.finditer(text)) or list(_LOOSE_ROW.finditer(text))
    rows = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        rest, note = text[m.end() : end], ""
        if rest.startswith("("):
            close = _balanced_parenthesis(rest, 0)
            if close > 0:
                note, rest = rest[1 : close - 1], rest[close:]
        time, fee = m.group("time").strip(), m.group("fee")
        rows.append(
            ModeRow(
                mode=MODES[m.group("mode")],
                time=time,
                fee=fee,
                fee_note=one_line(note),
                description=one_line(rest),
                ambiguous=time.isdigit() and fee[0].isdigit(),
            )
        )
    return rows


@dataclass
class Duration:
    """A processing time as the box can say it."""

    text: str
    working_days: float | None = None
    issue: str = ""  # "", or why it cannot be said: "missing", "no_unit", "unreadable"

    @property
    def known(self) -> bool:
        return not self.issue


_DESCRIBED_TIME = re.compile(
    r"^(?:Trong (?:thời hạn|vòng) |Không quá |Tối đa )?0*(\d+)\s*(ngày làm việc|ngày|giờ)\b",
    re.IGNORECASE,
)


def _number(text: str) -> float:
    value = float(text.replace(",", "."))
    return int(value) if value.is_integer() else value


def interpret_time(row: ModeRow) -> Duration:
    """Read a time cell ('5 Ngày làm việc', '1', 'Không quy định', …) into a Duration."""
    if row.ambiguous:
        return Duration(PLACEHOLDER, None, issue="unreadable")
    cell = row.time
    described = _DESCRIBED_TIME.match(row.description) if len(row.description) <= 200 else None
    m = re.fullmatch(rf"(\d+(?:[.,]\d+)?) ({_TIME_UNITS})", cell)
    if m:
        number, unit = _number(m.group(1)), m.group(2).lower()
        days = number if unit in ("ngày làm việc", "ngày") else None
        if described and int(described.group(1)) == number:
            return Duration(row.description.rstrip(". "), days)
        return Duration(f"{number} {unit}", days)
    if cell.isdigit():
        if described and int(described.group(1)) == int(cell):
            unit = described.group(2).lower()
            days = int(cell) if unit.startswith("ngày") else None
            return Duration(row.description.rstrip(". "), days)
        return Duration(f"{int(cell)} (Cổng dịch vụ công không ghi đơn vị)", None, issue="no_unit")
    if cell.rstrip(". ").lower() == "không quy định":
        return Duration("Không quy định thời hạn", None)
    if is_missing(cell) or cell.strip().lower() == "không":
        return Duration(PLACEHOLDER, None, issue="missing")
    return Duration(cell.rstrip(". "), None)


@dataclass
class FeeInfo:
    """One fee as the catalogue schema wants it, plus what the importer must caveat."""

    name: str
    amount_vnd: int | None
    text: str
    unit: str | None = None
    exemptions: list[str] = field(default_factory=list)
    known: bool = True  # False: the portal gives no usable fee
    unclear: bool = False  # the figure looks mistyped or runs into the time cell
    by_province: bool = False  # the note says the provincial council sets it

    def as_schema(self) -> dict:
        fee: dict = {"name": self.name, "amount_vnd": self.amount_vnd, "text": self.text}
        if self.unit:
            fee["unit"] = self.unit
        if self.exemptions:
            fee["exemptions"] = self.exemptions
        return fee


_NOTE_AMOUNT = re.compile(r"(\d{1,3}(?:[.,]\d{3})+|\d+)\s*(?:đồng|đ|vnđ|vnd)(?![^\W\d_])", re.I)
_UNIT_NOTE = re.compile(r"^(?:\d[\d.,]*\s*(?:đồng|đ|vnđ|vnd)?\s*)?/\s*([^()]+?)[.)\s]*$", re.I)
_NOTHING_NOTE = re.compile(r"^(?:không|không quy định|chưa quy định|không có)\.?$", re.I)


def _exemptions(note: str) -> list[str]:
    sentences = re.split(r"(?<=[.;])\s+", note)
    return [s.strip(" .;") for s in sentences if re.match(r"(?i)miễn (?:lệ phí|phí)\b", s)]


def interpret_fee(row: ModeRow) -> FeeInfo:
    """Read a fee cell and its note. A fixed amount only when the portal's figures agree."""
    token, note = row.fee, row.fee_note
    name = "Lệ phí" if token.startswith("Lệ phí") else "Phí" if token.startswith("Phí") else ""
    name = name or "Phí, lệ phí"
    by_province = bool(re.search(r"Hội đồng nhân dân|HĐND", note))
    exemptions = _exemptions(note)
    if row.ambiguous:
        text = note or PLACEHOLDER
        return FeeInfo(
            name, None, text, exemptions=exemptions, unclear=True, by_province=by_province
        )
    if token == "Miễn phí":
        if not note or _NOTHING_NOTE.match(note):
            return FeeInfo(name, 0, "Miễn phí")
        # The portal shows "Miễn phí" by default; a note about the amount overrides it.
        return FeeInfo(name, None, note, exemptions=exemptions, by_province=by_province)
    if token == "Không có thông tin":
        if note and not _NOTHING_NOTE.match(note):
            return FeeInfo(name, None, note, exemptions=exemptions, by_province=by_province)
        return FeeInfo(name, None, PLACEHOLDER, known=False)
    m = re.search(r"(\d[\d.,]*)\s*(VNĐ|Việt Nam Đồng|Đồng|USD)", token)
    assert m, token  # guaranteed by _FEE_RE
    digits, currency = m.group(1), m.group(2)
    if currency == "USD":
        text = f"{digits} USD" + (f" ({note})" if note else "")
        return FeeInfo(name, None, text, exemptions=exemptions, by_province=by_province)
    amount = int(re.sub(r"[.,]", "", digits))
    if amount == 0 and not note:
        return FeeInfo(name, 0, "Miễn phí")
    if amount < 1000:  # no fee is this small: a typing slip on the portal
        text = f"Cổng dịch vụ công ghi {format_vnd(amount)} đồng" + (f"; {note}" if note else "")
        return FeeInfo(
            name, None, text, exemptions=exemptions, unclear=True, by_province=by_province
        )
    note_amounts = {int(re.sub(r"[.,]", "", a)) for a in _NOTE_AMOUNT.findall(note)}
    if note_amounts and amount not in note_amounts:
        # Usually a temporary rate ("áp dụng mức phí … kể từ ngày 01/7/2025 …"): say both.
        text = f"{format_vnd(amount)} đồng ({note})"
        return FeeInfo(name, None, text, exemptions=exemptions, by_province=by_province)
    unit_match = _UNIT_NOTE.match(note) if note else None
    unit = unit_match.group(1).strip() if unit_match else None
    text = f"{format_vnd(amount)} đồng" + (f"/{unit}" if unit else "")
    if note and not unit_match:
        text += f" ({note})"
    return FeeInfo(name, amount, text, unit, exemptions, by_province=by_province)


# ---------------------------------------------------------------------------------------------
# thanh_phan_ho_so: "<group heading>Tên giấy tờMẫu đơn, tờ khaiSố lượng<doc><template><qty>…"

_DOC_HEADER = "Tên giấy tờMẫu đơn, tờ khaiSố lượng"
# "N bản chính[,M bản sao]" ends each row. The count is one digit when digits precede it:
# "…năm 20201 bản chính" is the year 2020 and one original.
_QUANTITY = re.compile(
    r"(?:(?<!\d)(?P<n1>\d{1,2})|(?<=\d)(?P<n2>\d)) bản chính(?:,\s*(?P<copies>\d{1,2}) bản sao)?"
)
_NOT_ROW_END = set(" .;,):")
_TEMPLATE_EXT = re.compile(r"\.(?:docx?|pdf|xlsx?|rar|zip|odt)$", re.I)
_LIST_MARKER = re.compile(
    r"^(?:[-+•*–]+\s*|\(?[ivx]+\)\s*|\(?[a-zđ](?:\.\d+|\d)?\)\s*|\(?\d+(?:\.\d+)*[.)]\s+)+"
)
_GENERIC_HEADINGS = {"", "giấy tờ phải nộp", "thành phần hồ sơ", "hồ sơ gồm", "hồ sơ"}
_GENERIC_INTRO = re.compile(r"giấy tờ sau|hồ sơ gồm|thành phần hồ sơ", re.IGNORECASE)
_NOTE_START = re.compile(r"(?:lưu ý|ghi chú)\b", re.IGNORECASE)


def _split_template(name: str) -> tuple[str, str | None]:
    """Separate a glued form file name ('…theo mẫuMẫu TP-01.docx') from the document name."""
    m = _TEMPLATE_EXT.search(name)
    if not m:
        return name, None
    stem = name[: m.start()]
    cut = max(stem.rfind(c) for c in ".);:”")
    start = cut + 1 if cut >= 0 else 0
    segment = stem[start:]
    if " " in segment.strip():
        joins = [j.start() + 1 for j in re.finditer(r"[a-zà-ỹđ][A-ZĐÀ-ỸẠ-Ỹ]", segment)]
        joins = [j for j in joins if not segment[j - 1].isupper()]
        if joins:
            start += joins[-1]
    doc, template = name[:start].strip(" .;:"), stem[start:].replace("_", " ").strip()
    if len(doc) < 5:  # the boundary could not be found: keep the text, drop the file name
        return stem.strip(" .;:"), None
    return doc, template or None


def _clean_doc_name(text: str) -> str:
    text = one_line(text)
    text = _LIST_MARKER.sub("", text)
    return re.sub(r"\s*\.\d+$", "", text.strip(" ;,.:")).strip(" ;,.:")


def _document(text: str, originals: int, copies: int, heading: str, condition: str) -> dict | None:
    name, template = _split_template(one_line(text))
    name = _clean_doc_name(name)
    if not name:
        return None
    doc: dict = {"name": name}
    lower = name.lower()
    if "xuất trình" in heading.lower():
        doc["copies"], doc["form"] = 0, "present"
    elif originals and copies:
        doc["copies"], doc["form"] = max(originals, copies), "any"
    elif originals:
        doc["copies"], doc["form"] = originals, "original"
    elif copies:
        certified = re.search(r"(?:có|được) chứng thực|sao y", lower) and not re.search(
            r"kèm (?:theo )?bản chính|đối chiếu|bản chụp|hoặc bản sao(?! có chứng thực)", lower
        )
        doc["copies"], doc["form"] = copies, "certified_copy" if certified else "copy"
    condition = condition.strip(" *-:.").strip()
    if condition.lower() not in _GENERIC_HEADINGS and "xuất trình" not in condition.lower():
        doc["condition"] = condition
    if template:
        doc["template"] = template
    return doc


def _is_note(heading: str, name: str) -> bool:
    """Rows of a 'Lưu ý' group, or rows that are notes: rules for the clerk, not documents."""
    return bool(_NOTE_START.match(heading.strip(" *-")) or _NOTE_START.match(name))


def _group_rows(body: str) -> tuple[list[tuple[str, int, int]], str]:
    """(text, originals, copies) of each row of one table, and the text left after the last."""
    rows, last = [], 0
    for m in _QUANTITY.finditer(body):
        if m.end() < len(body) and body[m.end()] in _NOT_ROW_END:
            continue  # "01 bản chính hoặc …" inside a document's own text
        if _QUANTITY.match(body, m.end()):
            continue  # "…Phiếu giao hàng: 02 bản chính" + the row's own "1 bản chính"
        originals = int(m.group("n1") or m.group("n2"))
        rows.append((body[last : m.start()], originals, int(m.group("copies") or 0)))
        last = m.end()
    return rows, body[last:].strip()


def _add(docs: list[dict], doc: dict) -> None:
    """Append, or complete the same document listed twice."""
    same = next((d for d in docs if d["name"] == doc["name"]), None)
    if same is None:
        docs.append(doc)
    else:
        for key, value in doc.items():
            same.setdefault(key, value)


def parse_documents(text: str) -> list[dict]:
    """Documents of 'Thành phần hồ sơ', each with copies/form/condition when the row says.

    A row that ends with ':' ("…hồ sơ phải bổ sung:") is not a document but the condition of
    the rows after it in its table; 'Lưu ý' rows are notes for the clerk and are left out."""
    text = one_line(text)
    if is_missing(text):
        return []
    groups = text.split(_DOC_HEADER)
    heading = groups[0] if len(groups) > 1 else ""
    bodies = groups[1:] if len(groups) > 1 else groups
    docs: list[dict] = []
    for index, body in enumerate(bodies):
        rows, tail = _group_rows(body)
        if tail and index + 1 == len(bodies):
            rows.append((tail, 0, 0))
        condition = heading
        for row_text, originals, copies in rows:
            doc = _document(row_text, originals, copies, heading, condition)
            if doc is None or _is_note(heading, doc["name"]):
                continue
            if doc["name"].endswith(":") or row_text.rstrip().endswith(":"):
                if not _GENERIC_INTRO.search(doc["name"]):
                    condition = doc["name"].rstrip(":")
                continue
            _add(docs, doc)
        heading = tail  # text after the last row heads the next table
    return docs


# ---------------------------------------------------------------------------------------------
# can_cu_phap_ly: "Tên văn bản pháp lýMã văn bản" + rows of <title><code>

# Issuer and document-type abbreviations, each before its prefixes, so that a title glued
# after a code ("…/NĐ-CPLUẬT …", "…/TT-BTCNghị định …") is not swallowed into the code.
_ISSUERS = (
    *("UBTƯMTTQVN", "BNN&PTNT", "BLĐTBXH", "BVHTTDL", "BNNPTNT", "TANDTC", "VKSNDTC", "BKHĐT"),
    *("BGTVT", "BTTTT", "BNNMT", "BTNMT", "BKHCN", "BGDĐT", "NQLT", "TTLT", "UBND", "HĐND"),
    *("VPCP", "NHNN", "HĐTP", "BTC", "BTP", "BCA", "BXD", "BYT", "BQP", "BCT", "BNV", "BNG"),
    *("CTN", "TTg", "NĐ", "ND", "TT", "QĐ", "NQ", "PL", "CP", "CT", "L", "C"),
)
_KNOWN_PARTS = "|".join(map(re.escape, _ISSUERS))
_PART = rf"(?:UBTVQH\d{{2}}|QH\d{{2}}|{_KNOWN_PARTS}|[A-ZĐ&]+(?![^\W\d_]))"
_DOC_CODE = re.compile(
    r"(?<!/)(?<!/\d)(?<!/\d\d)(?<!/\d{3})(?P<num>\d+(?:\.\d+)?)/(?P<year>(?:19|20)\d{2})"
    rf"(?:/(?P<suffix>{_PART}(?:-{_PART})*))?"
)
_GLUED_DOC_TYPE = re.compile(
    r"(?<=\S)(?:Bộ luật|Luật|Nghị định|Thông tư(?: liên tịch)?|Quyết định|Nghị quyết(?: liên tịch)?"
    r"|Pháp lệnh|Lệnh|Văn bản hợp nhất)(?: số)?\s*$"
)


@dataclass
class LegalDoc:
    code: str
    title: str


_DOC_TYPE_BEFORE = re.compile(
    r"(?:Luật|Nghị định|Thông tư|Quyết định|Nghị quyết|Pháp lệnh|Lệnh)(?: liên tịch)?(?: số)?\s*$",
    re.IGNORECASE,
)


def _is_row_end(text: str, m: re.Match, following: re.Match | None) -> bool:
    """Does the document number `m` end a table row (its 'Mã văn bản' cell)?

    A code cell is followed directly by the next row's title ("…QH13Thông tư …", or one that
    starts with its own number) or by a space and a capitalised title ("…/NĐ-CP Nghị định …").
    Inside a title a number goes on with "ngày …" or punctuation, is repeated at once by the
    code cell ("Luật 60/2014/QH1360/2014/QH13"), or follows its own document type
    ("Thông tư số 40/2025/TT-BTC Sửa đổi …")."""
    end = m.end()
    if end >= len(text):
        return True
    nxt = text[end]
    if nxt.isdigit():
        repeated = following is not None and following.start() == end
        if repeated and following.group(0) == m.group(0):
            return False
        return not _DOC_TYPE_BEFORE.search(text, max(0, m.start() - 40), m.start())
    if nxt in ".,;:)]}”\"'" or text.startswith("ngày", end):
        return False
    if not nxt.isspace():
        return True
    word = text[end:].split(maxsplit=1)[0] if text[end:].strip() else ""
    if not word[:1].isupper() or word.upper() == "NGÀY":
        return False
    return not _DOC_TYPE_BEFORE.search(text, max(0, m.start() - 40), m.start())


def parse_legal_basis(text: str) -> list[LegalDoc]:
    """(code, title) pairs of 'Căn cứ pháp lý', codes such as 60/2014/QH13 or 66.7/2025/NQ-CP."""
    text = one_line(text)
    text = text.removeprefix("Tên văn bản pháp lý").removeprefix("Mã văn bản")
    docs: list[LegalDoc] = []
    seen: dict[str, LegalDoc] = {}
    row_start = 0
    matches = list(_DOC_CODE.finditer(text))
    for i, m in enumerate(matches):
        if not _is_row_end(text, m, matches[i + 1] if i + 1 < len(matches) else None):
            continue
        title = text[row_start : m.start()]
        number = m.group("num")
        # "…năm 2015" + "91/2015/QH13" arrives as "201591/2015/QH13": give the year back.
        glued_year = re.match(r"(?:19|20)\d{2}\.?(?=\d)", number)
        if glued_year and ((len(number) > 4 and number.isdigit()) or "." in glued_year.group(0)):
            title, number = title + glued_year.group(0), number[glued_year.end() :]
        code = number + m.group(0)[len(m.group("num")) :]
        title = _GLUED_DOC_TYPE.sub("", title).strip(" -.,;:")
        row_start = m.end()
        if code not in seen:
            seen[code] = LegalDoc(code, title)
            docs.append(seen[code])
        elif not seen[code].title:
            seen[code].title = title
    return docs


# ---------------------------------------------------------------------------------------------
# ket_qua_xu_ly: "<result>Mã: KQ.G15.000031<result>Mã: …Từ khóa…Mô tả…<page chrome>"

_RESULT_CODE = re.compile(r"Mã:\s*KQ\.[A-Z]\d+\.\d{6}")


def clean_result(text: str) -> str:
    """Result documents without the portal's result codes and page chrome."""
    text = one_line(text)
    if _RESULT_CODE.search(text):
        parts = _RESULT_CODE.split(text)[:-1]  # what follows the last code is page chrome
    else:
        parts = [text.split("Từ khóa")[0]]
    items: list[str] = []
    for part in parts:
        item = part.strip(" .;")
        if item and not is_missing(item) and item not in items:
            items.append(item)
    return "; ".join(items)


# ---------------------------------------------------------------------------------------------
# trinh_tu_thuc_hien and yeu_cau_dieu_kien: free text with hard line wraps

MAX_STEP_CHARS = 300
_STEP_MARKER = re.compile(
    r"^(?:[-+•*–]+\s*|\(?[ivx]+\)\s*|\(?[a-zđ]\d*(?:\.\d+)?\)\s*|[a-zđ]\.\s+|\(\d+\)\s*"
    r"|\d+(?:\.\d+)*[.)](?!\d)\s*|Bước\s*\d+\s*[:.)-]?\s*)+",
    re.IGNORECASE,
)
_STARTS_ITEM = re.compile(
    r"^(?:[-+•*–]|\(?[ivx]+\)|\(?[a-zđ]\d*(?:\.\d+)?\)|[a-zđ]\.\s|\(\d+\)|\d+(?:\.\d+)*[.)]\s"
    r"|Bước\s*\d)",
    re.IGNORECASE,
)
_HEADING = re.compile(r"^(?:\d+(?:\.\d+)*\.?\s*)?trình tự thực hiện\s*:?$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZĐÀ-ỸẠ-Ỹ(\"“])")


def _lines_to_items(text: str) -> list[str]:
    """Join hard-wrapped lines back into the items (paragraphs, list entries) they were."""
    text = clean(text)
    # A new list entry glued after a sentence: "…hoạt động.- Trường hợp …", "… . Bước 2. …"
    text = re.sub(r"(?<=[.;:])\s*(?=[-+] )|(?<=[.;:])\s+(?=Bước\s*\d+\s*[:.)])", "\n", text)
    items: list[str] = []
    blank = True
    for line in text.split("\n"):
        if not line:
            blank = True
            continue
        prev = items[-1] if items and not blank else None
        if prev is None or _STARTS_ITEM.match(line):
            items.append(line)
        elif line[0].islower() or not re.search(r"[.:;!?)]$", prev):
            # Lower-case start, or the previous line stopped mid-sentence: a hard wrap.
            is_title = len(prev) < 60 and not line[0].islower()
            items[-1] = f"{prev}: {line}" if is_title else f"{prev} {line}"
        else:
            items.append(line)
        blank = False
    return items


def _chunk_sentences(text: str, limit: int) -> list[str]:
    """Split a long item at sentence ends into pieces of at most `limit` characters."""
    if len(text) <= limit:
        return [text]
    chunks: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        fits = chunks and len(chunks[-1]) + 1 + len(sentence) <= limit
        if fits or (chunks and len(sentence) < 40):  # "Cụ thể:" is no step of its own
            chunks[-1] += " " + sentence
        else:
            chunks.append(sentence)
    return chunks


def split_steps(text: str, limit: int = MAX_STEP_CHARS) -> list[str]:
    """Steps a box can read one at a time: numbering stripped, whole sentences, short."""
    if is_missing(text):
        return []
    items = []
    for item in _lines_to_items(text):
        item = _STEP_MARKER.sub("", item).strip()
        if item and not _HEADING.match(item):
            items.append(item)
    merged: list[str] = []
    for item in items:
        # A short title ("Nộp hồ sơ", "Lưu ý:") belongs to the entry that follows it.
        if merged and len(merged[-1]) < 60 and not re.search(r"[.;!?]$", merged[-1]):
            title = merged.pop()
            item = f"{title} {item}" if title.endswith(":") else f"{title}: {item}"
        merged.append(item)
    steps: list[str] = []
    for item in merged:
        for chunk in _chunk_sentences(item, limit):
            chunk = chunk.strip()
            chunk = chunk[:1].upper() + chunk[1:]
            if sum(c.isalpha() for c in chunk[:20]) >= 3 and chunk not in steps:
                steps.append(chunk)
    return steps


def paragraphs(text: str) -> str:
    """Free text with hard wraps joined, one item per line (for conditions, audience)."""
    return "\n".join(_lines_to_items(text))
