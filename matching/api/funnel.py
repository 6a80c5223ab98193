"""A patentee's licensing funnel as JSON, CSV or XLSX (its members; reviewers see all)."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from openpyxl import Workbook
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing.api.renderers import CsvRenderer, XlsxRenderer
from marketplace.api.permissions import request_user
from marketplace.api.views import ERROR_RESPONSES
from marketplace.errors import NotFound
from marketplace.models import Organisation
from matching.funnel import COUNTS, MONEY, MONTHLY, Funnel, funnel

ROW_FIELDS = [
    "declaration",
    "number",
    "status",
    "patent",
    "patent_title",
    "effective_date",
    "is_dormant",
    *COUNTS,
    *MONEY,
]
XLSX_TYPE = XlsxRenderer.media_type


def _money() -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=18, decimal_places=2)


class FunnelRowSerializer(serializers.Serializer[Any]):
    declaration = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.CharField()
    patent = serializers.IntegerField()
    patent_title = serializers.CharField()
    effective_date = serializers.DateField(allow_null=True)
    is_dormant = serializers.BooleanField(
        help_text="In force, announced over a year ago, never licensed."
    )
    views = serializers.IntegerField(help_text="Patent page views while this was announced.")
    search_impressions = serializers.IntegerField(
        help_text="Times the patent was on a search results page while this was announced."
    )
    smes_reached = serializers.IntegerField(
        help_text="Distinct SMEs whose current match lists hold the declaration."
    )
    interested = serializers.IntegerField(help_text="SMEs that marked the match interesting.")
    notices_sent = serializers.IntegerField()
    licenses_effective = serializers.IntegerField()
    licenses_filed = serializers.IntegerField()
    royalties_due_cny = _money()
    royalties_received_cny = _money()
    fee_savings_cny = _money()


class FunnelTotalsSerializer(serializers.Serializer[Any]):
    declarations = serializers.IntegerField()
    declarations_in_force = serializers.IntegerField()
    dormant = serializers.IntegerField()
    views = serializers.IntegerField()
    search_impressions = serializers.IntegerField()
    smes_reached = serializers.IntegerField(
        help_text="Distinct SMEs reached by any of the declarations: an SME reached by two "
        "counts once."
    )
    interested = serializers.IntegerField()
    notices_sent = serializers.IntegerField()
    licenses_effective = serializers.IntegerField()
    licenses_filed = serializers.IntegerField()
    royalties_due_cny = _money()
    royalties_received_cny = _money()
    fee_savings_cny = _money()


class FunnelMonthSerializer(serializers.Serializer[Any]):
    month = serializers.CharField(help_text="YYYY-MM")
    views = serializers.IntegerField()
    search_impressions = serializers.IntegerField()
    notices_sent = serializers.IntegerField()
    licenses_effective = serializers.IntegerField()
    royalties_received_cny = _money()


class FunnelSerializer(serializers.Serializer[Any]):
    organisation = serializers.IntegerField()
    organisation_name = serializers.CharField()
    as_of = serializers.DateField()
    totals = FunnelTotalsSerializer()
    declarations = FunnelRowSerializer(many=True)
    months = FunnelMonthSerializer(many=True, help_text="The last 12 months, oldest first.")


def funnel_data(organisation: Organisation, result: Funnel) -> dict[str, Any]:
    return {
        "organisation": organisation.pk,
        "organisation_name": organisation.name,
        "as_of": result.as_of,
        "totals": result.totals(),
        "declarations": [row.as_dict() for row in result.rows],
        "months": result.months,
    }


def _table(data: dict[str, Any]) -> list[list[Any]]:
    rows = [[row[name] for name in ROW_FIELDS] for row in data["declarations"]]
    totals = data["totals"]
    rows.append(
        [
            "total",
            "",
            "",
            "",
            "",
            "",
            totals["dormant"],
            *[totals[name] for name in (*COUNTS, *MONEY)],
        ]
    )
    return rows


def funnel_csv(data: dict[str, Any]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(ROW_FIELDS)
    for row in _table(data):
        writer.writerow(["" if value is None else value for value in row])
    # A byte-order mark so spreadsheet programs read the Chinese titles as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode()


def funnel_xlsx(data: dict[str, Any]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "declarations"
    sheet.append(ROW_FIELDS)
    money = {ROW_FIELDS.index(name) for name in MONEY}
    for row in _table(data):
        sheet.append([float(value) if index in money else value for index, value in enumerate(row)])
    months = book.create_sheet("months")
    months.append(["month", *MONTHLY])
    for month in data["months"]:
        months.append(
            [
                month["month"],
                *[float(month[name]) if name.endswith("_cny") else month[name] for name in MONTHLY],
            ]
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def visible_organisation(user: Any, organisation_id: int) -> Organisation:
    """The organisation whose funnel the user may read: its members', or any for a reviewer;
    anything else is a 404, as for the other organisation-scoped reads."""
    organisation = Organisation.objects.records_visible_to(user).filter(pk=organisation_id).first()
    if organisation is None:
        raise NotFound()
    return organisation


class OrganisationFunnelView(APIView):
    """The licensing funnel of an organisation's declarations, per declaration and in total,
    with the last 12 months; `file_format=csv` or `xlsx` downloads the table (one row per
    declaration, the total last; the XLSX has the months on a second sheet).

    Views and search impressions are counted without storing who looked, per patent and day
    (flushed from Redis every minute, so the last minute may be missing). Its members see it,
    and reviewers see every organisation's; for anyone else it does not exist (404)."""

    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer, CsvRenderer, XlsxRenderer]

    @extend_schema(
        operation_id="organisation_funnel",
        parameters=[OpenApiParameter("file_format", str, enum=["json", "csv", "xlsx"])],
        responses={
            (200, "application/json"): FunnelSerializer,
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.STR, description="CSV, one row per declaration, total last"
            ),
            (200, XLSX_TYPE): OpenApiResponse(
                response=OpenApiTypes.BINARY, description="XLSX: declarations and months sheets"
            ),
            400: ERROR_RESPONSES[400],
            401: ERROR_RESPONSES[401],
            404: ERROR_RESPONSES[404],
        },
        tags=["statistics"],
    )
    def get(self, request: Request, organisation_id: int) -> Response | HttpResponse:
        file_format = request.query_params.get("file_format", "json")
        if file_format not in ("json", "csv", "xlsx"):
            raise serializers.ValidationError(
                {
                    "file_format": [
                        serializers.ErrorDetail(str(_("json, csv or xlsx.")), code="invalid_choice")
                    ]
                }
            )
        organisation = visible_organisation(request_user(request), organisation_id)
        data = funnel_data(organisation, funnel(organisation.pk, timezone.localdate()))
        if file_format == "json":
            return Response(FunnelSerializer(data).data)
        if file_format == "csv":
            response = HttpResponse(funnel_csv(data), content_type="text/csv; charset=utf-8")
        else:
            response = HttpResponse(funnel_xlsx(data), content_type=XLSX_TYPE)
        response["Content-Disposition"] = (
            f'attachment; filename="funnel-{organisation.pk}-{data["as_of"]}.{file_format}"'
        )
        return response
