"""Build a procedure catalogue from records of the national public service portal.

Admins feed the box catalogue from the portal's data (dichvucong.gov.vn) instead of typing
hundreds of procedures. Each JSON record (one procedure, all fields strings, tables flattened;
see portal_fields) becomes one catalogue procedure. Where the portal says nothing about
something the schema requires, the procedure gets an honest placeholder and a caveat the box
reads aloud; facts are never made up. Records that cannot be used (no code, unreadable, a
crawl error) are reported with the reason, and everything else is imported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hoixa.contract import catalogue
from hoixa.server.portal_fields import (
    MODE_WORDS,
    PLACEHOLDER,
    Duration,
    FeeInfo,
    ModeRow,
    clean_result,
    interpret_fee,
    interpret_time,
    is_missing,
    one_line,
    paragraphs,
    parse_documents,
    parse_legal_basis,
    parse_submission_table,
    split_steps,
)


@dataclass
class RecordFailure:
    """A record left out of the catalogue, and why (path is relative to the folder read)."""

    path: str
    code: str | None
    reason: str


@dataclass
class ImportReport:
    catalogue: dict
    imported: int
    failures: list[RecordFailure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class MisfiledRecord(ValueError):
    """The crawler saved another procedure's page under this record's code."""

    def __init__(self, filed_code: str, page_code: str):
        self.page_code = page_code
        super().__init__(
            f"crawl error: filed as {filed_code} but the page it holds is procedure {page_code}"
        )


PORTAL_CODE = re.compile(r"\d\.\d{6}")
LEVELS = {"Cấp xã": "commune", "Cấp tỉnh": "province", "Cấp bộ": "central", "Cơ quan khác": "other"}
LEVEL_WORDS = {"commune": "cấp xã", "province": "cấp tỉnh", "central": "cấp bộ", "other": "khác"}
MODE_LABELS = {"in_person": "Nộp trực tiếp", "online": "Nộp trực tuyến", "post": "Qua bưu chính"}
TEXT_FIELDS = (
    "ma_thu_tuc",
    "ten_thu_tuc",
    "detail_url",
    "so_quyet_dinh",
    "cap_thuc_hien",
    "linh_vuc",
    "doi_tuong_thuc_hien",
    "co_quan_co_tham_quyen",
    "co_quan_thuc_hien",
    "thu_tuc_lien_quan",
    "trinh_tu_thuc_hien",
    "cach_thuc_thuc_hien",
    "thanh_phan_ho_so",
    "can_cu_phap_ly",
    "yeu_cau_dieu_kien",
    "ket_qua_xu_ly",
    "raw_text",
)
# Crawl errors: the title of the decision that publishes a list, not of a procedure.
NOT_A_PROCEDURE = re.compile(r"^Công bố Danh mục|Quy trình nội bộ", re.IGNORECASE)
NO_CONDITIONS = re.compile(r"^(?:không|không có|không quy định|không yêu cầu)\.?$", re.IGNORECASE)

CAVEATS = {
    "steps": "Cổng dịch vụ công chưa ghi trình tự thực hiện; bác hỏi cán bộ một cửa.",
    "documents": "Cổng dịch vụ công chưa ghi thành phần hồ sơ; bác hỏi cán bộ một cửa.",
    "result": "Cổng dịch vụ công chưa ghi kết quả giải quyết; bác hỏi cán bộ một cửa.",
    "time_missing": "Cổng dịch vụ công chưa ghi thời hạn giải quyết; bác hỏi cán bộ một cửa.",
    "time_no_unit": "Cổng dịch vụ công không ghi đơn vị của thời hạn; bác hỏi cán bộ một cửa.",
    "time_unreadable": "Thời hạn trên Cổng dịch vụ công bị ghi lẫn với mức phí, không đọc được; "
    "bác hỏi cán bộ một cửa.",
    "fee_missing": "Cổng dịch vụ công chưa ghi phí, lệ phí; bác hỏi cán bộ một cửa.",
    "fee_unclear": "Mức phí ghi trên Cổng dịch vụ công không rõ ràng; bác hỏi cán bộ một cửa.",
    "fee_province": "Mức phí, lệ phí do Hội đồng nhân dân tỉnh quyết định, mỗi tỉnh có thể khác.",
    "submission": "Cổng dịch vụ công không ghi cách nộp hồ sơ; bác hỏi cán bộ một cửa.",
    "agency": "Cổng dịch vụ công không ghi cơ quan thực hiện; bác hỏi cán bộ một cửa cho chắc.",
    "legal_decision": "Cổng dịch vụ công không ghi căn cứ pháp lý; đây là quyết định công bố "
    "thủ tục.",
    "legal_missing": "Cổng dịch vụ công chưa ghi căn cứ pháp lý.",
}


# ---------------------------------------------------------------------------------------------
# names and aliases

_PARENTHESES = re.compile(r"\s*\([^()]*\)")
_TRAILING_QUALIFIER = re.compile(
    r"\s+(?:thực hiện\s+)?(?:tại|ở)\s+(?:cấp xã|ubnd cấp xã|ủy ban nhân dân cấp xã"
    r"|xã, phường, thị trấn)\s*$",
    re.IGNORECASE,
)
_HEAD_END = re.compile(
    r"\s+(?:đối với|cho|trong trường hợp|trường hợp|theo|do|thuộc thẩm quyền)\s+", re.IGNORECASE
)
_DISTINGUISHING_TAIL = re.compile(
    r"nước ngoài|trẻ em|dưới \d+ tuổi|từ đủ|quân nhân|công an|khuyết tật|người có công"
    r"|biên giới|lưu động|tổ chức|doanh nghiệp|hợp tác xã|tôn giáo",
    re.IGNORECASE,
)
_DOCUMENT_NOUN = re.compile(r"(?:giấy|bản sao|thẻ|sổ|phiếu|trích lục|chứng chỉ|biển số)\b")
LEADING_VERBS = (
    "đăng ký lại",
    "đăng ký",
    "cấp lại",
    "cấp đổi",
    "cấp",
    "xác nhận",
    "công nhận",
    "thay đổi",
    "điều chỉnh",
    "gia hạn",
    "giải quyết",
    "chứng thực",
    "hỗ trợ",
    "thu hồi",
    "khai báo",
    "xóa",
    "tách",
    "giảm",
    "miễn",
    "phê duyệt",
)
# After "đăng ký", words that leave a meaningless remainder ("đăng ký lại …", "đăng ký hoạt động").
_WEAK_AFTER_REGISTER = {"lại", "thay", "hoạt", "bổ", "chấm", "sử", "tham", "biện", "giao"}


def official_name(title: str) -> str:
    """The portal title without a leading 'Thủ tục' or a trailing period, capitalised."""
    name = one_line(title)
    # "Thủ tục hải quan …" is itself the procedure's name ("customs procedure"): keep it.
    name = re.sub(r"^Thủ tục\s+(?!hải quan)", "", name, flags=re.IGNORECASE).rstrip(" .")
    return name[:1].upper() + name[1:]


def _said_name(name: str) -> str:
    """Lower-case first letter, unless the name starts with an acronym ('BHXH …')."""
    return name if len(name) > 1 and name[1].isupper() else name[:1].lower() + name[1:]


def _core_parts(title: str) -> list[str]:
    """What people say of a name: parentheticals, qualifiers and 'đối với …' tails dropped,
    then split at commas into parts that can stand alone ('nhận cha, mẹ, con' stays whole)."""
    text = official_name(title)
    while _PARENTHESES.search(text):
        text = _PARENTHESES.sub("", text)
    text = _TRAILING_QUALIFIER.sub("", text)
    head, *tail = _HEAD_END.split(text, maxsplit=1)
    # A tail naming a particular group ("cho người nước ngoài", "cho trẻ em dưới 6 tuổi") is
    # what distinguishes the procedure from its everyday sister: people who are in that group
    # say so, and dropping it would make the alias steal everyone else's questions.
    core = text if tail and _DISTINGUISHING_TAIL.search(tail[0]) else head
    parts: list[str] = []
    last_words = 0
    for piece in re.split(r"\s*[,;]\s*", core):
        piece = re.sub(r"^(?:và|hoặc)\s+", "", piece.strip(" .:-"), flags=re.IGNORECASE)
        if not piece:
            continue
        words = len(piece.split())
        # A piece of one or two words is a coordinated verb or object ("cấp lại, đổi, …",
        # "giấy tờ, văn bản"): it belongs with its neighbour, not alone.
        if parts and (words <= 2 or last_words <= 2):
            parts[-1] += ", " + piece
        else:
            parts.append(piece)
        last_words = words
    return parts or [text]


def _leading_verb(phrase: str) -> str | None:
    return next((v for v in LEADING_VERBS if phrase == v or phrase.startswith(v + " ")), None)


def _short_alias(head: str) -> str | None:
    """'đăng ký khai sinh' → 'khai sinh', 'cấp giấy phép xây dựng' → 'giấy phép xây dựng'."""
    if head.startswith("đăng ký "):
        rest = head.removeprefix("đăng ký ")
        words = rest.split()
        if 2 <= len(words) <= 3 and words[0] not in _WEAK_AFTER_REGISTER:
            return rest
    # Only a plain "cấp": in "cấp lại" / "cấp đổi" the verb is what tells sister procedures
    # apart ("cấp lại giấy chứng nhận đăng ký hộ kinh doanh" is not "đăng ký hộ kinh doanh").
    if re.match(r"cấp (?:giấy|thẻ|phiếu|bản sao)\b", head):
        rest = head.removeprefix("cấp ")
        if len(rest.split()) >= 3:
            return rest
    return None


def _part_alias(part: str, head: str, verb: str | None) -> str | None:
    """A later comma part as an alias, when it can stand alone: its own verb ('đăng ký lại
    kết hôn'), a document ('bản sao giấy khai sinh'), or an object parallel to the head's that
    takes the head's verb ('giảm thuế xuất khẩu, thuế nhập khẩu' → 'giảm thuế nhập khẩu')."""
    if _leading_verb(part) or _DOCUMENT_NOUN.match(part):
        return part
    head_object = head.removeprefix(verb).split() if verb else []
    if head_object and part.split()[0] == head_object[0]:
        return f"{verb} {part}"
    return None


def derive_aliases(official_name: str) -> list[str]:
    """1–4 lower-case ways people say a procedure, derived from its official name."""
    parts = [re.sub(r"\s+", " ", p).strip().lower() for p in _core_parts(official_name)]
    head = parts[0]
    verb = _leading_verb(head)
    aliases = [head, _short_alias(head)]
    aliases += [_part_alias(part, head, verb) for part in parts[1:]]
    unique: list[str] = []
    for alias in aliases:
        alias = (alias or "").strip(" ,;.")
        if alias and alias not in unique and (len(alias.split()) >= 2 or not unique):
            unique.append(alias)
    return unique[:4]


def spoken_name(title: str) -> str:
    """The head of the name, as the box says it: 'đăng ký khai sinh'."""
    return _said_name(_core_parts(title)[0])


# ---------------------------------------------------------------------------------------------
# one record


class _Caveats:
    """Caveats and importer notes for one procedure, without repeats."""

    def __init__(self) -> None:
        self.caveats: list[dict] = []
        self.notes: list[str] = []

    def add(self, field_name: str, note: str, warning: str | None = None) -> None:
        caveat = {"field": field_name, "note": note}
        if caveat not in self.caveats:
            self.caveats.append(caveat)
        if warning and warning not in self.notes:
            self.notes.append(warning)


def _text(record: dict, key: str) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"field {key} is {type(value).__name__}, expected text")
    return value


