"""A large made-up catalogue, to see whether the matcher stays right and fast at 10,000 procedures.

A province-wide catalogue has thousands of procedures whose names share most of their words
("cấp", "giấy phép", "giấy chứng nhận", "đăng ký"). The synthetic procedures mimic that: an
action ("cấp lại", "gia hạn", "thu hồi", …) applied to an object of some field ("giấy phép
khai thác cát", "chứng chỉ hành nghề dược", …), sometimes narrowed to whom it applies. They carry
codes 9.xxxxxx, which no real procedure uses, so a query's expected code is never one of them.
Sections are the minimum the schema accepts: the bench only matches names, it never answers.
"""

from __future__ import annotations

import copy
import random
from typing import Any

ACTIONS = (
    "Cấp",
    "Cấp lại",
    "Cấp đổi",
    "Gia hạn",
    "Thu hồi",
    "Điều chỉnh",
    "Xác nhận",
    "Đăng ký",
    "Công nhận",
    "Thẩm định",
    "Phê duyệt",
    "Chấp thuận",
    "Đình chỉ",
    "Bổ sung nội dung",
    "Hủy bỏ",
    "Cấp bản sao",
    "Đăng ký thay đổi",
    "Cho phép",
)

# Field -> objects an action can apply to.
OBJECTS: dict[str, tuple[str, ...]] = {
    "Địa chất và khoáng sản": (
        "giấy phép khai thác cát lòng sông",
        "giấy phép khai thác khoáng sản làm vật liệu xây dựng thông thường",
        "giấy phép thăm dò khoáng sản",
        "phương án cải tạo phục hồi môi trường mỏ",
        "giấy phép khai thác đất san lấp",
        "khu vực cấm hoạt động khoáng sản",
    ),
    "An toàn thực phẩm": (
        "giấy chứng nhận an toàn thực phẩm",
        "giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm",
        "bản tự công bố sản phẩm thực phẩm",
        "giấy xác nhận kiến thức về an toàn thực phẩm",
        "giấy chứng nhận sản phẩm nông sản an toàn",
    ),
    "Y tế": (
        "chứng chỉ hành nghề khám bệnh, chữa bệnh",
        "giấy phép hoạt động phòng khám tư nhân",
        "chứng chỉ hành nghề dược",
        "giấy chứng nhận đủ điều kiện kinh doanh thuốc",
        "giấy phép hoạt động trạm y tế",
        "giấy chứng nhận lương y",
    ),
    "Giáo dục và đào tạo": (
        "giấy phép hoạt động nhóm trẻ độc lập",
        "quyết định thành lập trường mầm non tư thục",
        "giấy phép dạy thêm, học thêm",
        "bằng tốt nghiệp trung học cơ sở",
        "giấy chứng nhận trường đạt chuẩn quốc gia",
        "giấy phép hoạt động trung tâm ngoại ngữ",
    ),
    "Xây dựng": (
        "giấy phép xây dựng công trình tạm",
        "chứng chỉ năng lực hoạt động xây dựng",
        "giấy phép di dời công trình",
        "chứng chỉ hành nghề kiến trúc",
        "giấy phép sửa chữa nhà ở riêng lẻ",
        "thông báo khởi công xây dựng",
    ),
    "Giao thông vận tải": (
        "giấy phép kinh doanh vận tải bằng xe ô tô",
        "phù hiệu xe taxi",
        "giấy phép lưu hành xe quá khổ",
        "giấy phép thi công nút giao đấu nối",
        "giấy chứng nhận đăng ký phương tiện thủy nội địa",
        "bến đò ngang sông",
    ),
    "Nông nghiệp": (
        "giấy chứng nhận cơ sở an toàn dịch bệnh động vật",
        "giấy chứng nhận vùng trồng",
        "giấy phép sản xuất phân bón",
        "giấy chứng nhận đủ điều kiện buôn bán thuốc bảo vệ thực vật",
        "mã số vùng trồng cây ăn quả",
        "giấy chứng nhận kiểm dịch động vật",
    ),
    "Thủy sản": (
        "giấy phép khai thác thủy sản",
        "giấy chứng nhận an toàn kỹ thuật tàu cá",
        "giấy chứng nhận cơ sở nuôi trồng thủy sản",
        "giấy phép nuôi trồng thủy sản trên biển",
        "sổ danh bạ thuyền viên tàu cá",
    ),
    "Lâm nghiệp": (
        "phương án khai thác gỗ rừng trồng",
        "giấy phép vận chuyển lâm sản",
        "mã số cơ sở nuôi động vật rừng",
        "hồ sơ lâm sản hợp pháp",
        "phương án trồng rừng thay thế",
    ),
    "Văn hóa": (
        "giấy phép tổ chức lễ hội",
        "giấy phép kinh doanh karaoke",
        "giấy phép biểu diễn nghệ thuật",
        "danh hiệu gia đình văn hóa",
        "giấy phép xây dựng tượng đài, tranh hoành tráng",
        "giấy phép quảng cáo bằng băng rôn",
    ),
    "Du lịch": (
        "giấy chứng nhận cơ sở lưu trú du lịch",
        "thẻ hướng dẫn viên du lịch",
        "giấy phép kinh doanh lữ hành nội địa",
        "biển hiệu đạt chuẩn phục vụ khách du lịch",
        "điểm du lịch cộng đồng",
    ),
    "Thương mại": (
        "giấy phép bán lẻ rượu",
        "giấy phép bán lẻ sản phẩm thuốc lá",
        "giấy chứng nhận cửa hàng đủ điều kiện bán xăng dầu",
        "giấy phép kinh doanh khí dầu mỏ hóa lỏng",
        "giấy phép tổ chức chợ phiên",
        "giấy xác nhận đăng ký tổ chức hội chợ",
    ),
    "Lao động, việc làm": (
        "giấy phép lao động cho người nước ngoài",
        "giấy phép hoạt động dịch vụ việc làm",
        "trợ cấp thất nghiệp",
        "sổ lao động",
        "hợp đồng đưa người lao động đi làm việc ở nước ngoài",
    ),
    "Tài nguyên môi trường": (
        "giấy phép xả nước thải vào nguồn nước",
        "kế hoạch bảo vệ môi trường",
        "giấy phép khai thác nước mặt",
        "giấy phép môi trường",
        "sổ đăng ký chủ nguồn thải chất thải nguy hại",
    ),
    "Thông tin và truyền thông": (
        "giấy phép thiết lập trang thông tin điện tử",
        "giấy phép hoạt động in",
        "giấy phép xuất bản bản tin",
        "giấy chứng nhận đăng ký cung cấp dịch vụ trò chơi điện tử",
        "giấy phép sử dụng tần số vô tuyến điện",
    ),
    "Khoa học và công nghệ": (
        "giấy chứng nhận đăng ký hoạt động khoa học và công nghệ",
        "giấy phép tiến hành công việc bức xạ",
        "giấy chứng nhận doanh nghiệp khoa học và công nghệ",
        "chứng chỉ nhân viên bức xạ",
    ),
    "Thể dục thể thao": (
        "giấy chứng nhận đủ điều kiện kinh doanh hoạt động thể thao",
        "giấy phép tổ chức giải thi đấu thể thao",
        "đẳng cấp vận động viên",
        "giấy phép hoạt động câu lạc bộ võ thuật",
    ),
    "Điện lực": (
        "giấy phép hoạt động điện lực",
        "thẻ an toàn điện",
        "giấy phép hoạt động phát điện mặt trời mái nhà",
        "hành lang bảo vệ đường dây điện cao áp",
    ),
    "Tôn giáo, tín ngưỡng": (
        "đăng ký sinh hoạt tôn giáo tập trung",
        "giấy phép sửa chữa cơ sở tín ngưỡng",
        "danh mục lễ hội tín ngưỡng",
        "đăng ký người được bổ nhiệm chức việc",
    ),
    "Thi đua, khen thưởng": (
        "danh hiệu lao động tiên tiến",
        "giấy khen của Chủ tịch Ủy ban nhân dân xã",
        "danh hiệu chiến sĩ thi đua cơ sở",
        "danh hiệu thôn văn hóa",
    ),
}

