"""Importer for the national public service portal's records (server/portal_import.py).

The parser tests use small hand-made strings shaped like the portal's flattened fields, so they
run anywhere; the tests on the real crawl in ../shared skip with a message when it is absent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hoixa.contract import catalogue
from hoixa.server.portal_fields import (
    MAX_STEP_CHARS,
    PLACEHOLDER,
    clean_result,
    interpret_fee,
    interpret_time,
    parse_documents,
    parse_legal_basis,
    parse_submission_table,
    split_steps,
)
from hoixa.server.portal_import import (
    derive_aliases,
    import_portal_dir,
    record_to_procedure,
)

PORTAL_RECORDS = (
    Path(__file__).resolve().parents[1].parent / "shared/data/tthc/chatbot_tthc/data/raw"
)
TABLE_HEAD = "Hình thức nộpThời gianPhí, lệ phíMô tả"
DOCS_HEAD = "Tên giấy tờMẫu đơn, tờ khaiSố lượng"
LEGAL_HEAD = "Tên văn bản pháp lýMã văn bản"


def portal_record(**fields) -> dict:
    """A small record shaped like the crawl's, every field a string."""
    record = {
        "ma_thu_tuc": "1.000001",
        "detail_url": "https://dichvucong.gov.vn/thu-tuc-hanh-chinh/example",
        "formality_id": "",
        "ten_thu_tuc": "Thủ tục đăng ký khai tử.",
        "so_quyet_dinh": "163/QĐ-BTP",
        "cap_thuc_hien": "Cấp xã",
        "loai_thu_tuc": "",
        "linh_vuc": "Hộ tịch",
        "doi_tuong_thuc_hien": "Công dân Việt Nam",
        "co_quan_co_tham_quyen": "",
        "dia_chi_tiep_nhan": "",
        "co_quan_duoc_uy_quyen": "",
        "co_quan_phoi_hop": "",
        "thu_tuc_lien_quan": "Không có thông tin",
        "trinh_tu_thuc_hien": "- Người đi đăng ký nộp hồ sơ tại Bộ phận một cửa.\n"
        "- Công chức tư pháp - hộ tịch ghi vào Sổ đăng ký khai tử.",
        "cach_thuc_thuc_hien": f"{TABLE_HEAD}Trực tiếp1 Ngày làm việcMiễn phí",
        "thanh_phan_ho_so": f"--{DOCS_HEAD}Tờ khai đăng ký khai tử theo mẫu1 bản chính",
        "can_cu_phap_ly": f"{LEGAL_HEAD}Luật Hộ tịch60/2014/QH13",
        "co_quan_thuc_hien": "Ủy ban nhân dân cấp xã",
        "yeu_cau_dieu_kien": "Không có thông tin",
        "ket_qua_xu_ly": "Trích lục khai tửMã: KQ.G15.000040Từ khóaKhông có thông tinMô tả",
        "raw_text": "Mã thủ tục1.000001Số quyết định163/QĐ-BTP",
    }
    record.update(fields)
    return record


def as_catalogue(procedures: list[dict]) -> dict:
    return {
        "schema_version": 1,
        "version": 1,
        "scope": "all",
        "issued_at": "2026-11-23T00:00:00Z",
        "procedures": procedures,
    }


# ---------------------------------------------------------------------------------------------
# the submission table: modes, times, fees


def test_table_rows_are_separated_again_by_mode_time_and_fee():
    text = (
        f"{TABLE_HEAD}Trực tiếp5 Ngày làm việcLệ phí : 8.000 Đồng(8.000 đồng/bản)"
        "Nộp tại Bộ phận một cửa cấp xãTrực tuyến1Miễn phíDịch vụ bưu chính2 GiờKhông có thông tin"
    )
    rows = parse_submission_table(text)
    assert [(r.mode, r.time, r.fee) for r in rows] == [
        ("in_person", "5 Ngày làm việc", "Lệ phí : 8.000 Đồng"),
        ("online", "1", "Miễn phí"),
        ("post", "2 Giờ", "Không có thông tin"),
    ]
    assert rows[0].fee_note == "8.000 đồng/bản"
    assert rows[0].description == "Nộp tại Bộ phận một cửa cấp xã"