def _levels(cap_thuc_hien: str) -> list[str]:
    found = [LEVELS[p.strip()] for p in cap_thuc_hien.split(",") if p.strip() in LEVELS]
    return list(dict.fromkeys(found))


def _default_agency(levels: list[str]) -> str:
    if levels == ["commune"]:
        return "Ủy ban nhân dân cấp xã"
    if levels in (["province"], ["central"]):
        return f"Cơ quan có thẩm quyền {LEVEL_WORDS[levels[0]]}"
    named = [LEVEL_WORDS[level] for level in levels if level != "other"]
    return "Cơ quan có thẩm quyền" + (f" ({', '.join(named)})" if named else "")


def _agency(record: dict, levels: list[str], caveats: _Caveats) -> str:
    for key in ("co_quan_thuc_hien", "co_quan_co_tham_quyen"):
        value = one_line(_text(record, key)).rstrip(" .")
        # Lower-case start or a page of text: the crawler caught a paragraph, not a name.
        if not is_missing(value) and value[0].isupper() and len(value) <= 300:
            return value
    agency = _default_agency(levels)
    caveats.add("agency", CAVEATS["agency"], f"agency defaulted to '{agency}'")
    return agency


def _merge_durations(durations: list[Duration]) -> Duration:
    if len(durations) == 1:
        return durations[0]
    texts = list(dict.fromkeys(d.text for d in durations))
    issue = next((d.issue for d in durations if d.issue), "")
    return Duration("; ".join(texts), None, issue=issue)