QUALIFIERS = (
    "",
    "",
    "",
    " cho hộ gia đình, cá nhân",
    " đối với doanh nghiệp",
    " đối với cơ sở sản xuất nhỏ lẻ",
    " trên địa bàn xã",
    " thuộc thẩm quyền của Ủy ban nhân dân cấp xã",
    " thuộc thẩm quyền của Ủy ban nhân dân cấp tỉnh",
    " trong trường hợp bị mất, bị hỏng",
    " lần đầu",
    " cho tổ chức",
    " đối với hợp tác xã",
    " có yếu tố nước ngoài",
)

LEVELS = (["commune"], ["province"], ["commune", "province"], ["central"])
AGENCIES = {
    "commune": "Ủy ban nhân dân cấp xã",
    "province": "Sở chuyên ngành thuộc Ủy ban nhân dân cấp tỉnh",
    "central": "Bộ quản lý ngành",
}
DECREE_YEARS = range(2015, 2026)


def _code(rng: random.Random, taken: set[str]) -> str:
    while True:
        code = f"9.{rng.randrange(1_000_000):06d}"
        if code not in taken:
            taken.add(code)
            return code


def _aliases(rng: random.Random, action: str, obj: str) -> list[str]:
    """How a person might say it: the object alone, or 'xin'/'làm' + (action +) object."""
    short = obj.split(",")[0]
    options = [
        f"{action.lower()} {short}",
        f"xin {short}",
        f"làm {short}",
        short,
        f"{action.lower()} {short.removeprefix('giấy ')}",
    ]
    unique = list(dict.fromkeys(options))
    return rng.sample(unique, rng.randint(1, 3))


