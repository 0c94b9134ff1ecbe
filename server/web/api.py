"""The JSON API for scripts (/api/v1): the same figures and the same access rules as the
pages. Log in with the console's session cookie or HTTP basic (username, password)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from hoixa.server import stats
from hoixa.server.db import session_scope
from hoixa.server.web.app import within_service_days
from hoixa.server.web.auth import Viewer, viewer
from hoixa.server.web.pages import box_rows, version_rows, visible_box

ERROR = {
    "description": "Lỗi",
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"detail": {}}, "required": ["detail"]}
        }
    },
}
router = APIRouter(
    prefix="/api/v1",
    tags=["v1"],
    responses={
        401: ERROR | {"description": "Cần đăng nhập (cookie phiên hoặc HTTP basic)"},
        403: ERROR | {"description": "Ngoài phạm vi của tài khoản"},
        404: ERROR | {"description": "Không tìm thấy"},
    },
)
CurrentViewer = Annotated[Viewer, Depends(viewer)]
Province = Annotated[str | None, Query(pattern=r"^[0-9]{2}$", description="mã tỉnh, 2 chữ số")]
Commune = Annotated[str | None, Query(pattern=r"^[0-9]{5}$", description="mã xã, 5 chữ số")]
DateFrom = Annotated[date | None, Query(alias="from", description="từ ngày (giờ Việt Nam)")]
DateTo = Annotated[date | None, Query(alias="to", description="đến ngày, tính cả ngày này")]


def plain(value: Any) -> Any:
    """Dataclasses, dates and lists as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for extra in ("ratio", "total", "satisfied_share"):
            if hasattr(type(value), extra):
                out[extra] = getattr(value, extra)
        return out
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _filter(user: Viewer, date_from, date_to, province, commune) -> stats.Filter:
    return user.narrow(within_service_days(stats.Filter(date_from, date_to, province, commune)))


@router.get("/stats", summary="Số liệu tổng hợp (như bảng điều khiển)")
def api_stats(
    request: Request,
    user: CurrentViewer,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    province: Province = None,
    commune: Commune = None,
) -> dict[str, Any]:
    flt = _filter(user, date_from, date_to, province, commune)
    with session_scope(request.app.state.engine) as session:
        presence = stats.presence(
            session,
            quiet_after=request.app.state.settings.quiet_after,
            province=flt.province,
            commune=flt.commune,
        )
        return {
            "filter": plain(flt),
            "per_day": plain(stats.questions_per_day(session, flt)),
            "top_procedures": plain(stats.top_procedures(session, flt, limit=20)),
            "per_field": plain(stats.per_field(session, flt)),
            "not_understood": plain(stats.not_understood_share(session, flt)),
            "satisfaction": plain(stats.satisfaction(session, flt)),
            "boxes": plain(presence),
        }


@router.get("/boxes", summary="Danh sách thiết bị")
def api_boxes(
    request: Request, user: CurrentViewer, province: Province = None, commune: Commune = None
) -> list[dict[str, Any]]:
    flt = _filter(user, None, None, province, commune)
    with session_scope(request.app.state.engine) as session:
        return plain(box_rows(session, user, flt, request.app.state.settings.quiet_after))


@router.get("/boxes/{device_id}", summary="Một thiết bị")
def api_box(request: Request, device_id: str, user: CurrentViewer) -> dict[str, Any]:
    with session_scope(request.app.state.engine) as session:
        device = visible_box(session, user, device_id)
        flt = stats.Filter(province=device.province, commune=device.commune)
        rows = box_rows(session, user, flt, request.app.state.settings.quiet_after)
    for row in rows:
        if row["device_id"] == device_id:
            return plain(row)
    raise HTTPException(404, "Không tìm thấy thiết bị.")


@router.get("/not-understood", summary="Câu hỏi chưa hiểu, gộp theo cách viết chuẩn hóa")
def api_not_understood(
    request: Request,
    user: CurrentViewer,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    province: Province = None,
    commune: Commune = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    flt = _filter(user, date_from, date_to, province, commune)
    with session_scope(request.app.state.engine) as session:
        return plain(stats.not_understood_groups(session, flt, limit=limit))


@router.get("/catalogue/versions", summary="Các phiên bản danh mục thủ tục")
def api_catalogue_versions(request: Request, user: CurrentViewer) -> list[dict[str, Any]]:
    with session_scope(request.app.state.engine) as session:
        return plain(version_rows(session, user))