_WHERE_START = re.compile(
    r"(?:tại|qua|thông qua|bằng|nộp|gửi|hồ sơ được (?:gửi|nộp))\b", re.IGNORECASE
)


def _where(description: str) -> str | None:
    """The table's description, when it says where or how to hand the file in."""
    text = re.sub(r"^(?:[-+*•]\s*)+", "", description)
    text = re.sub(r"^(?:Trực tiếp|Trực tuyến|Dịch vụ bưu chính[^:]{0,12})\s*:\s*", "", text)
    if not text or len(text) > 300 or not _WHERE_START.match(text):
        return None
    return text[:1].upper() + text[1:]


def _fee_caveats(fees: list[FeeInfo], caveats: _Caveats) -> None:
    for fee in fees:
        if not fee.known:
            caveats.add("fees", CAVEATS["fee_missing"], "fees missing")
        if fee.unclear:
            caveats.add("fees", CAVEATS["fee_unclear"], "fee figures unclear")
        if fee.by_province:
            caveats.add("fees", CAVEATS["fee_province"])


def _submission_time_fees(text: str, caveats: _Caveats) -> tuple[list, dict, list]:
    """submission[], processing_time and fees[] from the 'Cách thức thực hiện' table."""
    rows = parse_submission_table(text)
    if not rows:
        caveats.add("submission", CAVEATS["submission"], "no submission table: in_person assumed")
        caveats.add("processing_time", CAVEATS["time_missing"], "processing time: missing")
        caveats.add("fees", CAVEATS["fee_missing"], "fees missing")
        submission = [{"mode": "in_person", "where": PLACEHOLDER}]
        fee = {"name": "Phí, lệ phí", "amount_vnd": None, "text": PLACEHOLDER}
        return submission, {"text": PLACEHOLDER, "working_days": None}, [fee]

    by_mode: dict[str, list[ModeRow]] = {}
    for row in rows:
        by_mode.setdefault(row.mode, []).append(row)
    times = {
        mode: _merge_durations([interpret_time(r) for r in rs]) for mode, rs in by_mode.items()
    }
    fees = {mode: interpret_fee(rs[0]) for mode, rs in by_mode.items()}

    distinct_times = list(dict.fromkeys(d.text for d in times.values()))
    if len(distinct_times) == 1:
        time_text = distinct_times[0]
    else:
        time_text = "; ".join(f"{MODE_LABELS[m]}: {d.text}" for m, d in times.items())
    days = [d.working_days for d in times.values()]
    working_days = max(days) if all(d is not None for d in days) else None
    for duration in times.values():
        if duration.issue:
            note = CAVEATS[f"time_{duration.issue}"]
            caveats.add("processing_time", note, f"processing time: {duration.issue}")

    fee_groups: dict[tuple, list[str]] = {}
    for mode, fee in fees.items():
        fee_groups.setdefault((fee.amount_vnd, fee.text, fee.name), []).append(mode)
    fee_list = []
    for (_, _, _), modes in fee_groups.items():
        fee = fees[modes[0]]
        entry = fee.as_schema()
        if len(fee_groups) > 1:
            entry["name"] = f"{fee.name} khi " + ", ".join(MODE_WORDS[m] for m in modes)
        fee_list.append(entry)
    _fee_caveats(list(fees.values()), caveats)

    submission = []
    for mode, mode_rows in by_mode.items():
        entry: dict = {"mode": mode}
        where = _where(mode_rows[0].description)
        if where:
            entry["where"] = where
        if len(distinct_times) > 1:
            entry["processing_time"] = times[mode].text
        if len(fee_groups) > 1:
            entry["fee"] = fees[mode].text
        submission.append(entry)
    return submission, {"text": time_text, "working_days": working_days}, fee_list


