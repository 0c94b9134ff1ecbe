"""Shared test helpers: small valid catalogues built in code, and the path to ../shared."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PORTAL_RECORDS = SHARED / "data/tthc/chatbot_tthc/data/raw"


def make_procedure(code: str, name: str, aliases: list[str] | None = None, **extra) -> dict:
    """A minimal but complete procedure, valid against the schema."""
    proc = {
        "code": code,
        "name": name,
        "aliases": aliases or [],
        "field": "Hộ tịch",
        "level": ["commune"],
        "agency": "Ủy ban nhân dân cấp xã",
        "steps": ["Nộp hồ sơ tại bộ phận một cửa.", "Nhận kết quả theo giấy hẹn."],
        "documents": [{"name": "Tờ khai theo mẫu", "copies": 1, "form": "original"}],
        "processing_time": {"text": "Trong ngày làm việc", "working_days": 0},
        "fees": [{"name": "Lệ phí", "amount_vnd": 8000, "unit": "bản"}],
        "submission": [{"mode": "in_person"}, {"mode": "online"}],
        "result": "Giấy xác nhận",
        "legal_basis": [{"code": "60/2014/QH13", "title": "Luật Hộ tịch"}],
    }
    proc.update(extra)
    return proc


def make_catalogue(procedures: list[dict], version: int = 1, scope: str = "all") -> dict:
    return {
        "schema_version": 1,
        "version": version,
        "scope": scope,
        "issued_at": "2026-11-23T00:00:00Z",
        "procedures": copy.deepcopy(procedures),
    }


@pytest.fixture
def small_catalogue() -> dict:
    return make_catalogue(
        [
            make_procedure("1.001193", "Đăng ký khai sinh", ["làm giấy khai sinh"]),
            make_procedure("1.000894", "Đăng ký kết hôn", ["làm hôn thú"]),
            make_procedure("1.000656", "Đăng ký khai tử", ["làm giấy chứng tử", "báo tử"]),
        ]
    )


@pytest.fixture
def shared_records() -> Path:
    if not PORTAL_RECORDS.is_dir():
        pytest.skip(f"shared portal records not found at {PORTAL_RECORDS}")
    return PORTAL_RECORDS
