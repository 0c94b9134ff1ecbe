"""A catalogue from a spreadsheet (XLSX or CSV): one procedure per row, problems reported by
row and column so an official can fix the file, and nothing imported while anything is wrong.

Row 1 names the columns (see COLUMNS; order free, unknown names refused). Lists go one item
per line inside the cell (Alt+Enter in Excel): steps, documents, fees, legal basis, aliases,
keywords. `level` and `submission` are comma-separated codes. A fee line "Lệ phí: 8000" has
an amount; "Lệ phí" alone does not. A legal basis line is "code: title" or "code".
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any

from hoixa.contract import catalogue as cat

COLUMNS = {
    "code": "Mã thủ tục",
    "name": "Tên thủ tục",
    "spoken_name": "Tên đọc ngắn",
    "field": "Lĩnh vực",
    "level": "Cấp thực hiện (commune, province, central, other)",
    "agency": "Cơ quan thực hiện",
    "audience": "Đối tượng",
    "conditions": "Yêu cầu, điều kiện",
    "steps": "Các bước (mỗi dòng một bước)",
    "documents": "Giấy tờ (mỗi dòng một loại)",
    "processing_time": "Thời hạn giải quyết",
    "working_days": "Số ngày làm việc",
    "fees": "Phí, lệ phí (mỗi dòng 'tên: số tiền')",
    "submission": "Cách nộp (in_person, online, post)",
    "result": "Kết quả",
    "legal_basis": "Căn cứ pháp lý (mỗi dòng 'số hiệu: tên')",
    "aliases": "Cách gọi khác (mỗi dòng một cách)",
    "keywords": "Từ khóa (mỗi dòng một từ)",
}
REQUIRED = ("code", "name", "field", "level", "agency", "steps", "processing_time", "result")
MAX_ROWS = 5000


@dataclass(frozen=True)
class CellProblem:
    row: int  # as the spreadsheet numbers it (header = 1)
    column: str  # letter, e.g. "C"
    name: str  # column name
    message: str

    def __str__(self) -> str:
        return f"Dòng {self.row}, cột {self.column} ({self.name}): {self.message}"


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def read_rows(data: bytes, filename: str) -> list[list[str]]:
    """Every row as text cells; raises ValueError for a file that is not a table."""
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise ValueError("không đọc được tệp Excel") from exc
        sheet = book.worksheets[0]
        rows = [
            ["" if v is None else str(v) for v in row]
            for row in sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 1)
        ]
        book.close()
        return rows
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError("tệp CSV phải là UTF-8") from exc
    return list(csv.reader(io.StringIO(text)))[: MAX_ROWS + 1]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _fee(line: str) -> dict[str, Any]:
    name, sep, amount = line.rpartition(":")
    digits = amount.strip().replace(".", "").replace(",", "").removesuffix("đ").strip()
    if sep and name.strip() and digits.isdigit():
        return {"name": name.strip(), "amount_vnd": int(digits)}
    return {"name": line}


def _legal(line: str) -> dict[str, Any]:
    code, sep, title = line.partition(":")
    out = {"code": code.strip()}
    if sep and title.strip():
        out["title"] = title.strip()
    return out


def _procedure(cells: dict[str, str], problem) -> dict[str, Any]:
    proc: dict[str, Any] = {}
    for key in ("code", "name", "spoken_name", "field", "agency", "audience", "conditions"):
        if cells.get(key, "").strip():
            proc[key] = cells[key].strip()
    proc["result"] = cells.get("result", "").strip()
    proc["level"] = [v.strip() for v in cells.get("level", "").split(",") if v.strip()]
    proc["steps"] = _lines(cells.get("steps", ""))
    proc["documents"] = [{"name": line} for line in _lines(cells.get("documents", ""))]
    proc["fees"] = [_fee(line) for line in _lines(cells.get("fees", ""))]
    proc["legal_basis"] = [_legal(line) for line in _lines(cells.get("legal_basis", ""))]
    modes = [v.strip() for v in cells.get("submission", "").split(",") if v.strip()]
    proc["submission"] = [{"mode": mode} for mode in modes]
    for key in ("aliases", "keywords"):
        if _lines(cells.get(key, "")):
            proc[key] = _lines(cells[key])
    processing: dict[str, Any] = {"text": cells.get("processing_time", "").strip()}
    days = cells.get("working_days", "").strip().replace(",", ".")
    if days:
        try:
            processing["working_days"] = float(days) if "." in days else int(days)
        except ValueError:
            problem("working_days", f"{days!r} không phải là số")
    proc["processing_time"] = processing
    return proc


_WHERE = re.compile(r"procedure #(\d+)[^,]*(?:, field ([a-z_]+))?")
_MISSING = re.compile(r"'([a-z_]+)' is missing")


def table_catalogue(
    rows: list[list[str]], scope: str, version: int, issued_at: str
) -> tuple[dict[str, Any] | None, list[CellProblem]]:
    """(catalogue, []) when every row is right, else (None, every problem found)."""
    if not rows or not any(c.strip() for c in rows[0]):
        return None, [CellProblem(1, "A", "", "dòng 1 phải là tên các cột")]
    header = [c.strip() for c in rows[0]]
    position = {name: i for i, name in enumerate(header) if name}
    problems: list[CellProblem] = []
    for i, name in enumerate(header):
        if name and name not in COLUMNS:
            problems.append(CellProblem(1, column_letter(i), name, "tên cột không được biết"))
    for name in REQUIRED:
        if name not in position:
            problems.append(CellProblem(1, column_letter(len(header)), name, "thiếu cột này"))
    if len(rows) > MAX_ROWS:
        problems.append(CellProblem(MAX_ROWS + 1, "A", "", f"quá {MAX_ROWS} dòng"))
    if problems:
        return None, problems

    def cell_problem(row: int, name: str, message: str) -> CellProblem:
        index = position.get(name, len(header))
        return CellProblem(row, column_letter(index), name, message)

    procedures, row_of = [], []
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        cells = {name: row[i] if i < len(row) else "" for name, i in position.items()}

        def problem(name: str, message: str, number=number) -> None:
            problems.append(cell_problem(number, name, message))

        procedures.append(_procedure(cells, problem))
        row_of.append(number)
    doc = {
        "schema_version": 1,
        "version": version,
        "scope": scope,
        "issued_at": issued_at,
        "procedures": procedures,
    }
    for found in cat.find_problems(doc):
        match = _WHERE.match(found.where)
        if match is None:
            problems.append(CellProblem(1, "A", "", f"{found.where}: {found.message}"))
            continue
        row = row_of[int(match.group(1)) - 1]
        name = match.group(2) or ""
        missing = _MISSING.search(found.message)
        if not name and missing:
            name = missing.group(1)
        if name == "processing_time" and "working_days" in found.where:
            name = "working_days"
        problems.append(cell_problem(row, name, found.message))
    if not procedures:
        problems.append(CellProblem(2, "A", "", "không có thủ tục nào"))
    if problems:
        return None, sorted(problems, key=lambda p: (p.row, p.column))
    return doc, []
