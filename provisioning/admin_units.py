"""The official list of provinces and communes (after the July 2025 reform: 34 provinces,
3,321 xã/phường/đặc khu), so a box is enrolled under real codes, never typed-in ones.

The list comes from the `vietnam-provinces` package (data of the General Statistics Office,
Tổng cục Thống kê); we read its JSON file directly, which is all we need and loads in a few
milliseconds. Codes are written the way the topics and the ACL use them: provinces with two
digits ("01", "79"), communes with five ("00070", "26734").

When the government changes the list again, upgrade the package; a commune that no longer
exists is then refused at enrolment, and boxes already enrolled keep working under their old
codes until an admin replaces them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from hoixa.vietnamese import fold


class UnknownUnit(LookupError):
    """A province or commune code that is not on the official list."""


@dataclass(frozen=True)
class Commune:
    code: str  # five digits
    name: str  # "Xã Thượng Lâm", "Phường Hoàn Kiếm"
    province_code: str  # two digits
    province_name: str  # "Tuyên Quang", "Thành phố Hà Nội"

    @property
    def label(self) -> str:
        return f"{self.name}, {self.province_name}"


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    communes: tuple[Commune, ...]


@dataclass(frozen=True)
class AdminUnits:
    provinces: tuple[Province, ...]
    data_version: str

    def province(self, code: str) -> Province:
        for province in self.provinces:
            if province.code == _pad(code, 2):
                return province
        raise UnknownUnit(f"mã tỉnh {code!r} không có trong danh mục {self.data_version}")

    def commune(self, code: str, province: str | None = None) -> Commune:
        """The commune with this code; with `province`, it must also lie in that province."""
        wanted = _pad(code, 5)
        for p in self.provinces:
            for commune in p.communes:
                if commune.code == wanted:
                    if province is not None and p.code != _pad(province, 2):
                        raise UnknownUnit(
                            f"xã {wanted} ({commune.name}) thuộc {p.name} ({p.code}), "
                            f"không thuộc tỉnh {province}"
                        )
                    return commune
        raise UnknownUnit(f"mã xã {code!r} không có trong danh mục {self.data_version}")

    def search(self, text: str, province: str | None = None, limit: int = 20) -> list[Commune]:
        """Communes whose name contains `text`, with or without tone marks ("tan phu")."""
        needle = fold(text)
        provinces = [self.province(province)] if province else self.provinces
        found = [c for p in provinces for c in p.communes if needle in fold(c.name)]
        return found[:limit]


def _pad(code: str | int, width: int) -> str:
    text = str(code).strip()
    if not text.isdigit() or len(text) > width:
        raise UnknownUnit(f"mã {code!r} phải là {width} chữ số")
    return text.zfill(width)


@cache
def official_units() -> AdminUnits:
    """The list shipped with the installed `vietnam-provinces` package (server extra)."""
    try:
        import vietnam_provinces
    except ImportError as exc:  # pragma: no cover - the server extra installs it
        raise UnknownUnit(
            "the official list of communes needs the server extra: pip install 'hoixa[server]'"
        ) from exc
    data = json.loads(vietnam_provinces.NESTED_DIVISIONS_JSON_PATH.read_text("utf-8"))
    provinces = []
    for p in data:
        code, name = _pad(p["code"], 2), p["name"]
        communes = tuple(
            Commune(_pad(w["code"], 5), w["name"], code, name)
            for w in sorted(p["wards"], key=lambda w: w["code"])
        )
        provinces.append(Province(code, name, communes))
    return AdminUnits(tuple(provinces), vietnam_provinces.__data_version__)
