"""Answer text as the box should say it: numbers, dates, codes and abbreviations in words.

Each rule is checked with sentences shaped like real procedure answers, against the reading a
Vietnamese clerk would give aloud (Northern usage: "lẻ", "nghìn", "mùng", "tháng tư").
"""

from __future__ import annotations

import json
import re

import pytest

from conftest import PORTAL_RECORDS
from hoixa.spoken import number_to_words, read_digits, to_spoken

Y2025 = "hai nghìn không trăm hai mươi lăm"
Y2015 = "hai nghìn không trăm mười lăm"


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "không"),
        (15, "mười lăm"),
        (21, "hai mươi mốt"),
        (24, "hai mươi tư"),
        (25, "hai mươi lăm"),
        (14, "mười bốn"),
        (105, "một trăm lẻ năm"),
        (110, "một trăm mười"),
        (2025, Y2025),
        (1014, "một nghìn không trăm mười bốn"),
        (1001, "một nghìn không trăm lẻ một"),
        (10_500, "mười nghìn năm trăm"),
        (1_000_000, "một triệu"),
        (1_000_005, "một triệu không trăm lẻ năm"),
        (1_005_000, "một triệu không trăm lẻ năm nghìn"),
        (2_500_000, "hai triệu năm trăm nghìn"),
        (3_000_000_024, "ba tỷ không trăm hai mươi tư"),
    ],
)
def test_number_to_words_fixes_num2words(n, words):
    assert number_to_words(n) == words


def test_read_digits_pauses_between_groups():
    assert read_digits("114") == "một một bốn"
    assert read_digits("0277 3851 234") == "không hai bảy bảy, ba tám năm một, hai ba bốn"