def _legal_basis(record: dict, caveats: _Caveats) -> list[dict]:
    docs = parse_legal_basis(_text(record, "can_cu_phap_ly"))
    if docs:
        return [{"code": d.code, "title": d.title} if d.title else {"code": d.code} for d in docs]
    decision = one_line(_text(record, "so_quyet_dinh"))
    if "/" in decision:
        caveats.add("legal_basis", CAVEATS["legal_decision"], "legal basis: publishing decision")
        return [{"code": decision, "title": "Quyết định công bố thủ tục hành chính"}]
    caveats.add("legal_basis", CAVEATS["legal_missing"], "legal basis missing")
    return [{"code": "Chưa có thông tin", "title": PLACEHOLDER}]


def _page_code(record: dict) -> str | None:
    """The procedure code printed on the crawled page itself."""
    m = re.search(r"Mã thủ tục\s*(\d\.\d{6})", _text(record, "raw_text"))
    return m.group(1) if m else None


def _convert(record: dict) -> tuple[dict, list[str]]:
    """The procedure and the importer's notes on what was defaulted."""
    if not isinstance(record, dict):
        raise ValueError(f"record is a JSON {type(record).__name__}, expected an object")
    for key in TEXT_FIELDS:
        _text(record, key)  # every field we read must be text
    code = _text(record, "ma_thu_tuc").strip()
    if not code:
        raise ValueError("no ma_thu_tuc (procedure code)")
    if not PORTAL_CODE.fullmatch(code):
        raise ValueError(f"ma_thu_tuc {code!r} is not a portal code like 1.001193")
    title = one_line(_text(record, "ten_thu_tuc"))
    if is_missing(title):
        raise ValueError("no ten_thu_tuc (procedure name)")
    page_code = _page_code(record)
    if page_code and page_code != code:
        raise MisfiledRecord(code, page_code)
    if NOT_A_PROCEDURE.search(title):
        raise ValueError(
            f"crawl error: title {title[:70]!r}… names a published list, not a procedure"
        )

    caveats = _Caveats()
    levels = _levels(_text(record, "cap_thuc_hien"))
    if not levels:
        levels = ["other"]
        caveats.notes.append("cap_thuc_hien names no known level: level 'other'")
    field_name = one_line(_text(record, "linh_vuc"))
    if is_missing(field_name):
        field_name = "Chưa phân loại"
        caveats.notes.append("linh_vuc missing: field 'Chưa phân loại'")

    proc: dict = {
        "code": code,
        "name": official_name(title),
        "spoken_name": spoken_name(title),
        "aliases": derive_aliases(title),
        "field": field_name,
        "level": levels,
        "agency": _agency(record, levels, caveats),
    }
    audience = one_line(_text(record, "doi_tuong_thuc_hien"))
    if not is_missing(audience):
        proc["audience"] = audience
    conditions = paragraphs(_text(record, "yeu_cau_dieu_kien"))
    if not is_missing(conditions) and not NO_CONDITIONS.match(conditions):
        proc["conditions"] = conditions

    steps = split_steps(_text(record, "trinh_tu_thuc_hien"))
    if not steps:
        steps = [PLACEHOLDER]
        caveats.add("steps", CAVEATS["steps"], "steps missing")
    proc["steps"] = steps

    documents = parse_documents(_text(record, "thanh_phan_ho_so"))
    if not documents:
        documents = [{"name": PLACEHOLDER}]
        caveats.add("documents", CAVEATS["documents"], "documents missing")
    proc["documents"] = documents

    submission, processing_time, fees = _submission_time_fees(
        _text(record, "cach_thuc_thuc_hien"), caveats
    )
    proc["processing_time"] = processing_time
    proc["fees"] = fees
    proc["submission"] = submission

    result = clean_result(_text(record, "ket_qua_xu_ly"))
    if not result:
        result = PLACEHOLDER
        caveats.add("result", CAVEATS["result"], "result missing")
    proc["result"] = result
    proc["legal_basis"] = _legal_basis(record, caveats)

    related = PORTAL_CODE.findall(_text(record, "thu_tuc_lien_quan"))
    related = [c for c in dict.fromkeys(related) if c != code]
    if related:
        proc["related"] = related
    if caveats.caveats:
        proc["caveats"] = caveats.caveats
    url = one_line(_text(record, "detail_url"))
    if url:
        proc["source_url"] = url
    return proc, caveats.notes