def test_mode_words_inside_a_description_do_not_start_a_row():
    text = (
        f"{TABLE_HEAD}Trực tuyến2 Ngày làm việcMiễn phí- Trực tuyến: nộp qua Cổng dịch vụ công"
        "Trực tiếp2 Ngày làm việcMiễn phí- Trực tiếp: nộp tại Công an cấp xã."
    )
    rows = parse_submission_table(text)
    assert [r.mode for r in rows] == ["online", "in_person"]
    assert rows[1].description == "- Trực tiếp: nộp tại Công an cấp xã."


def test_times_become_working_days_only_when_the_unit_says_days():
    rows = parse_submission_table(
        f"{TABLE_HEAD}Trực tiếp5 Ngày làm việcMiễn phíTrực tuyến3 NgàyMiễn phí"
        "Dịch vụ bưu chính4 GiờMiễn phí"
    )
    times = [interpret_time(r) for r in rows]
    assert [(t.text, t.working_days) for t in times] == [
        ("5 ngày làm việc", 5),
        ("3 ngày", 3),
        ("4 giờ", None),
    ]
    assert all(t.known for t in times)


def test_a_bare_number_is_not_turned_into_days():
    (row,) = parse_submission_table(f"{TABLE_HEAD}Trực tuyến1Miễn phí")
    time = interpret_time(row)
    assert time.working_days is None and not time.known
    assert "không ghi đơn vị" in time.text


def test_a_bare_number_takes_its_unit_from_a_matching_description():
    (row,) = parse_submission_table(
        f"{TABLE_HEAD}Trực tiếp4Miễn phí04 ngày làm việc, kể từ ngày nhận đủ hồ sơ"
    )
    time = interpret_time(row)
    assert (time.text, time.working_days, time.known) == (
        "04 ngày làm việc, kể từ ngày nhận đủ hồ sơ",
        4,
        True,
    )


def test_fees_fixed_free_and_unknown():
    rows = parse_submission_table(
        f"{TABLE_HEAD}Trực tiếp5 Ngày làm việcLệ phí : 8.000 Đồng"
        "Trực tuyến5 Ngày làm việcMiễn phí"
        "Dịch vụ bưu chính5 Ngày làm việcKhông có thông tin"
    )
    fixed, free, unknown = (interpret_fee(r) for r in rows)
    assert (fixed.name, fixed.amount_vnd, fixed.text) == ("Lệ phí", 8000, "8.000 đồng")
    assert (free.amount_vnd, free.text) == (0, "Miễn phí")
    assert unknown.amount_vnd is None and not unknown.known and unknown.text == PLACEHOLDER


def test_fee_unit_comes_from_the_note_and_comma_thousands_are_read():
    (row,) = parse_submission_table(
        f"{TABLE_HEAD}Trực tiếp2 Ngày làm việc70,000 VNĐ(70.000 đồng/Giấy chứng nhận)"
    )
    fee = interpret_fee(row)
    assert (fee.amount_vnd, fee.unit, fee.text) == (
        70000,
        "Giấy chứng nhận",
        "70.000 đồng/Giấy chứng nhận",
    )


def test_free_by_default_but_set_by_the_province_is_not_called_free():
    (row,) = parse_submission_table(
        f"{TABLE_HEAD}Trực tuyến2 Ngày làm việcMiễn phí(Mức lệ phí cụ thể do Hội đồng nhân dân "
        "tỉnh quyết định. Miễn lệ phí cho người thuộc hộ nghèo.)"
    )
    fee = interpret_fee(row)
    assert fee.amount_vnd is None and fee.by_province
    assert "Hội đồng nhân dân" in fee.text
    assert fee.exemptions == ["Miễn lệ phí cho người thuộc hộ nghèo"]


def test_two_different_amounts_give_no_single_amount_but_both_in_words():
    (row,) = parse_submission_table(
        f"{TABLE_HEAD}Trực tiếp10 Ngày làm việc50,000 Việt Nam Đồng((áp dụng mức phí 25.000 "
        "đồng/hồ sơ kể từ ngày 01/7/2025 đến hết ngày 31/12/2026))"
    )
    fee = interpret_fee(row)
    assert fee.amount_vnd is None and not fee.unclear
    assert "50.000 đồng" in fee.text and "25.000 đồng" in fee.text


