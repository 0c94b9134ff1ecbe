"""Procedure sections written to be heard, not read.

An elderly listener cannot glance back at a list, so every list is announced with its length
and numbered aloud ("Hồ sơ gồm ba loại giấy tờ. Một là …"), sentences are short, and the local
counter from the box's configuration is named wherever people must go. The text still holds
digits and abbreviations; hoixa.spoken turns them into words just before speaking.
"""

from __future__ import annotations

from num2words import num2words

from hoixa.contract.catalogue import Procedure, spoken_name
from hoixa.device.config import DeviceConfig

SECTION_TITLES = {
    "steps": "các bước thực hiện",
    "documents": "giấy tờ cần chuẩn bị",
    "processing_time": "thời gian giải quyết",
    "fees": "lệ phí",
    "submission": "nơi nộp hồ sơ",
    "result": "kết quả nhận được",
    "legal_basis": "căn cứ pháp lý",
}
MENU_ORDER = tuple(SECTION_TITLES)
MAX_LEGAL_BASIS_READ = 3

_FORMS = {
    "original": "bản chính",
    "copy": "bản sao hoặc bản chụp kèm bản chính để đối chiếu",
    "certified_copy": "bản sao có chứng thực",
    "present": "mang bản chính để xuất trình",
    "electronic": "bản điện tử cũng được",
    "any": "bản chính hoặc bản sao",
}
_MODES = {"in_person": "Nộp trực tiếp", "online": "Nộp trực tuyến", "post": "Gửi qua bưu điện"}


def count_word(n: int) -> str:
    return num2words(n, lang="vi")


def sentence(text: str) -> str:
    """One spoken sentence: trimmed, capitalised, ending with a full stop."""
    text = " ".join(text.split()).strip(" ;,")
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".?!:" else text + "."


def _ordinal_item(i: int, text: str) -> str:
    body = text.strip().rstrip(".;")
    if body[:1].isupper() and not body[:2].isupper():
        body = body[0].lower() + body[1:]
    return sentence(f"{count_word(i).capitalize()} là {body}")


def _caveats(proc: Procedure, field: str) -> list[str]:
    return [sentence(f"Lưu ý: {c['note']}") for c in proc.get("caveats", []) if c["field"] == field]


def available_sections(proc: Procedure) -> list[str]:
    """Sections that have something to say for this procedure, in menu order."""
    empty = {"documents": not proc["documents"], "fees": False}
    return [s for s in MENU_ORDER if not empty.get(s, False)]


def render_menu(proc: Procedure) -> str:
    sections = available_sections(proc)
    items = " ".join(
        sentence(f"{count_word(i).capitalize()}: {SECTION_TITLES[s]}")
        for i, s in enumerate(sections, 1)
    )
    return (
        f"Thủ tục {spoken_name(proc)}. Bác muốn nghe phần nào? {items} "
        "Bác nói số, hoặc nói tên phần cần nghe."
    )


def section_by_number(proc: Procedure, number: int) -> str | None:
    sections = available_sections(proc)
    return sections[number - 1] if 1 <= number <= len(sections) else None


def _steps(proc: Procedure, config: DeviceConfig) -> list[str]:
    steps = proc["steps"]
    if len(steps) == 1:
        return [sentence(steps[0])]
    out = [sentence(f"Thủ tục {spoken_name(proc)} gồm {count_word(len(steps))} bước")]
    out += [
        sentence(f"Bước {count_word(i)}: {step.strip().rstrip('.')}")
        for i, step in enumerate(steps, 1)
    ]
    return out


def _document_text(doc: dict) -> str:
    parts = [doc["name"].strip().rstrip(".")]
    copies = doc.get("copies")
    form = doc.get("form")
    if form:
        parts.append(_FORMS[form])
    if copies and copies > 1:
        parts.append(f"{count_word(copies)} bản")
    text = ", ".join(parts)
    if doc.get("condition"):
        text += ". " + sentence(doc["condition"]).rstrip(".")
    return text