# Each rule: (written, spoken). Every input here is also checked for leftover digits and for
# idempotence below.
NUMBERS = [
    ("Lệ phí: 8.000 đồng/bản.", "Lệ phí: tám nghìn đồng một bản."),
    ("Phí thẩm định 200.000 đồng.", "Phí thẩm định hai trăm nghìn đồng."),
    ("Mức thu 1.500.000 đồng.", "Mức thu một triệu năm trăm nghìn đồng."),
    ("Nộp 02 bản sao, 1 bản chính.", "Nộp hai bản sao, một bản chính."),
    ("Diện tích 0,5 ha.", "Diện tích không phẩy năm héc ta."),
    ("Hệ số 1,05.", "Hệ số một phẩy không năm."),
    ("Xem mục 2.3. Thành phần hồ sơ.", "Xem mục hai chấm ba. Thành phần hồ sơ."),
    ("Theo mẫu CC02.", "Theo mẫu CC không hai."),
]
MONEY = [
    ("Lệ phí 8.000đ.", "Lệ phí tám nghìn đồng."),
    ("Lệ phí 8.000 VNĐ một lần.", "Lệ phí tám nghìn đồng một lần."),
    ("Phí 50.000 VND/hồ sơ.", "Phí năm mươi nghìn đồng một hồ sơ."),
    ("Hỗ trợ 1,5 triệu đồng.", "Hỗ trợ một phẩy năm triệu đồng."),
    ("Chỉ 10 nghìn đồng.", "Chỉ mười nghìn đồng."),
    ("Lệ phí 7,000 Việt Nam Đồng.", "Lệ phí bảy nghìn Việt Nam Đồng."),
    ("Phí 25.000đ/giấy thông hành.", "Phí hai mươi lăm nghìn đồng một giấy thông hành."),
]
DATES = [
    (
        "Nộp trước 15h30 ngày 01/7/2025.",
        f"Nộp trước mười lăm giờ ba mươi phút ngày mùng một tháng bảy năm {Y2025}.",
    ),
    ("Hạn 12/6/2025.", f"Hạn ngày mười hai tháng sáu năm {Y2025}."),
    ("Từ ngày 01/07/2025.", f"Từ ngày mùng một tháng bảy năm {Y2025}."),
    ("Áp dụng từ tháng 7/2025.", f"Áp dụng từ tháng bảy năm {Y2025}."),
    (
        "Ngày 30/4/2025 và 24/12/2025.",
        f"Ngày ba mươi tháng tư năm {Y2025} và ngày hai mươi tư tháng mười hai năm {Y2025}.",
    ),
    (
        "Ngày 15 tháng 4 năm 2025.",
        f"Ngày mười lăm tháng tư năm {Y2025}.",
    ),
    ("Trước ngày 1 tháng 1 hằng năm.", "Trước ngày mùng một tháng một hằng năm."),
    ("Nộp trước ngày 30/9 hàng năm.", "Nộp trước ngày ba mươi tháng chín hàng năm."),
    ("Ngày 12-6-2025.", f"Ngày mười hai tháng sáu năm {Y2025}."),
    ("Sau 3 tháng 4 ngày.", "Sau ba tháng bốn ngày."),
]
TIMES = [
    ("Làm việc đến 15 giờ.", "Làm việc đến mười lăm giờ."),
    ("Mở cửa lúc 7h, đóng lúc 17h.", "Mở cửa lúc bảy giờ, đóng lúc mười bảy giờ."),
    ("Hẹn 7 giờ 30 sáng.", "Hẹn bảy giờ ba mươi phút sáng."),
    ("Tiếp nhận đến 11h30.", "Tiếp nhận đến mười một giờ ba mươi phút."),
    ("Bắt đầu 07:05.", "Bắt đầu bảy giờ năm phút."),
    ("Từ 0 giờ 00 phút.", "Từ không giờ không phút."),
]
RANGES = [
    ("Trả kết quả trong 3-5 ngày làm việc.", "Trả kết quả trong ba đến năm ngày làm việc."),
    ("Trả kết quả trong 3 – 5 ngày làm việc.", "Trả kết quả trong ba đến năm ngày làm việc."),
    (
        "Sáng 7h30 - 11h30.",
        "Sáng bảy giờ ba mươi phút đến mười một giờ ba mươi phút.",
    ),
    (
        "Phí 50.000 - 100.000 đồng.",
        "Phí năm mươi nghìn đến một trăm nghìn đồng.",
    ),
    ("Trẻ từ 14 tuổi.", "Trẻ từ mười bốn tuổi."),
]
PERCENTAGES = [
    ("Giảm 50% lệ phí.", "Giảm năm mươi phần trăm lệ phí."),
    ("Nộp trực tuyến giảm 2,5 %.", "Nộp trực tuyến giảm hai phẩy năm phần trăm."),
]
PHONES = [
    ("Gọi 114 khi có cháy.", "Gọi một một bốn khi có cháy."),
    (
        "Gọi ngay 113, 114 hoặc 115.",
        "Gọi ngay một một ba, một một bốn hoặc một một năm.",
    ),
    ("Báo cháy (114).", "Báo cháy (một một bốn)."),
    (
        "Công an: 113. Cứu hỏa và cứu nạn: 114. Cấp cứu: 115.",
        "Công an: một một ba. Cứu hỏa và cứu nạn: một một bốn. Cấp cứu: một một năm.",
    ),
    ("Điều 114 của Luật.", "Điều một trăm mười bốn của Luật."),
    ("Trụ sở số 115 đường Lê Lợi.", "Trụ sở số một trăm mười lăm đường Lê Lợi."),
    (
        "Điện thoại: 0277 3851 234.",
        "Điện thoại: không hai bảy bảy, ba tám năm một, hai ba bốn.",
    ),
    ("Tổng đài 1900 1234.", "Tổng đài một chín không không, một hai ba bốn."),
    (
        "SĐT 0912345678 trong giờ hành chính.",
        "số điện thoại không chín một hai, ba bốn năm, sáu bảy tám trong giờ hành chính.",
    ),
    (
        "ĐT: 0277.3851.234.",
        "điện thoại: không hai bảy bảy, ba tám năm một, hai ba bốn.",
    ),
]
LEGAL_CODES = [
    (
        "Theo Nghị định 123/2015/NĐ-CP.",
        f"Theo Nghị định một trăm hai mươi ba năm {Y2015} của Chính phủ.",
    ),
    (
        "Luật 60/2014/QH13.",
        "Luật số sáu mươi năm hai nghìn không trăm mười bốn của Quốc hội.",
    ),
    (
        "Thông tư 85/2019/TT-BTC.",
        "Thông tư tám mươi lăm năm hai nghìn không trăm mười chín của Bộ Tài chính.",
    ),
    (
        "Luật Hộ tịch số 60/2014/QH13.",
        "Luật Hộ tịch số sáu mươi năm hai nghìn không trăm mười bốn của Quốc hội.",
    ),
    (
        "Căn cứ 59/2022/NĐ-CP.",
        "Căn cứ Nghị định số năm mươi chín năm hai nghìn không trăm hai mươi hai của Chính phủ.",
    ),
    (
        "Nghị định số 123/2015/NĐ-CP ngày 15/11/2015 của Chính phủ.",
        f"Nghị định số một trăm hai mươi ba năm {Y2015} ngày mười lăm tháng mười một năm"
        f" {Y2015} của Chính phủ.",
    ),
    (
        "Quyết định 19/2024/QĐ-TTg.",
        "Quyết định mười chín năm hai nghìn không trăm hai mươi tư của Thủ tướng Chính phủ.",
    ),
    (
        "Nghị quyết 12/2025/NQ-HĐND.",
        "Nghị quyết mười hai năm hai nghìn không trăm hai mươi lăm của Hội đồng nhân dân.",
    ),
    (
        "Thông tư liên tịch số 01/2014/TTLT-BTP-BTC.",
        "Thông tư liên tịch số một năm hai nghìn không trăm mười bốn"
        " của Bộ Tư pháp và Bộ Tài chính.",
    ),
    (
        "Thông tư 05/2023/TT-BLĐTBXH.",
        "Thông tư năm năm hai nghìn không trăm hai mươi ba của Bộ Lao động, Thương binh và Xã hội.",
    ),
    (
        "Quyết định số 1523/QĐ-BCA.",
        "Quyết định số một nghìn năm trăm hai mươi ba của Bộ Công an.",
    ),
    (
        "Văn bản 12/2020/XYZ.",
        "Văn bản mười hai năm hai nghìn không trăm hai mươi ký hiệu ích i dài dét.",
    ),
]
ABBREVIATIONS = [
    (
        "Mang theo CCCD và giấy tờ của UBND xã.",
        "Mang theo căn cước công dân và giấy tờ của ủy ban nhân dân xã.",
    ),
    (
        "Xuất trình CCCD/CMND hoặc tài khoản VNeID.",
        "Xuất trình căn cước công dân hoặc chứng minh nhân dân hoặc tài khoản vê en e i đê.",
    ),
    ("Thẻ BHYT, sổ BHXH.", "Thẻ bảo hiểm y tế, sổ bảo hiểm xã hội."),
    (
        "Tra cứu CSDL về TTHC của HĐND.",
        "Tra cứu cơ sở dữ liệu về thủ tục hành chính của hội đồng nhân dân.",
    ),
    ("Văn phòng tại TP. Hồ Chí Minh.", "Văn phòng tại thành phố Hồ Chí Minh."),
    ("Văn phòng tại Tp. Cần Thơ.", "Văn phòng tại thành phố Cần Thơ."),
    ("Theo NĐ-CP mới.", "Theo nghị định chính phủ mới."),
    ("Có QĐ của xã.", "Có quyết định của xã."),
    ("Áp dụng TT 01/2022.", "Áp dụng thông tư một năm hai nghìn không trăm hai mươi hai."),
    ("Ghi SĐT và STT.", "Ghi số điện thoại và số thứ tự."),
    ("Giấy tờ tùy thân, v.v. Sau đó nộp.", "Giấy tờ tùy thân, vân vân. Sau đó nộp."),
    ("Sổ hộ khẩu, giấy khai sinh, v.v.", "Sổ hộ khẩu, giấy khai sinh, vân vân."),
    ("Sở TN&MT.", "Sở tài nguyên và môi trường."),
]
ORDINALS = [
    (
        "Từ thứ 2 đến thứ 6 và sáng thứ 7.",
        "Từ thứ hai đến thứ sáu và sáng thứ bảy.",
    ),
    ("Nộp lần 1, không đạt thì nộp lần 2.", "Nộp lần một, không đạt thì nộp lần hai."),
    ("Thứ 4 hàng tuần.", "Thứ tư hàng tuần."),
    ("Con thứ 1 được miễn.", "Con thứ nhất được miễn."),
    ("Theo mẫu tại Phụ lục II.", "Theo mẫu tại Phụ lục hai."),
]
SYMBOLS = [
    ("Sở Tài nguyên & Môi trường.", "Sở Tài nguyên và Môi trường."),
    ("Nộp tại UBND xã/phường.", "Nộp tại ủy ban nhân dân xã hoặc phường."),
    ("Ghi rõ ngày/tháng/năm sinh.", "Ghi rõ ngày tháng năm sinh."),
    ("Tổng 2 + 3 bản.", "Tổng hai cộng ba bản."),
    ("Bộ Lao động - Thương binh và Xã hội.", "Bộ Lao động, Thương binh và Xã hội."),
    ("Ảnh 4x6cm.", "Ảnh bốn nhân sáu xen ti mét."),
    (
        "- Bước 1: nộp hồ sơ.\n+ Bước 2: nhận kết quả.",
        "Bước một: nộp hồ sơ.\nBước hai: nhận kết quả.",
    ),
]