def test_time_and_amount_run_together_are_reported_not_guessed():
    (row,) = parse_submission_table(f"{TABLE_HEAD}Trực tuyến120 VNĐ(20.000 vnđ /tờ khai)")
    assert row.ambiguous
    assert not interpret_time(row).known
    fee = interpret_fee(row)
    assert fee.amount_vnd is None and fee.unclear and "20.000" in fee.text


def test_an_implausibly_small_amount_is_flagged():
    (row,) = parse_submission_table(f"{TABLE_HEAD}Trực tiếp1 Ngày làm việc40 Việt Nam Đồng")
    fee = interpret_fee(row)
    assert fee.amount_vnd is None and fee.unclear


# ---------------------------------------------------------------------------------------------
# documents


def test_documents_with_copies_forms_templates_and_groups():
    text = (
        f"* Giấy tờ phải nộp:{DOCS_HEAD}- Tờ khai đăng ký khai tử theo mẫu (Mẫu TP/HT-01)"
        "Mau TK khai tu.docx1 bản chính"
        "- Bản sao có chứng thực Giấy báo tử0 bản chính,1 bản sao"
        "Bản chính hoặc bản sao kèm bản chính để đối chiếu giấy ủy quyền1 bản chính,1 bản sao"
        f"* Giấy tờ phải xuất trình:{DOCS_HEAD}- Thẻ căn cước của người đi đăng ký1 bản chính"
        f"* Lưu ý:{DOCS_HEAD}- Không được yêu cầu nộp thêm giấy tờ khác.0 bản chính"
    )
    docs = parse_documents(text)
    assert docs == [
        {
            "name": "Tờ khai đăng ký khai tử theo mẫu (Mẫu TP/HT-01)",
            "copies": 1,
            "form": "original",
            "template": "Mau TK khai tu",
        },
        {"name": "Bản sao có chứng thực Giấy báo tử", "copies": 1, "form": "certified_copy"},
        {
            "name": "Bản chính hoặc bản sao kèm bản chính để đối chiếu giấy ủy quyền",
            "copies": 1,
            "form": "any",
        },
        {"name": "Thẻ căn cước của người đi đăng ký", "copies": 0, "form": "present"},
    ]


def test_quantities_inside_a_document_text_and_glued_years_are_not_rows():
    text = (
        f"--{DOCS_HEAD}Hóa đơn thương mại: 01 bản chụp; giấy phép: 01 bản chính.1 bản chính"
        "Biên bản lập theo Thông tư số 01/2020/TT-BTP năm 20201 bản chính"
        "- Phiếu giao hàng: 02 bản chính1 bản chính,1 bản sao"
    )
    docs = parse_documents(text)
    assert [d["name"] for d in docs] == [
        "Hóa đơn thương mại: 01 bản chụp; giấy phép: 01 bản chính",
        "Biên bản lập theo Thông tư số 01/2020/TT-BTP năm 2020",
        "Phiếu giao hàng: 02 bản chính",
    ]
    forms = [(d["copies"], d["form"]) for d in docs]
    assert forms == [(1, "original"), (1, "original"), (1, "any")]


def test_a_row_ending_with_a_colon_is_the_condition_of_the_rows_after_it():
    text = (
        f"--{DOCS_HEAD}- Đơn đề nghị cấp phép1 bản chính"
        "- Đối với dự án đầu tư, hồ sơ phải bổ sung:0 bản chính,1 bản sao"
        "+ Bản sao quyết định phê duyệt dự án0 bản chính,1 bản sao"
    )
    docs = parse_documents(text)
    assert [d["name"] for d in docs] == [
        "Đơn đề nghị cấp phép",
        "Bản sao quyết định phê duyệt dự án",
    ]
    assert "condition" not in docs[0]
    assert docs[1]["condition"] == "Đối với dự án đầu tư, hồ sơ phải bổ sung"
    assert (docs[1]["copies"], docs[1]["form"]) == (1, "copy")


# ---------------------------------------------------------------------------------------------
# legal basis