def _procedure(rng: random.Random, code: str, name: str, field: str, aliases: list[str]) -> dict:
    level = list(rng.choice(LEVELS))
    days = rng.choice((0, 1, 3, 5, 7, 10, 15, 20, 30))
    fee = rng.choice((0, 20_000, 50_000, 100_000, 200_000, 500_000))
    decree = f"{rng.randint(1, 180)}/{rng.choice(DECREE_YEARS)}/NĐ-CP"
    lower = name[0].lower() + name[1:]
    return {
        "code": code,
        "name": name,
        "aliases": aliases,
        "field": field,
        "level": level,
        "agency": AGENCIES[level[0]],
        "steps": [
            f"Nộp hồ sơ đề nghị {lower} tại Bộ phận một cửa.",
            "Cơ quan có thẩm quyền xem xét hồ sơ và trả kết quả.",
        ],
        "documents": [
            {"name": f"Đơn đề nghị {lower}", "copies": 1, "form": "original"},
            {"name": "Giấy tờ tùy thân của người đề nghị", "copies": 0, "form": "present"},
        ],
        "processing_time": {"text": f"{days} ngày làm việc", "working_days": days},
        "fees": [{"name": "Lệ phí", "amount_vnd": fee, "unit": "hồ sơ"}] if fee else [],
        "submission": [{"mode": "in_person", "where": "Bộ phận một cửa"}],
        "result": f"Văn bản {lower}",
        "legal_basis": [{"code": decree}],
    }


def generate(n: int, seed: int, base: dict[str, Any]) -> dict[str, Any]:
    """A catalogue of `n` procedures: all of `base`'s plus synthetic ones, the same per seed
    (and `base`'s referrals)."""
    base_procedures = base.get("procedures", [])
    if n < len(base_procedures):
        raise ValueError(f"n={n} is smaller than the base catalogue ({len(base_procedures)})")
    rng = random.Random(seed)
    taken = {p["code"] for p in base_procedures}
    names = {p["name"] for p in base_procedures}
    fields = list(OBJECTS)
    procedures = [copy.deepcopy(p) for p in base_procedures]
    possible = len(ACTIONS) * sum(map(len, OBJECTS.values())) * len(set(QUALIFIERS))
    if n - len(base_procedures) > possible:
        raise ValueError(f"at most {possible} distinct synthetic procedures can be made")
    while len(procedures) < n:
        field = rng.choice(fields)
        obj = rng.choice(OBJECTS[field])
        action = rng.choice(ACTIONS)
        name = f"{action} {obj}{rng.choice(QUALIFIERS)}"
        if name in names:
            continue
        names.add(name)
        aliases = _aliases(rng, action, obj)
        procedures.append(_procedure(rng, _code(rng, taken), name, field, aliases))
    return {
        "schema_version": 1,
        "version": int(base.get("version", 1)),
        "scope": "all",
        "issued_at": base.get("issued_at", "2026-01-01T00:00:00+07:00"),
        "title": f"Danh mục thử nghiệm {n} thủ tục (sinh tự động, seed {seed})",
        "source": "bench/understanding/synth_catalogue.py: base catalogue plus made-up procedures",
        "procedures": procedures,
        **({"referrals": copy.deepcopy(base["referrals"])} if base.get("referrals") else {}),
    }