RULE_CASES = {
    "numbers": NUMBERS,
    "money": MONEY,
    "dates": DATES,
    "times": TIMES,
    "ranges": RANGES,
    "percentages": PERCENTAGES,
    "phones": PHONES,
    "legal_codes": LEGAL_CODES,
    "abbreviations": ABBREVIATIONS,
    "ordinals": ORDINALS,
    "symbols": SYMBOLS,
}
ALL_CASES = [case for cases in RULE_CASES.values() for case in cases]


@pytest.mark.parametrize(("written", "spoken"), NUMBERS)
def test_numbers(written, spoken):
    assert to_spoken(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), MONEY)
def test_money(written, spoken):
    assert to_spoken(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), DATES)
def test_dates(written, spoken):
    assert to_spoken(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), TIMES)
def test_times(written, spoken):
    assert to_spoken(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), RANGES)
def test_ranges(written, spoken):
    assert to_spoken(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), PERCENTAGES)
def test_percentages(written, spoken):
    assert to_spoken(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), PHONES)
def test_phone_and_emergency_numbers(written, spoken):
    assert to_spoken(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), LEGAL_CODES)
def test_legal_codes(written, spoken):
    assert to_spoken(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), ABBREVIATIONS)
def test_abbreviations(written, spoken):
    assert to_spoken(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), ORDINALS)