def test_legal_basis_rows_split_into_code_and_title():
    text = (
        f"{LEGAL_HEAD}Thông tư Hướng dẫn về phí và lệ phí85/2019/TT-BTC"
        "Nghị định số 123/2015/NĐ-CP ngày 15/11/2015 của Chính phủ quy định chi tiết Luật Hộ tịch"
        "123/2015/NĐ-CPLuật 60/2014/QH1360/2014/QH13"
        "Nghị quyết số 66.7/2025/NQ-CP của Chính phủ66.7/2025/NQ-CP"
        "Bộ luật Dân sự năm 201591/2015/QH13"
        "Thông tư số 03/2023/TT-BTP ngày 02/8/2023 của Bộ trưởng Bộ Tư pháp"
        "Thông tư số 03/2023/TT-BTP"
        "Quyết định của Ủy ban nhân dân tỉnh24/2024"
    )
    docs = [(d.code, d.title) for d in parse_legal_basis(text)]
    assert docs == [
        ("85/2019/TT-BTC", "Thông tư Hướng dẫn về phí và lệ phí"),
        (
            "123/2015/NĐ-CP",
            "Nghị định số 123/2015/NĐ-CP ngày 15/11/2015 của Chính phủ quy định chi tiết "
            "Luật Hộ tịch",
        ),
        ("60/2014/QH13", "Luật 60/2014/QH13"),
        ("66.7/2025/NQ-CP", "Nghị quyết số 66.7/2025/NQ-CP của Chính phủ"),
        ("91/2015/QH13", "Bộ luật Dân sự năm 2015"),
        ("03/2023/TT-BTP", "Thông tư số 03/2023/TT-BTP ngày 02/8/2023 của Bộ trưởng Bộ Tư pháp"),
        ("24/2024", "Quyết định của Ủy ban nhân dân tỉnh"),
    ]


def test_a_capitalised_title_after_a_space_starts_a_new_row_unless_the_code_is_its_own():
    text = (
        f"{LEGAL_HEAD}Nghị định cắt giảm thủ tục của Bộ Tư pháp18/2026/NĐ-CP "
        "Nghị định quy định về Cơ sở dữ liệu hộ tịch điện tử87/2020/NĐ-CP"
        "Thông tư số 40/2025/TT-BTC Sửa đổi, bổ sung Thông tư 80/2021/TT-BTC40/2025/TT-BTC"
    )
    docs = [(d.code, d.title) for d in parse_legal_basis(text)]
    assert docs == [
        ("18/2026/NĐ-CP", "Nghị định cắt giảm thủ tục của Bộ Tư pháp"),
        ("87/2020/NĐ-CP", "Nghị định quy định về Cơ sở dữ liệu hộ tịch điện tử"),
        ("40/2025/TT-BTC", "Thông tư số 40/2025/TT-BTC Sửa đổi, bổ sung Thông tư 80/2021/TT-BTC"),
    ]


# ---------------------------------------------------------------------------------------------
# steps and result


def test_steps_join_hard_wraps_and_drop_numbering():
    text = (
        "a) Bước 1: Nộp hồ sơ\n"
        "- Người yêu cầu nộp hồ sơ trực tiếp từ tổ\n"
        "chức dịch vụ hoặc qua bưu chính.\n"
        "+ Bước 2. Cán bộ kiểm tra hồ sơ.\n"
        "(i) Trường hợp hồ sơ đầy đủ thì tiếp nhận.\n"
        "1.1. Trình tự thực hiện\n"
        "3. Trả kết quả."
    )
    assert split_steps(text) == [
        "Nộp hồ sơ: Người yêu cầu nộp hồ sơ trực tiếp từ tổ chức dịch vụ hoặc qua bưu chính.",
        "Cán bộ kiểm tra hồ sơ.",
        "Trường hợp hồ sơ đầy đủ thì tiếp nhận.",
        "Trả kết quả.",
    ]


def test_long_steps_are_cut_at_sentence_ends_into_short_ones():
    sentences = [f"Câu số {i} nói về việc kiểm tra hồ sơ của người dân tại xã." for i in range(12)]
    steps = split_steps("- " + " ".join(sentences))
    assert len(steps) > 1
    assert all(len(s) <= MAX_STEP_CHARS for s in steps)
    assert " ".join(steps) == " ".join(sentences)  # nothing lost, whole sentences only


