"""Search results as a file: streamed CSV (UTF-8 with a BOM, so Excel reads Chinese) or XLSX,
headers in the reader's language, every cell safe from formula injection."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from django.http import FileResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from marketplace.models import LegalStatus, PatentType, PaymentMethodPreference
from marketplace.search.hits import attach_hits

EXPORT_LIMIT = 1000
# Hits read (and their declaration summaries attached) per statement.
CHUNK = 200
FILE_FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def safe_cell(value: Any) -> str:
    """A cell that a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    if text and text[0] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


def _headers() -> list[str]:
    return [
        _("Application number"),
        _("Patent number"),
        _("Title"),
        _("Patent type"),
        _("Main IPC"),
        _("Patentee"),
        _("Filing date"),
        _("Grant date"),
        _("Expiry date"),
        _("Legal status"),
        _("Declaration number"),
        _("Payment method"),
        _("Lump sum (CNY)"),
        _("Entry fee (CNY)"),
        _("Royalty rate (%)"),
        _("Due at acceptance (CNY)"),
        _("Licenses granted"),
    ]


def _rows(
    hits: Any,
    tokens: Sequence[str],
    count: int,
    grams: Sequence[str] = (),
    gram_ids: Collection[int] = frozenset(),
) -> Iterator[list[str]]:
    """The first `count` hits, CHUNK at a time; labels in the language active now."""
    types = {key: str(label) for key, label in PatentType.choices}
    statuses = {key: str(label) for key, label in LegalStatus.choices}
    methods = {key: str(label) for key, label in PaymentMethodPreference.choices}
    methods["free"] = _("free (royalty 0)")
    for start in range(0, count, CHUNK):
        page = list(hits[start : min(start + CHUNK, count)])
        if not page:
            return
        attach_hits(page, tokens, grams, gram_ids)
        for patent in page:
            declaration = patent.hit_declaration or {}
            yield [
                safe_cell(value)
                for value in (
                    patent.application_number,
                    patent.patent_number,
                    patent.title,
                    types.get(patent.patent_type, patent.patent_type),
                    patent.main_ipc,
                    patent.owner.name,
                    patent.filing_date,
                    patent.grant_date,
                    patent.expiry_date,
                    statuses.get(patent.legal_status, patent.legal_status),
                    declaration.get("number"),
                    methods.get(declaration.get("payment_method", ""), "") if declaration else "",
                    declaration.get("lump_sum_cny"),
                    declaration.get("entry_fee_cny"),
                    declaration.get("royalty_rate_percent"),
                    declaration.get("upfront_due_cny"),
                    declaration.get("licenses_granted"),
                )
            ]


def export_response(
    file_format: str,
    hits: Any,
    tokens: Sequence[str],
    count: int,
    grams: Sequence[str] = (),
    gram_ids: Collection[int] = frozenset(),
) -> StreamingHttpResponse | FileResponse:
    """The hits (a queryset or ranked page, at most EXPORT_LIMIT) as a CSV or XLSX download."""
    count = min(count, EXPORT_LIMIT)
    headers = _headers()  # now: the response is read after the request's language is gone
    rows = _rows(hits, tokens, count, grams, gram_ids)
    if file_format == "csv":
        writer = csv.writer(_Echo())

        def stream() -> Iterator[str]:
            yield "\ufeff" + writer.writerow(headers)
            for row in rows:
                yield writer.writerow(row)

        response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="patent-search.csv"'
        return response
    # A zip cannot be streamed as it is written: the write-only workbook goes to a temporary
    # file (1,000 rows: ~100 KB) that the response then streams.
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Search results")[:31])
    sheet.append(headers)
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"  # text, never a formula
            cells.append(cell)
        sheet.append(cells)
    output = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it)
    workbook.save(output)
    output.seek(0)
    return FileResponse(
        output, as_attachment=True, filename="patent-search.xlsx", content_type=XLSX_TYPE
    )
