"""The catalogue shipped with every box: valid, distinctive, and true to the law it cites.

Facts checked here are the nationally fixed ones a villager is most likely to ask about (fees
set by the Ministry of Finance, exemptions written into the Luật Hộ tịch); where a portal record
from the national public service portal is available in ../shared, names and links are compared
with it too.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from hoixa.contract import catalogue

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PORTAL_RECORDS = SHARED / "data" / "tthc" / "chatbot_tthc" / "data" / "raw"
NATIONAL_CODE = re.compile(r"^[0-9]\.[0-9]{6}$")
DOCUMENT_NUMBER = re.compile(r"^\d+/\d{4}/[A-ZĐ][A-ZĐa-z0-9-]*$")


@pytest.fixture(scope="module")
def cat() -> catalogue.Catalogue:
    return catalogue.load_default()


@pytest.fixture(scope="module")
def by_code(cat) -> dict[str, catalogue.Procedure]:
    return {p["code"]: p for p in cat["procedures"]}


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def _without_thu_tuc(name: str) -> str:
    folded = _fold(name)
    return folded.removeprefix("thủ tục ").strip()


def _portal_record(code: str) -> dict | None:
    matches = sorted(PORTAL_RECORDS.glob(f"*/{code}.json"))
    if not matches:
        return None
    return json.loads(matches[0].read_text(encoding="utf-8"))


def _fee_texts(proc: catalogue.Procedure) -> str:
    parts = []
    for fee in proc["fees"]:
        parts += [fee["name"], fee.get("text", ""), *fee.get("exemptions", [])]
    return _fold(" ".join(parts))


def _amounts(proc: catalogue.Procedure) -> set[int]:
    return {f["amount_vnd"] for f in proc["fees"] if f.get("amount_vnd") is not None}


# --- shape -----------------------------------------------------------------------------------


def test_shipped_file_validates_and_is_canonical_json(cat):
    assert cat["schema_version"] == 1
    assert cat["scope"] == "all"
    assert catalogue.find_problems(cat) == []
    text = catalogue.default_catalogue_path().read_text(encoding="utf-8")
    assert text == catalogue.dumps(cat), "file is not in canonical form; rewrite with dumps()"


def test_has_enough_procedures(cat):
    assert len(cat["procedures"]) >= 30


def test_codes_are_unique(cat):
    counts = Counter(p["code"] for p in cat["procedures"])
    assert [c for c, n in counts.items() if n > 1] == []


def test_every_procedure_has_legal_basis_with_document_numbers(cat):
    for proc in cat["procedures"]:
        assert proc["legal_basis"], proc["code"]
        for basis in proc["legal_basis"]:
            assert DOCUMENT_NUMBER.match(basis["code"]), (proc["code"], basis["code"])
            assert basis.get("title"), (proc["code"], basis["code"])


def test_every_procedure_has_enough_lower_case_aliases(cat):
    for proc in cat["procedures"]:
        aliases = proc.get("aliases", [])
        assert len(aliases) >= 3, proc["code"]
        assert all(a == a.lower() for a in aliases), proc["code"]


def test_no_alias_is_shared_between_procedures(cat):
    owner: dict[str, str] = {}
    clashes = []
    for proc in cat["procedures"]:
        for alias in set(map(_fold, proc.get("aliases", []))):
            if alias in owner and owner[alias] != proc["code"]:
                clashes.append((alias, owner[alias], proc["code"]))
            owner.setdefault(alias, proc["code"])
    assert clashes == []


def test_referrals_say_where_and_never_repeat_a_procedure_phrase(cat):
    # A referral phrase that is also a procedure's would send a villager away from a
    # procedure the box can explain.
    phrases = {
        _fold(text)
        for proc in cat["procedures"]
        for text in [proc["name"], proc.get("spoken_name", ""), *proc.get("aliases", [])]
    }
    referrals = cat.get("referrals", [])
    assert len(referrals) >= 15
    for referral in referrals:
        assert referral["where"].strip(), referral["id"]
        assert not {_fold(a) for a in [referral["name"], *referral["aliases"]]} & phrases


def test_steps_are_short_enough_to_hear_and_unnumbered(cat):
    for proc in cat["procedures"]:
        assert 3 <= len(proc["steps"]) <= 6, proc["code"]
        for step in proc["steps"]:
            assert not _fold(step).startswith("bước"), (proc["code"], step)
            assert not re.match(r"^\s*\d+[.)]", step), (proc["code"], step)
            assert len(step) <= 220, (proc["code"], step)


def test_related_codes_point_inside_the_catalogue(cat, by_code):
    for proc in cat["procedures"]:
        for code in proc.get("related", []):
            assert code in by_code, (proc["code"], code)
            assert code != proc["code"]


def test_unknown_fee_amounts_are_explained(cat):
    for proc in cat["procedures"]:
        for fee in proc["fees"]:
            if fee.get("amount_vnd") is None:
                fee_caveat = any(c["field"] == "fees" for c in proc.get("caveats", []))
                assert fee.get("text") or fee_caveat, (proc["code"], fee["name"])


# --- honesty about codes ---------------------------------------------------------------------


def test_local_codes_carry_a_code_caveat(cat):
    for proc in cat["procedures"]:
        if proc["code"].startswith("local."):
            assert any(c["field"] == "code" for c in proc.get("caveats", [])), proc["code"]


def test_national_codes_without_portal_link_carry_a_code_caveat(cat):
    """A national code not backed by a portal record must tell the villager it is unchecked."""
    for proc in cat["procedures"]:
        if NATIONAL_CODE.match(proc["code"]) and not proc.get("source_url"):
            assert any(c["field"] == "code" for c in proc.get("caveats", [])), proc["code"]


# --- against the national portal records (skipped when ../shared is absent) -------------------


@pytest.fixture(scope="module")
def portal_available() -> None:
    if not PORTAL_RECORDS.is_dir():
        pytest.skip(f"portal records not available at {PORTAL_RECORDS}")


def test_official_names_match_portal_records(cat, portal_available):
    checked = 0
    for proc in cat["procedures"]:
        record = _portal_record(proc["code"])
        if record is None:
            continue
        checked += 1
        assert _without_thu_tuc(proc["name"]) == _without_thu_tuc(record["ten_thu_tuc"]), proc[
            "code"
        ]
    assert checked >= 30


def test_source_urls_are_the_portal_detail_pages(cat, portal_available):
    for proc in cat["procedures"]:
        record = _portal_record(proc["code"])
        if record is not None:
            assert proc.get("source_url") == record["detail_url"], proc["code"]


def test_codes_without_portal_record_are_flagged(cat, portal_available):
    for proc in cat["procedures"]:
        if _portal_record(proc["code"]) is None:
            assert any(c["field"] == "code" for c in proc.get("caveats", [])), proc["code"]


# --- spot checks against the law ------------------------------------------------------------


def test_khai_sinh_dung_han_is_free(by_code):
    proc = by_code["1.001193"]
    on_time = [f for f in proc["fees"] if "đúng hạn" in _fold(f["name"] + f.get("text", ""))]
    assert on_time, "Luật Hộ tịch: khai sinh đúng hạn được miễn lệ phí"
    assert all(f["amount_vnd"] == 0 for f in on_time)
    assert "60 ngày" in _fold(proc["conditions"])


def test_khai_tu_dung_han_and_ket_hon_are_free(by_code):
    assert 0 in _amounts(by_code["1.000656"])
    assert "đúng hạn" in _fee_texts(by_code["1.000656"])
    assert 0 in _amounts(by_code["1.000894"])
    assert 0 in _amounts(by_code["1.004837"]), "đăng ký giám hộ được miễn lệ phí"


def test_ket_hon_age_conditions(by_code):
    conditions = _fold(by_code["1.000894"]["conditions"])
    assert "nam từ đủ 20 tuổi" in conditions
    assert "nữ từ đủ 18 tuổi" in conditions


def test_ban_sao_trich_luc_costs_8000_per_copy(by_code):
    fees = by_code["2.000635"]["fees"]
    assert any(f["amount_vnd"] == 8000 and f.get("unit") == "bản" for f in fees)


def test_chung_thuc_ban_sao_fee_schedule(by_code):
    proc = by_code["2.000815"]
    per_page = {f["amount_vnd"] for f in proc["fees"] if f.get("unit") == "trang"}
    assert per_page == {2000, 1000}
    assert "200.000" in _fee_texts(proc)
    assert "trang thứ ba" in _fee_texts(proc)


def test_chung_thuc_chu_ky_and_hop_dong_fees(by_code):
    assert 10000 in _amounts(by_code["2.000884"])
    for code in ("2.001035", "2.001019", "2.001406"):
        assert 50000 in _amounts(by_code[code]), code


def test_province_set_ho_tich_fees_are_not_given_a_number(by_code):
    for code in ("1.004884", "1.004746", "1.005461", "1.004873", "1.001022"):
        fee = by_code[code]["fees"][0]
        assert fee["amount_vnd"] is None, code
        assert "hội đồng nhân dân tỉnh" in _fold(fee["text"]), code
        assert "người thuộc hộ nghèo" in map(_fold, fee["exemptions"]), code


def test_can_cuoc_fees(by_code):
    assert _amounts(by_code["1.014061"]) == {0}, "cấp thẻ lần đầu không thu lệ phí"
    assert 50000 in _amounts(by_code["1.014063"])
    assert 70000 in _amounts(by_code["1.014064"])
    for code in ("1.014063", "1.014064"):
        assert "31 tháng 12 năm 2026" in _fee_texts(by_code[code]), code


def test_cu_tru_fees_differ_by_channel(by_code):
    thuong_tru = by_code["1.004222"]
    assert {20000, 10000} <= _amounts(thuong_tru)
    modes = {s["mode"]: s for s in thuong_tru["submission"]}
    assert "20.000" in modes["in_person"]["fee"]
    assert "10.000" in modes["online"]["fee"]


def test_police_procedures_are_submitted_to_commune_police(by_code):
    for code in ("1.004222", "1.004194", "1.002755", "1.003677", "1.003197", "1.014061"):
        proc = by_code[code]
        assert proc["agency"] == "Công an cấp xã", code
        in_person = [s for s in proc["submission"] if s["mode"] == "in_person"]
        assert in_person and "Công an" in in_person[0]["where"], code


def test_commune_procedures_after_the_2025_reform_are_at_commune_level(cat):
    for proc in cat["procedures"]:
        assert "commune" in proc["level"], proc["code"]
        assert "huyện" not in _fold(proc["agency"]), proc["code"]


def test_disability_allowance_is_folded_into_monthly_social_allowance(by_code):
    monthly = by_code["1.001776"]
    assert any("khuyết tật" in a for a in monthly["aliases"])
    assert any(c["field"] == "code" for c in monthly["caveats"])