def test_empty_or_no_information_gives_no_steps():
    assert split_steps("Không có thông tin") == []
    assert split_steps("") == []


def test_result_loses_codes_and_page_chrome():
    text = (
        "Quyết định về việc điều chỉnh chế độ BHXHMã: KQ.G24.000021Thông báo kết quả giải quyết"
        "Mã: KQ.G24.000022Từ khóaKhông có thông tinMô tảKhông có thông tinChọn cơ quan thực hiện"
    )
    assert clean_result(text) == (
        "Quyết định về việc điều chỉnh chế độ BHXH; Thông báo kết quả giải quyết"
    )
    assert clean_result("") == ""


# ---------------------------------------------------------------------------------------------
# one record


def test_a_record_becomes_a_valid_procedure():
    proc = record_to_procedure(portal_record())
    catalogue.validate(as_catalogue([proc]))
    assert proc["code"] == "1.000001"
    assert proc["name"] == "Đăng ký khai tử"
    assert proc["spoken_name"] == "đăng ký khai tử"
    assert proc["level"] == ["commune"]
    assert proc["agency"] == "Ủy ban nhân dân cấp xã"
    assert proc["processing_time"] == {"text": "1 ngày làm việc", "working_days": 1}
    assert proc["fees"] == [{"name": "Phí, lệ phí", "amount_vnd": 0, "text": "Miễn phí"}]
    assert proc["submission"] == [{"mode": "in_person"}]
    assert proc["result"] == "Trích lục khai tử"
    assert proc["legal_basis"] == [{"code": "60/2014/QH13", "title": "Luật Hộ tịch"}]
    assert proc["source_url"].startswith("https://dichvucong.gov.vn/")
    assert "conditions" not in proc and "caveats" not in proc


def test_missing_content_gets_a_placeholder_and_a_caveat_never_a_made_up_fact():
    proc = record_to_procedure(
        portal_record(
            trinh_tu_thuc_hien="",
            thanh_phan_ho_so="Không có thông tin",
            cach_thuc_thuc_hien=f"{TABLE_HEAD}Trực tiếpKhông có thông tinKhông có thông tin",
            ket_qua_xu_ly="",
            can_cu_phap_ly="Không có thông tin",
            co_quan_thuc_hien="Không có thông tin",
        )
    )
    catalogue.validate(as_catalogue([proc]))
    assert proc["steps"] == [PLACEHOLDER]
    assert proc["documents"] == [{"name": PLACEHOLDER}]
    assert proc["result"] == PLACEHOLDER
    assert proc["processing_time"] == {"text": PLACEHOLDER, "working_days": None}
    assert proc["fees"][0]["amount_vnd"] is None
    # the legal basis falls back to the decision that published the procedure, said as such
    assert proc["legal_basis"] == [
        {"code": "163/QĐ-BTP", "title": "Quyết định công bố thủ tục hành chính"}
    ]
    caveated = {c["field"] for c in proc["caveats"]}
    expected = {"steps", "documents", "result", "processing_time", "fees", "legal_basis", "agency"}
    assert expected <= caveated


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"ma_thu_tuc": ""}, "no ma_thu_tuc"),
        ({"ma_thu_tuc": "TT-01"}, "not a portal code"),
        ({"ten_thu_tuc": "Không có thông tin"}, "no ten_thu_tuc"),
        ({"linh_vuc": ["Hộ tịch"]}, "field linh_vuc is list"),
        ({"raw_text": "Mã thủ tục1.000999Số quyết định"}, "page it holds is procedure 1.000999"),
        ({"ten_thu_tuc": "Công bố Danh mục thủ tục hành chính của Sở"}, "not a procedure"),
    ],
)
def test_unusable_records_raise_with_the_reason(change, reason):
    with pytest.raises(ValueError, match=reason):
        record_to_procedure(portal_record(**change))


# ---------------------------------------------------------------------------------------------
# a folder


def write(path: Path, content) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")