def test_ordinals(written, spoken):
    assert to_spoken(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), SYMBOLS)
def test_symbols(written, spoken):
    assert to_spoken(written) == spoken


@pytest.mark.parametrize(
    "text",
    [
        "Bác mang theo giấy tờ tùy thân và đến bộ phận một cửa của xã.",
        "Thủ tục đăng ký khai sinh. Bác muốn nghe phần nào?",
        "Nộp trực tiếp tại Trung tâm phục vụ hành chính công; hoặc nộp trực tuyến!",
        "Kết quả: Giấy khai sinh (bản chính), Trích lục khai sinh.",
        "",
    ],
)
def test_text_without_numbers_or_abbreviations_is_unchanged(text):
    assert to_spoken(text) == text


def test_case_sensitive_whole_word_abbreviations():
    # "TT" alone is too ambiguous; an abbreviation inside a longer word is not one.
    assert to_spoken("Trung tâm TT và phòng UBNDX.") == "Trung tâm TT và phòng UBNDX."
    assert to_spoken("ubnd xã") == "ubnd xã"


def test_web_addresses_are_left_as_written():
    text = "Nộp tại https://dichvucong.gov.vn/p/home/dvc-trang-chu.html trong 2 ngày."
    assert to_spoken(text) == (
        "Nộp tại https://dichvucong.gov.vn/p/home/dvc-trang-chu.html trong hai ngày."
    )


@pytest.mark.parametrize("written", [w for w, _ in ALL_CASES])
def test_no_ascii_digits_are_left(written):
    assert not re.search(r"[0-9]", to_spoken(written))


@pytest.mark.parametrize("written", [w for w, _ in ALL_CASES])
def test_idempotent(written):
    once = to_spoken(written)
    assert to_spoken(once) == once


PORTAL_FIELDS = ("trinh_tu_thuc_hien", "yeu_cau_dieu_kien", "can_cu_phap_ly", "thanh_phan_ho_so")


def test_real_procedure_texts_leave_no_digits_and_are_stable():
    """Every portal text, even flattened tables, comes out without digits and stays put."""
    if not PORTAL_RECORDS.is_dir():
        pytest.skip(f"portal records not found at {PORTAL_RECORDS}")
    paths = sorted(PORTAL_RECORDS.glob("bo-tu-phap/*.json"))[:120]
    assert paths, "no records in bo-tu-phap"
    for path in paths:
        record = json.loads(path.read_text(encoding="utf-8"))
        for field in PORTAL_FIELDS:
            text = record.get(field) or ""
            spoken = to_spoken(text)
            leftover = re.sub(r"https?://\S+|www\.\S+|\S+@\S+", "", spoken)
            assert not re.search(r"[0-9]", leftover), (path.name, field, leftover[:200])
            assert to_spoken(spoken) == spoken, (path.name, field)