def _documents(proc: Procedure, config: DeviceConfig) -> list[str]:
    docs = proc["documents"]
    if not docs:
        return ["Thủ tục này không cần nộp giấy tờ."]
    if len(docs) == 1:
        return [sentence(f"Bác cần chuẩn bị {_document_text(docs[0])}")]
    out = [sentence(f"Hồ sơ gồm {count_word(len(docs))} loại giấy tờ")]
    out += [_ordinal_item(i, _document_text(d)) for i, d in enumerate(docs, 1)]
    return out


def _processing_time(proc: Procedure, config: DeviceConfig) -> list[str]:
    out = [sentence(f"Thời gian giải quyết: {proc['processing_time']['text']}")]
    for sub in proc["submission"]:
        if sub.get("processing_time"):
            out.append(sentence(f"{_MODES[sub['mode']]}: {sub['processing_time']}"))
    return out


def _fee_text(fee: dict) -> str:
    amount = fee.get("amount_vnd")
    if amount == 0 and not fee.get("text"):
        text = f"{fee['name']}: miễn phí"
    elif amount:
        unit = f" một {fee['unit']}" if fee.get("unit") else ""
        text = f"{fee['name']}: {amount:,} đồng{unit}".replace(",", ".")
        if fee.get("text"):
            text += f". {sentence(fee['text']).rstrip('.')}"
    else:
        text = f"{fee['name']}: {fee.get('text') or 'chưa có thông tin về mức thu'}"
    if fee.get("exemptions"):
        text += ". Được miễn: " + "; ".join(e.rstrip(".") for e in fee["exemptions"])
    return sentence(text)


def _fees(proc: Procedure, config: DeviceConfig) -> list[str]:
    fees = proc["fees"]
    if not fees:
        return ["Thủ tục này không mất lệ phí."]
    out = [_fee_text(f) for f in fees]
    for sub in proc["submission"]:
        if sub.get("fee"):
            out.append(sentence(f"{_MODES[sub['mode']]}: {sub['fee']}"))
    return out


def _submission(proc: Procedure, config: DeviceConfig) -> list[str]:
    out = []
    for sub in proc["submission"]:
        where = sub.get("where", "").strip().rstrip(".")
        if sub["mode"] == "in_person":
            out.append(sentence(f"Nộp trực tiếp tại {where or config.counter.name}"))
        elif sub["mode"] == "online":
            out.append(sentence(f"Nộp trực tuyến trên {where or 'Cổng dịch vụ công quốc gia'}"))
        else:
            out.append(sentence(f"Gửi qua bưu điện{' đến ' + where if where else ''}"))
    counter = config.counter
    local = f"Ở {config.commune_name} mình, bác đến {counter.name}, {counter.location}"
    if counter.hours:
        local += f", {counter.hours}"
    out.append(sentence(local))
    return out


def _result(proc: Procedure, config: DeviceConfig) -> list[str]:
    return [sentence(f"Kết quả bác nhận được là {proc['result'].strip().rstrip('.')}")]


def _legal_basis(proc: Procedure, config: DeviceConfig) -> list[str]:
    basis = proc["legal_basis"]
    read = basis[:MAX_LEGAL_BASIS_READ]
    names = [f"{b['title'].strip()} số {b['code']}" if b.get("title") else b["code"] for b in read]
    out = [sentence("Thủ tục này căn cứ vào " + "; ".join(names))]
    if len(basis) > len(read):
        out.append(sentence(f"Và {count_word(len(basis) - len(read))} văn bản khác"))
    return out


_RENDERERS = {
    "steps": _steps,
    "documents": _documents,
    "processing_time": _processing_time,
    "fees": _fees,
    "submission": _submission,
    "result": _result,
    "legal_basis": _legal_basis,
}


def render_section(proc: Procedure, section: str, config: DeviceConfig) -> str:
    """One section of a procedure as a short spoken paragraph, with its caveats."""
    caveat_field = "submission" if section == "submission" else section
    parts = _RENDERERS[section](proc, config) + _caveats(proc, caveat_field)
    return " ".join(p for p in parts if p)