def test_bad_records_are_reported_and_the_rest_imported(tmp_path):
    write(tmp_path / "bo-tu-phap/1.000001.json", portal_record())
    write(
        tmp_path / "bo-tu-phap/1.000002.json",
        portal_record(
            ma_thu_tuc="1.000002",
            raw_text="",
            cap_thuc_hien="Cấp tỉnh",
            co_quan_thuc_hien="Sở Tư pháp",
        ),
    )
    write(tmp_path / "bo-tu-phap/broken.json", '{"ma_thu_tuc": "1.000003", ')
    write(tmp_path / "bo-cong-an/nocode.json", portal_record(ma_thu_tuc=""))
    write(
        tmp_path / "bo-cong-an/list.json",
        portal_record(ma_thu_tuc="1.000004", raw_text="", trinh_tu_thuc_hien=["Bước 1"]),
    )
    # the same code again, filed under another ministry
    write(tmp_path / "bo-cong-an/1.000001.json", portal_record(linh_vuc="Cư trú"))

    report = import_portal_dir(tmp_path)

    catalogue.validate(report.catalogue)
    assert report.imported == 2
    assert sorted(p["code"] for p in report.catalogue["procedures"]) == ["1.000001", "1.000002"]
    reasons = {f.path: f.reason for f in report.failures}
    assert set(reasons) == {
        "bo-tu-phap/broken.json",
        "bo-cong-an/nocode.json",
        "bo-cong-an/list.json",
    }
    assert reasons["bo-tu-phap/broken.json"].startswith("not valid JSON")
    assert "ma_thu_tuc" in reasons["bo-cong-an/nocode.json"]
    assert "trinh_tu_thuc_hien" in reasons["bo-cong-an/list.json"]
    assert {f.code for f in report.failures} == {None, "1.000004"}
    duplicate = [w for w in report.warnings if "duplicate code 1.000001" in w]
    assert len(duplicate) == 1 and "kept bo-cong-an/1.000001.json" in duplicate[0]
    doc = report.catalogue
    assert (doc["schema_version"], doc["version"], doc["scope"]) == (1, 1, "all")
    assert doc["issued_at"].endswith("Z")


def test_commune_only_keeps_commune_records(tmp_path):
    write(tmp_path / "a/1.000001.json", portal_record())
    write(
        tmp_path / "a/1.000002.json",
        portal_record(ma_thu_tuc="1.000002", raw_text="", cap_thuc_hien="Cấp tỉnh"),
    )
    write(
        tmp_path / "a/1.000005.json",
        portal_record(ma_thu_tuc="1.000005", raw_text="", cap_thuc_hien="Cấp bộ, Cấp tỉnh, Cấp xã"),
    )
    report = import_portal_dir(tmp_path, commune_only=True, version=7)
    codes = [p["code"] for p in report.catalogue["procedures"]]
    assert codes == ["1.000001", "1.000005"]
    assert report.catalogue["version"] == 7
    assert any("1 record(s) skipped" in w for w in report.warnings)


def test_a_missing_folder_is_an_error_not_an_empty_catalogue(tmp_path):
    with pytest.raises(NotADirectoryError):
        import_portal_dir(tmp_path / "nowhere")


def test_a_misfiled_page_is_a_failure_but_its_real_procedure_is_imported_once(tmp_path):
    for filed in ("3.000224", "3.000272"):
        write(
            tmp_path / f"bo-cong-an/{filed}.json",
            portal_record(ma_thu_tuc=filed, raw_text="Mã thủ tục1.014023Số quyết định"),
        )
    report = import_portal_dir(tmp_path)
    assert [p["code"] for p in report.catalogue["procedures"]] == ["1.014023"]
    assert sorted(f.code for f in report.failures) == ["3.000224", "3.000272"]
    assert all("crawl error" in f.reason for f in report.failures)


def test_an_alias_shared_by_several_procedures_stays_only_with_the_one_it_names(tmp_path):
    write(
        tmp_path / "1.json",
        portal_record(ma_thu_tuc="1.000001", raw_text="", ten_thu_tuc="Đăng ký khai sinh"),
    )
    write(
        tmp_path / "2.json",
        portal_record(
            ma_thu_tuc="1.000002",
            raw_text="",
            ten_thu_tuc="Đăng ký khai sinh cho người đã có hồ sơ, giấy tờ cá nhân",
        ),
    )
    write(
        tmp_path / "3.json",
        portal_record(
            ma_thu_tuc="1.000003",
            raw_text="",
            ten_thu_tuc="Đăng ký khai sinh cho trẻ em sinh ra ở nước ngoài",
        ),
    )
    procs = {p["code"]: p for p in import_portal_dir(tmp_path).catalogue["procedures"]}
    assert procs["1.000001"]["aliases"] == ["đăng ký khai sinh", "khai sinh"]
    assert "khai sinh" not in procs["1.000002"].get("aliases", [])
    assert (
        procs["1.000002"]["spoken_name"]
        == "đăng ký khai sinh cho người đã có hồ sơ, giấy tờ cá nhân"
    )


