"""Open statistics for anyone, as JSON or CSV, read from the precomputed cells (issue 18)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from licensing.api.renderers import CsvRenderer
from licensing.models import StatisticsCell, StatisticsDimension
from licensing.open_statistics import CACHE_SECONDS, cache_key, minimum_licenses
from marketplace.api.views import ERROR_RESPONSES

# URL spelling of the dimensions (hyphens), and back.
DIMENSIONS = {
    "month": StatisticsDimension.MONTH,
    "province": StatisticsDimension.PROVINCE,
    "ipc-section": StatisticsDimension.IPC_SECTION,
    "ipc-class": StatisticsDimension.IPC_CLASS,
    "patentee-kind": StatisticsDimension.PATENTEE_KIND,
    "payment-mode": StatisticsDimension.PAYMENT_METHOD,
}
DIMENSION_REGEX = "|".join(DIMENSIONS)
CELL_FIELDS = [
    "key",
    "label_zh",
    "label_en",
    "declarations_announced",
    "declarations_withdrawn",
    "declarations_in_force",
    "licenses_granted",
    "licenses_filed",
    "royalty_reports",
    "royalties_reported_cny",
    "median_royalty_rate_percent",
    "median_upfront_cny",
    "is_suppressed",
]
# Anyone may cache the answer for a while; the cells change only when they are refreshed.
CACHE_CONTROL = "public, max-age=300"


class StatisticsCellSerializer(serializers.ModelSerializer[StatisticsCell]):
    class Meta:
        model = StatisticsCell
        fields = CELL_FIELDS


class StatisticsTableSerializer(serializers.Serializer[Any]):
    dimension = serializers.ChoiceField(choices=list(DIMENSIONS))
    refreshed_at = serializers.DateTimeField(allow_null=True)
    minimum_licenses_per_cell = serializers.IntegerField()
    total = StatisticsCellSerializer(allow_null=True)
    rows = StatisticsCellSerializer(many=True)


class StatisticsIndexSerializer(serializers.Serializer[Any]):
    refreshed_at = serializers.DateTimeField(allow_null=True)
    minimum_licenses_per_cell = serializers.IntegerField()
    dimensions = serializers.ListField(child=serializers.CharField())
    total = StatisticsCellSerializer(allow_null=True)


def _cached(rendering: str, render: Callable[[], bytes]) -> bytes:
    """The rendered body from the cache, rendered and kept when missing (until a refresh)."""
    key = cache_key(rendering)
    body = cache.get(key)
    if body is None:
        body = render()
        cache.set(key, body, CACHE_SECONDS)
    return bytes(body)


def _json(data: Any) -> bytes:
    return JSONRenderer().render(data)


def _cells(dimension: str) -> list[StatisticsCell]:
    # One indexed read (statistics_cell_once covers dimension, key) of a few dozen rows.
    return list(StatisticsCell.objects.filter(dimension=dimension).order_by("key"))


def _total() -> StatisticsCell | None:
    return StatisticsCell.objects.filter(dimension=StatisticsDimension.TOTAL).first()


def _csv(stored: str) -> bytes:
    total = _total()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CELL_FIELDS)
    for cell in [*_cells(stored), *([total] if total else [])]:
        row = [getattr(cell, name) for name in CELL_FIELDS]
        writer.writerow(["" if value is None else value for value in row])
    # A byte-order mark so spreadsheet programs read the Chinese labels as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode()


def _table_json(dimension: str, stored: str) -> bytes:
    total = _total()
    return _json(
        {
            "dimension": dimension,
            "refreshed_at": total.refreshed_at if total else None,
            "minimum_licenses_per_cell": minimum_licenses(),
            "total": StatisticsCellSerializer(total).data if total else None,
            "rows": StatisticsCellSerializer(_cells(stored), many=True).data,
        }
    )


class StatisticsIndexView(APIView):
    """What the open statistics hold: the tables, the overall totals, when they were made."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(
        operation_id="statistics_index",
        responses={200: StatisticsIndexSerializer},
        tags=["statistics"],
    )
    def get(self, request: Request) -> HttpResponse:
        def render() -> bytes:
            total = _total()
            return _json(
                {
                    "refreshed_at": total.refreshed_at if total else None,
                    "minimum_licenses_per_cell": minimum_licenses(),
                    "dimensions": list(DIMENSIONS),
                    "total": StatisticsCellSerializer(total).data if total else None,
                }
            )

        response = HttpResponse(_cached("index", render), content_type="application/json")
        response["Cache-Control"] = CACHE_CONTROL
        return response


class StatisticsTableView(APIView):
    """One table of the open statistics (JSON, or CSV with `file_format=csv`).

    Declarations announced, withdrawn and in force (for months: in force at the month's end),
    licenses granted and filed, royalty reports and the royalties reported, and the median
    declared royalty rate and upfront amount (lump sum or entry fee). Aggregates only: a license
    figure resting on one or two licenses is empty (null) and the row says `is_suppressed`, and
    so is the next smallest in the same table; a median needs at least three declarations.
    """

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(
        operation_id="statistics_table",
        parameters=[
            OpenApiParameter(
                "dimension", str, location=OpenApiParameter.PATH, enum=list(DIMENSIONS)
            ),
            OpenApiParameter("file_format", str, enum=["json", "csv"]),
        ],
        responses={
            (200, "application/json"): StatisticsTableSerializer,
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.STR, description="CSV, one row per cell, the total last"
            ),
            400: ERROR_RESPONSES[400],
            404: ERROR_RESPONSES[404],
        },
        tags=["statistics"],
    )
    def get(self, request: Request, dimension: str) -> HttpResponse:
        file_format = request.query_params.get("file_format", "json")
        if file_format not in ("csv", "json"):
            raise serializers.ValidationError(
                {
                    "file_format": [
                        serializers.ErrorDetail(str(_("csv or json.")), code="invalid_choice")
                    ]
                }
            )
        stored = DIMENSIONS[dimension]
        if file_format == "csv":
            response = HttpResponse(
                _cached(f"{stored}:csv", lambda: _csv(stored)),
                content_type="text/csv; charset=utf-8",
            )
            response["Content-Disposition"] = (
                f'attachment; filename="open-statistics-{dimension}.csv"'
            )
        else:
            response = HttpResponse(
                _cached(f"{stored}:json", lambda: _table_json(dimension, stored)),
                content_type="application/json",
            )
        response["Cache-Control"] = CACHE_CONTROL
        return response
