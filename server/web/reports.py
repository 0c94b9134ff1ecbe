"""The monthly report as a spreadsheet (.xlsx) or CSV: per field, per procedure, per commune,
for the user's own place (stats.monthly_report)."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from hoixa.server import stats
from hoixa.server.db import local_date_of, session_scope, utc_now
from hoixa.server.web.auth import Viewer, viewer

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
router = APIRouter(
    prefix="/reports",
    tags=["reports"],
    responses={401: {"description": "Cần đăng nhập (cookie phiên hoặc HTTP basic)"}},
)


def _file(media_type: str) -> dict:
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {200: {"description": "Tệp báo cáo", "content": {media_type: binary}}}


CurrentViewer = Annotated[Viewer, Depends(viewer)]
Year = Annotated[int | None, Query(ge=2000, le=2100)]
Month = Annotated[int | None, Query(ge=1, le=12)]
Province = Annotated[str | None, Query(pattern=r"^[0-9]{2}$")]
Commune = Annotated[str | None, Query(pattern=r"^[0-9]{5}$")]


def report_tables(report: stats.MonthlyReport) -> dict[str, list[list]]:
    """Sheet name → rows (first row: Vietnamese headers)."""
    share = report.not_understood
    sat = report.satisfaction
    return {
        "Tổng hợp": [
            ["Chỉ tiêu", "Giá trị"],
            ["Tháng", f"{report.month:02d}/{report.year}"],
            ["Số lượt hỏi", report.conversations],
            ["Số câu hỏi", report.questions],
            ["Câu chưa hiểu", share.part],
            ["Tỷ lệ chưa hiểu", round(share.ratio, 4)],
            ["Hài lòng", sat.satisfied],
            ["Không hài lòng", sat.unsatisfied],
            ["Không trả lời", sat.no_answer],
        ],
        "Theo lĩnh vực": [["Lĩnh vực", "Số câu hỏi", "Số thủ tục"]]
        + [[f.field, f.questions, f.procedures] for f in report.by_field],
        "Theo thủ tục": [["Mã thủ tục", "Tên thủ tục", "Lĩnh vực", "Số câu hỏi", "Số lượt hỏi"]]
        + [
            [p.code, p.name or "", p.field, p.questions, p.conversations]
            for p in report.by_procedure
        ],
        "Theo xã": [
            [
                "Tỉnh",
                "Xã",
                "Số thiết bị",
                "Số lượt hỏi",
                "Số câu hỏi",
                "Câu chưa hiểu",
                "Hài lòng",
                "Không hài lòng",
                "Không trả lời",
            ]
        ]
        + [
            [
                c.province,
                c.commune,
                c.boxes,
                c.conversations,
                c.questions,
                c.not_understood,
                c.satisfied,
                c.unsatisfied,
                c.no_answer,
            ]
            for c in report.by_commune
        ],
    }


def _safe_cell(value):
    """Text a spreadsheet would run as a formula ("=…", "+…") is kept as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _report(request: Request, user: Viewer, year, month, province, commune):
    today = local_date_of(utc_now())  # the month an official is in: Vietnam's
    if year is None or month is None:
        year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    flt = user.narrow(stats.Filter(province=province, commune=commune))
    with session_scope(request.app.state.engine) as session:
        report = stats.monthly_report(
            session, year, month, province=flt.province, commune=flt.commune
        )
    return report, f"hoixa-bao-cao-{year}-{month:02d}"


@router.get(
    "/monthly.xlsx",
    summary="Báo cáo tháng (Excel)",
    response_class=Response,
    responses=_file(XLSX),
)
def monthly_xlsx(
    request: Request,
    user: CurrentViewer,
    year: Year = None,
    month: Month = None,
    province: Province = None,
    commune: Commune = None,
) -> Response:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    report, name = _report(request, user, year, month, province, commune)
    # write-only: rows stream out instead of becoming cell objects kept in memory (the
    # national report has a row per commune: about twice as fast, a fraction of the memory)
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for title, rows in report_tables(report).items():
        sheet = book.create_sheet(title)
        sheet.column_dimensions["A"].width = 18
        sheet.column_dimensions["B"].width = 50
        for index, row in enumerate(rows):
            values = [_safe_cell(v) for v in row]
            if index == 0:  # the header row, in bold
                values = [WriteOnlyCell(sheet, value=v) for v in values]
                for cell in values:
                    cell.font = bold
            sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    return Response(
        out.getvalue(),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


@router.get(
    "/monthly.csv",
    summary="Báo cáo tháng (CSV, các bảng nối tiếp nhau)",
    response_class=Response,
    responses=_file("text/csv"),
)
def monthly_csv(
    request: Request,
    user: CurrentViewer,
    year: Year = None,
    month: Month = None,
    province: Province = None,
    commune: Commune = None,
) -> Response:
    report, name = _report(request, user, year, month, province, commune)
    out = io.StringIO()
    writer = csv.writer(out)
    for title, rows in report_tables(report).items():
        writer.writerow([f"# {title}"])
        writer.writerows([[_safe_cell(v) for v in row] for row in rows])
        writer.writerow([])
    # The BOM makes Excel read the file as UTF-8 (Vietnamese letters intact).
    return Response(
        "\ufeff" + out.getvalue(),
        media_type=CSV,
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