# ---------------------------------------------------------------------------------------------
# aliases


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Thủ tục đăng ký khai sinh", ["đăng ký khai sinh", "khai sinh"]),
        (
            "Cấp bản sao Trích lục hộ tịch, bản sao Giấy khai sinh",
            [
                "cấp bản sao trích lục hộ tịch",
                "bản sao trích lục hộ tịch",
                "bản sao giấy khai sinh",
            ],
        ),
        (
            "Đăng ký kết hôn, đăng ký lại kết hôn",
            ["đăng ký kết hôn", "kết hôn", "đăng ký lại kết hôn"],
        ),
        (
            "Cấp tài khoản định danh điện tử mức độ 02 cho công dân Việt Nam (cấp xã)",
            ["cấp tài khoản định danh điện tử mức độ 02"],
        ),
        (
            "Chứng thực chữ ký trong các giấy tờ, văn bản thực hiện tại cấp xã",
            ["chứng thực chữ ký trong các giấy tờ, văn bản"],
        ),
        (
            "Đăng ký khai sinh kết hợp đăng ký nhận cha, mẹ, con",
            ["đăng ký khai sinh kết hợp đăng ký nhận cha, mẹ, con"],
        ),
        ("Công nhận hộ nghèo, hộ cận nghèo", ["công nhận hộ nghèo", "công nhận hộ cận nghèo"]),
        (
            "Đăng ký hoạt động của Văn phòng công chứng",
            ["đăng ký hoạt động của văn phòng công chứng"],
        ),
    ],
)
def test_derive_aliases(name, expected):
    assert derive_aliases(name) == expected


def test_aliases_are_lower_case_stripped_unique_and_at_most_four():
    name = (
        "Công nhận hộ nghèo, hộ cận nghèo; hộ thoát nghèo, hộ thoát cận nghèo, "
        "hộ có mức sống trung bình"
    )
    aliases = derive_aliases(name)
    assert 1 <= len(aliases) <= 4
    assert all(a == a.lower().strip() and a for a in aliases)
    assert len(set(aliases)) == len(aliases)


# ---------------------------------------------------------------------------------------------
# the real crawl in ../shared


@pytest.fixture(scope="module")
def records_dir() -> Path:
    if not PORTAL_RECORDS.is_dir():
        pytest.skip(f"portal records not found at {PORTAL_RECORDS} (../shared is not here)")
    return PORTAL_RECORDS


@pytest.fixture(scope="module")
def full_import(records_dir):
    return import_portal_dir(records_dir)


@pytest.fixture(scope="module")
def by_code(full_import) -> dict[str, dict]:
    return {p["code"]: p for p in full_import.catalogue["procedures"]}


def _misfiled(records_dir: Path) -> set[str]:
    """Records whose page shows another procedure's code: crawl errors, found independently."""
    misfiled = set()
    for path in records_dir.rglob("*.json"):
        record = json.loads(path.read_text("utf-8"))
        shown = re.search(r"Mã thủ tục(\d\.\d{6})", record["raw_text"])
        if shown and shown.group(1) != record["ma_thu_tuc"]:
            misfiled.add(path.relative_to(records_dir).as_posix())
    return misfiled


def test_the_whole_crawl_imports_as_a_valid_catalogue(records_dir, full_import):
    catalogue.validate(full_import.catalogue)
    total = len(list(records_dir.rglob("*.json")))
    own_code = [p for p in full_import.catalogue["procedures"] if p["code"] != "1.014023"]
    assert len(own_code) / total >= 0.95
    # the only failures are the crawl's misfiled pages, not parser trouble
    assert {f.path for f in full_import.failures} == _misfiled(records_dir)
    assert all(f.reason for f in full_import.failures)