def record_to_procedure(record: dict) -> dict:
    """One portal record as a catalogue procedure; ValueError(reason) if it can't be used."""
    return _convert(record)[0]


# ---------------------------------------------------------------------------------------------
# a folder of records


def _is_commune(record: dict) -> bool:
    level = record.get("cap_thuc_hien")
    return isinstance(level, str) and "Cấp xã" in level


def _read_record(path: Path) -> dict:
    try:
        data = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise ValueError(f"not valid JSON: {exc.msg} at {where}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError("not UTF-8 text") from exc
    except OSError as exc:
        raise ValueError(f"cannot be read: {exc.strerror}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"record is a JSON {type(data).__name__}, expected an object")
    return data


def _new_catalogue(procedures: list[dict], version: int, records: int) -> dict:
    return {
        "schema_version": catalogue.SCHEMA_VERSION,
        "version": version,
        "scope": "all",
        "issued_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "title": "Thủ tục hành chính từ Cổng Dịch vụ công quốc gia",
        "source": f"Cổng Dịch vụ công quốc gia (dichvucong.gov.vn), {records} bản ghi đã đọc",
        "procedures": procedures,
    }


def _base_owner(phrase: str, procs: list[dict]) -> dict | None:
    """The one procedure whose whole name the phrase nearly is ('khai sinh' → 'Đăng ký khai
    sinh', not 'Đăng ký khai sinh cho người đã có hồ sơ …'), if there is exactly one."""
    near = [p for p in procs if phrase in p["name"].lower() and len(p["name"]) - len(phrase) <= 10]
    return near[0] if len(near) == 1 else None


def _disambiguate(procedures: list[dict]) -> int:
    """An alias or short name that several procedures share points to none of them: keep it
    only on the procedure it nearly names, and let the others say their full name.
    Returns how many aliases and spoken names were changed."""
    changed = 0
    owners: dict[str, list[dict]] = {}
    for proc in procedures:
        for alias in proc.get("aliases", []):
            owners.setdefault(alias, []).append(proc)
    for alias, procs in owners.items():
        base = _base_owner(alias, procs) if len(procs) > 1 else procs[0]
        for proc in procs:
            if proc is not base:
                proc["aliases"].remove(alias)
                changed += 1
    # An alias that is only the start of a sister procedure's name or alias ("công nhận hộ
    # cận nghèo" of "… hộ cận nghèo thường xuyên hằng năm") does not tell them apart either.
    phrases = [
        (proc, phrase)
        for proc in procedures
        for phrase in [proc["name"].lower(), *proc.get("aliases", [])]
    ]
    for proc in procedures:
        for alias in list(proc.get("aliases", [])):
            if proc["name"].lower() == alias:
                continue
            if any(
                other is not proc and (phrase + " ").startswith(alias + " ")
                for other, phrase in phrases
            ):
                proc["aliases"].remove(alias)
                changed += 1
    spoken: dict[str, list[dict]] = {}
    for proc in procedures:
        if not proc.get("aliases"):
            proc.pop("aliases", None)
        spoken.setdefault(proc["spoken_name"].lower(), []).append(proc)
    for phrase, procs in spoken.items():
        base = _base_owner(phrase, procs) if len(procs) > 1 else procs[0]
        for proc in procs:
            if proc is not base and proc["spoken_name"] != _said_name(proc["name"]):
                proc["spoken_name"] = _said_name(proc["name"])
                changed += 1
    return changed


def _drop_invalid(doc: dict, origin: list[str], failures: list[RecordFailure]) -> None:
    """Last guard: a procedure the schema rejects becomes a failure instead of a bad file.

    Validates once in the normal case (validation is most of the import's run time)."""
    while problems := catalogue.find_problems(doc):
        bad: dict[int, list[str]] = {}
        for problem in problems:
            m = re.match(r"procedure #(\d+)", problem.where)
            if m:
                bad.setdefault(int(m.group(1)) - 1, []).append(str(problem))
        if not bad:  # not about one procedure: a bug in this module, not in the data
            raise catalogue.CatalogueError("imported catalogue", problems)
        for index in sorted(bad, reverse=True):
            proc = doc["procedures"].pop(index)
            reason = "invalid procedure: " + "; ".join(bad[index])
            failures.append(RecordFailure(origin.pop(index), proc["code"], reason))


def import_portal_dir(
    directory: Path, *, commune_only: bool = False, version: int = 1
) -> ImportReport:
    """Every *.json record under `directory` (recursively) as one catalogue."""
    directory = Path(directory)
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory}: not a folder of portal records")
    failures: list[RecordFailure] = []
    warnings: list[str] = []
    kept: dict[str, tuple[dict, str]] = {}
    misfiled: list[tuple[str, dict, str]] = []
    paths = sorted(directory.rglob("*.json"))
    skipped = 0
    for path in paths:
        where = path.relative_to(directory).as_posix()
        code = None
        try:
            record = _read_record(path)
            raw_code = record.get("ma_thu_tuc")
            code = raw_code.strip() if isinstance(raw_code, str) and raw_code.strip() else None
            if commune_only and not _is_commune(record):
                skipped += 1
                continue
            proc, notes = _convert(record)
        except MisfiledRecord as exc:
            failures.append(RecordFailure(where, code, str(exc)))
            misfiled.append((exc.page_code, record, where))
            continue
        except ValueError as exc:
            failures.append(RecordFailure(where, code, str(exc)))
            continue
        if proc["code"] in kept:
            warnings.append(
                f"{where}: duplicate code {proc['code']}, kept {kept[proc['code']][1]}; skipped"
            )
            continue
        kept[proc["code"]] = (proc, where)
        warnings.extend(f"{where} ({code}): {note}" for note in notes)

    # A misfiled record still holds a real procedure's page: import it once under the code
    # printed on that page, unless a record of its own already gave us that procedure.
    for page_code, record, where in misfiled:
        if page_code in kept:
            continue
        try:
            proc, notes = _convert({**record, "ma_thu_tuc": page_code})
        except ValueError:
            continue  # already reported as a failure
        kept[page_code] = (proc, where)
        warnings.append(f"{where}: imported as {page_code}, the procedure its page shows")
        warnings.extend(f"{where} ({page_code}): {note}" for note in notes)

    if skipped:
        warnings.append(f"{skipped} record(s) skipped: not done at commune level (Cấp xã)")
    ordered = sorted(kept.values(), key=lambda item: item[0]["code"])
    changed = _disambiguate([proc for proc, _ in ordered])
    if changed:
        warnings.append(f"{changed} alias(es)/spoken name(s) shared by several procedures removed")
    doc = _new_catalogue([p for p, _ in ordered], version, len(paths))
    _drop_invalid(doc, [w for _, w in ordered], failures)
    return ImportReport(doc, len(doc["procedures"]), failures, warnings)
