"""API for annual fees: a patent's fee calendar and a patentee's totals."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing.fees import calendar_totals, fee_calendar, patentee_totals
from marketplace.api.views import ERROR_RESPONSES
from marketplace.errors import NotFound
from marketplace.models import LegalStatus, Organisation, Patent


class FeeYearSerializer(serializers.Serializer[Any]):
    year = serializers.IntegerField()
    due_date = serializers.DateField()
    full_fee_cny = serializers.DecimalField(max_digits=10, decimal_places=2)
    general_reduction = serializers.DecimalField(max_digits=4, decimal_places=2)
    open_license_reduction = serializers.DecimalField(max_digits=4, decimal_places=2)
    applied_reduction = serializers.DecimalField(max_digits=4, decimal_places=2)
    fee_cny = serializers.DecimalField(max_digits=10, decimal_places=2)
    open_license_saving_cny = serializers.DecimalField(max_digits=10, decimal_places=2)
    state = serializers.ChoiceField(choices=["paid", "upcoming", "due", "late", "lapsed"])
    late_fee_cny = serializers.DecimalField(max_digits=10, decimal_places=2)


class FeeTotalsSerializer(serializers.Serializer[Any]):
    organisation = serializers.CharField()
    patents = serializers.CharField()
    current_year_fees_cny = serializers.DecimalField(max_digits=16, decimal_places=2)
    remaining_fees_cny = serializers.DecimalField(max_digits=16, decimal_places=2)
    open_license_saving_cny = serializers.DecimalField(max_digits=16, decimal_places=2)


class CalendarSerializer(serializers.Serializer[Any]):
    patent = serializers.IntegerField()
    # not_granted: an application owes no annual fee before its grant (years is empty).
    status = serializers.ChoiceField(choices=["granted", "not_granted"])
    detail = serializers.CharField()
    years = FeeYearSerializer(many=True)
    totals = serializers.DictField(child=serializers.CharField())


class FeeCalendarView(APIView):
    """Every remaining patent year: fee, reductions applied, savings from open licensing."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: CalendarSerializer, **ERROR_RESPONSES})
    def get(self, request: Request, patent_id: int) -> Response:
        patent = (
            Patent.objects.records_visible_to(request.user)
            .select_related("owner")
            .filter(pk=patent_id)
            .first()
        )
        if patent is None:
            raise NotFound()
        years = fee_calendar(
            patent, timezone.localdate(), from_year=1 if request.query_params.get("all") else None
        )
        granted = patent.grant_date is not None
        return Response(
            {
                "patent": patent.pk,
                "status": "granted" if granted else "not_granted",
                "detail": gettext("Annual fees from the year of grant.")
                if granted
                else gettext("No annual fee is due before the patent is granted."),
                "years": [year.as_dict() for year in years],
                "totals": calendar_totals(years),
            }
        )


class FeeTotalsView(APIView):
    """A patentee's annual fees: this year's and all remaining, and what open licensing saves."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: FeeTotalsSerializer, **ERROR_RESPONSES})
    def get(self, request: Request, organisation_id: int) -> Response:
        visible = Organisation.objects.records_visible_to(request.user)
        if not visible.filter(pk=organisation_id).exists():
            raise NotFound()
        patents = Patent.objects.filter(
            owner_id=organisation_id, legal_status=LegalStatus.IN_FORCE
        ).select_related("owner")
        totals = patentee_totals(patents, timezone.localdate())
        return Response({"organisation": str(organisation_id), **totals})