def test_commune_only_gives_the_commune_records_minus_failures(records_dir):
    commune = {
        p.relative_to(records_dir).as_posix()
        for p in records_dir.rglob("*.json")
        if "Cấp xã" in json.loads(p.read_text("utf-8"))["cap_thuc_hien"]
    }
    report = import_portal_dir(records_dir, commune_only=True)
    catalogue.validate(report.catalogue)
    recovered = sum("imported as" in w for w in report.warnings)
    assert {f.path for f in report.failures} <= commune
    assert report.imported == len(commune) - len(report.failures) + recovered
    assert all("commune" in p["level"] for p in report.catalogue["procedures"])


def test_birth_registration_from_the_crawl(by_code):
    proc = by_code["1.001193"]
    codes = {law["code"] for law in proc["legal_basis"]}
    assert {"60/2014/QH13", "123/2015/NĐ-CP", "66.7/2025/NQ-CP"} <= codes
    assert all(law.get("title") for law in proc["legal_basis"])
    assert {s["mode"] for s in proc["submission"]} == {"online", "post", "in_person"}
    assert proc["fees"] == [{"name": "Phí, lệ phí", "amount_vnd": 0, "text": "Miễn phí"}]
    assert proc["result"] == "Giấy khai sinh"
    form = next(d for d in proc["documents"] if d["name"].startswith("Tờ khai đăng ký khai sinh"))
    assert (form["copies"], form["form"]) == (1, "original")
    shown = [d for d in proc["documents"] if d["name"].startswith("Hộ chiếu/Thẻ căn cước")]
    assert shown and shown[0]["form"] == "present"
    assert "khai sinh" in proc["aliases"]


def test_real_times_and_fees(by_code):
    residence = by_code["1.004222"]  # đăng ký thường trú
    assert residence["processing_time"] == {"text": "7 ngày làm việc", "working_days": 7}
    fees = {s["mode"]: s.get("fee", "") for s in residence["submission"]}
    assert fees["online"].startswith("10.000 đồng") and fees["in_person"].startswith("20.000 đồng")
    copy_fee = by_code["2.000635"]["fees"]  # bản sao trích lục: 8,000 VNĐ per mode
    assert [(f["amount_vnd"], f["text"]) for f in copy_fee] == [(8000, "8.000 đồng")]


def test_real_steps_are_clean_short_items(full_import):
    for proc in full_import.catalogue["procedures"]:
        for step in proc["steps"]:
            assert not re.match(r"(?:[-+*•]|Bước\s*\d|[a-zđ]\)\s)", step), (proc["code"], step)
            assert "\n" not in step
            # over the cap only when one sentence is that long on its own (a short closing
            # phrase such as "Cụ thể:" may ride along)
            if len(step) > MAX_STEP_CHARS:
                sentences = re.split(r"(?<=[.!?])\s+(?=[A-ZĐ])", step)
                assert all(len(s) < 40 for s in sentences[1:]), (proc["code"], step[:80])


def test_a_qualifier_naming_a_group_is_never_dropped_from_an_alias():
    aliases = derive_aliases("Khai báo tạm trú cho người nước ngoài tại Việt Nam")
    assert all("nước ngoài" in alias for alias in aliases)


def test_cap_lai_and_cap_doi_keep_their_verb():
    aliases = derive_aliases(
        "Cấp lại Giấy chứng nhận đăng ký hộ kinh doanh, "
        "Cấp đổi sang Giấy chứng nhận đăng ký hộ kinh doanh"
    )
    assert "giấy chứng nhận đăng ký hộ kinh doanh" not in aliases
    assert all(a.startswith(("cấp lại", "cấp đổi")) for a in aliases)


def test_an_alias_that_only_starts_a_sister_procedures_name_is_removed(shared_records):
    report = import_portal_dir(shared_records, commune_only=True)
    by_code = {p["code"]: p for p in report.catalogue["procedures"]}
    ongoing, yearly = by_code["1.011607"], by_code["1.011606"]
    assert "công nhận hộ cận nghèo" not in yearly.get("aliases", [])
    assert "công nhận hộ nghèo" not in ongoing.get("aliases", [])
