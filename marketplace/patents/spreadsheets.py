"""Reading portfolio spreadsheets (CSV or XLSX) with Chinese or English headers."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.utils.translation import gettext_lazy as _

from marketplace.errors import InvalidInput


@dataclass(frozen=True)
class Column:
    field: str
    header_en: str
    header_zh: str
    required: bool
    description: str
    example: str
    aliases: tuple[str, ...] = ()


COLUMNS = (
    Column(
        "application_number",
        "application_number",
        "申请号",
        True,
        "CN application number with check digit; CN/ZL prefix and dot optional",
        "202110123456.7",
        ("专利号", "application number"),
    ),
    Column(
        "patent_type",
        "patent_type",
        "专利类型",
        False,
        "invention / utility_model / design (发明 / 实用新型 / 外观设计); checked against "
        "the number",
        "发明",
        ("type", "类型"),
    ),
    Column(
        "title",
        "title",
        "专利名称",
        True,
        "title, at most 500 characters",
        "一种锂离子电池正极材料及其制备方法",
        ("名称", "发明名称"),
    ),
    Column(
        "abstract",
        "abstract",
        "摘要",
        False,
        "abstract, at most 10,000 characters",
        "本发明公开了一种锂离子电池正极材料……",
    ),
    Column(
        "claims",
        "claims",
        "权利要求",
        False,
        "claims, at most 100,000 characters",
        "",
        ("权利要求书",),
    ),
    Column(
        "main_ipc",
        "main_ipc",
        "主分类号",
        True,
        "main IPC symbol",
        "H01M 10/0525",
        ("main ipc", "ipc"),
    ),
    Column(
        "further_ipcs",
        "further_ipcs",
        "其他分类号",
        False,
        "further IPC symbols separated by ';'",
        "H01M 4/525; H01M 4/36",
        ("further ipcs", "分类号"),
    ),
    Column(
        "filing_date", "filing_date", "申请日", True, "YYYY-MM-DD", "2021-03-15", ("filing date",)
    ),
    Column(
        "grant_date",
        "grant_date",
        "授权公告日",
        False,
        "YYYY-MM-DD",
        "2023-06-20",
        ("grant date", "授权日"),
    ),
    Column(
        "publication_numbers",
        "publication_numbers",
        "公开公告号",
        False,
        "publication numbers separated by ';'",
        "CN112234567A; CN112234567B",
        ("公开号", "公告号"),
    ),
    Column(
        "legal_status",
        "legal_status",
        "法律状态",
        False,
        "in_force / terminated / expired / invalidated (有效 / 终止 / 期满 / 全部无效)",
        "有效",
        ("legal status",),
    ),
    Column(
        "annual_fees_paid_through",
        "annual_fees_paid_through",
        "年费缴至年度",
        False,
        "patent year the annual fees are paid through (1-20)",
        "3",
        ("annual fees paid through",),
    ),
    Column(
        "co_owners",
        "co_owners",
        "共有人",
        False,
        "other patentees registered on the platform, by unified social credit code or exact "
        "name, separated by ';'",
        "",
        ("共同专利权人", "co-owners"),
    ),
)
REQUIRED = tuple(column.field for column in COLUMNS if column.required)


def _key(header: str) -> str:
    return "".join(str(header or "").split()).lower().lstrip("\ufeff").replace("-", "_")


HEADER_TO_FIELD: dict[str, str] = {}
for _column in COLUMNS:
    for _header in (_column.header_en, _column.header_zh, *_column.aliases):
        HEADER_TO_FIELD[_key(_header)] = _column.field


@dataclass
class Sheet:
    """An opened file: its headers mapped to fields and an iterator over data rows."""

    file_format: str
    headers: list[str]
    field_by_index: dict[int, str]
    ignored: list[str]
    rows: Iterator[tuple[int, list[Any]]]

    def header_for(self, field: str) -> str:
        for index, name in self.field_by_index.items():
            if name == field:
                return self.headers[index]
        return field

    def records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        for number, values in self.rows:
            record = {
                field: values[index] if index < len(values) else None
                for index, field in self.field_by_index.items()
            }
            if any(value not in (None, "") for value in record.values()):
                yield number, record


def _refuse(code: str, message: Any, **params: Any) -> InvalidInput:
    return InvalidInput(code, message, fields={"file": [message]}, params=params)


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _refuse(
        "import_wrong_encoding",
        _("The CSV file is neither UTF-8 nor GB18030 text; save it as 'CSV UTF-8'."),
    )


def _map_headers(headers: list[str]) -> tuple[dict[int, str], list[str]]:
    field_by_index: dict[int, str] = {}
    ignored: list[str] = []
    for index, header in enumerate(headers):
        field = HEADER_TO_FIELD.get(_key(header))
        if field and field not in field_by_index.values():
            field_by_index[index] = field
        elif str(header or "").strip():
            ignored.append(str(header).strip())
    missing = [
        column
        for column in COLUMNS
        if column.required and column.field not in field_by_index.values()
    ]
    if missing:
        raise _refuse(
            "import_missing_columns",
            _("Required columns are missing: %(columns)s. Download the template to see them."),
            columns=", ".join(f"{c.header_zh} / {c.header_en}" for c in missing),
        )
    return field_by_index, ignored


def open_sheet(stream: IO[bytes], file_name: str) -> Sheet:
    """Open a CSV or XLSX file and check its header row; refuse anything else."""
    head = stream.read(8)
    stream.seek(0)
    is_zip = head.startswith(b"PK\x03\x04")
    lower = file_name.lower()
    if lower.endswith(".xlsx") or is_zip:
        if not is_zip:
            raise _refuse("import_not_a_spreadsheet", _("This .xlsx file is not a spreadsheet."))
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(stream, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
            raise _refuse(
                "import_not_a_spreadsheet", _("This file is not a readable XLSX spreadsheet.")
            ) from error
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        try:
            headers = [str(value or "") for value in next(rows)]
        except StopIteration:
            raise _refuse("import_empty_file", _("The file has no header row.")) from None
        field_by_index, ignored = _map_headers(headers)

        def xlsx_rows() -> Iterator[tuple[int, list[Any]]]:
            for number, row in enumerate(rows, start=2):
                yield number, list(row)
            workbook.close()

        return Sheet("xlsx", headers, field_by_index, ignored, xlsx_rows())
    if not lower.endswith((".csv", ".txt")):
        raise _refuse(
            "import_not_a_spreadsheet",
            _("Upload a .csv or .xlsx file (this is %(name)s)."),
            name=file_name[-40:],
        )
    raw = stream.read()
    if b"\x00" in raw[:4096]:
        raise _refuse("import_wrong_encoding", _("This is a binary file, not CSV text."))
    text = _decode(raw)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        headers = next(reader)
    except StopIteration:
        raise _refuse("import_empty_file", _("The file has no header row.")) from None
    except csv.Error as error:
        raise _refuse("import_not_a_spreadsheet", _("This CSV file cannot be read.")) from error
    field_by_index, ignored = _map_headers(headers)

    def csv_rows() -> Iterator[tuple[int, list[Any]]]:
        yield from enumerate(reader, start=2)

    return Sheet("csv", headers, field_by_index, ignored, csv_rows())


def template_rows(language: str) -> tuple[list[str], list[str]]:
    headers = [c.header_zh if language.startswith("zh") else c.header_en for c in COLUMNS]
    return headers, [c.example for c in COLUMNS]
