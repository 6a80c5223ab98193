"""API for royalty estimation: an SME's cost over the term; a patentee's suggested range."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing.estimation import estimate_cost, suggest_range
from licensing.models import Declaration
from marketplace.api.fields import IndustryField
from marketplace.api.serializers import StrictInputSerializer
from marketplace.api.views import ERROR_RESPONSES
from marketplace.errors import NotFound
from marketplace.models import Organisation, Patent


class EstimateInputSerializer(StrictInputSerializer):
    projected_cny = serializers.ListField(
        child=serializers.DecimalField(max_digits=16, decimal_places=2, min_value=Decimal("0")),
        min_length=1,
        max_length=20,
        help_text="net sales or profit (the declaration's basis) for years 1, 2, …",
    )
    start_date = serializers.DateField(required=False)


class EstimateSerializer(serializers.Serializer[Any]):
    declaration = serializers.IntegerField()
    payment_method = serializers.CharField()
    royalty_basis = serializers.CharField()
    years = serializers.ListField(child=serializers.DictField())
    total_cny = serializers.DecimalField(max_digits=16, decimal_places=2)


class SuggestionQuerySerializer(serializers.Serializer[Any]):
    basis = serializers.ChoiceField(choices=["lump_sum", "net_sales", "profit"], default="lump_sum")
    industry = IndustryField(required=False, allow_section=True)


class SuggestionSerializer(serializers.Serializer[Any]):
    basis = serializers.CharField()
    available = serializers.BooleanField()
    low = serializers.CharField(allow_null=True, required=False)
    typical = serializers.CharField(required=False)
    high = serializers.CharField(allow_null=True, required=False)
    unit = serializers.CharField(required=False)
    used = serializers.DictField(allow_null=True)


class DeclarationEstimateView(APIView):
    """What a declaration would cost over its term at the SME's projected sales or profit."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=EstimateInputSerializer, responses={200: EstimateSerializer, **ERROR_RESPONSES}
    )
    def post(self, request: Request, declaration_id: int) -> Response:
        declaration = (
            Declaration.objects.visible_to(request.user)
            .in_force()
            .select_related("patent")
            .filter(pk=declaration_id)
            .first()
        )
        if declaration is None:
            raise NotFound()
        data = EstimateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        start = data.validated_data.get("start_date") or timezone.localdate()
        return Response(
            estimate_cost(declaration, projected=data.validated_data["projected_cny"], start=start)
        )


class RoyaltySuggestionView(APIView):
    """A suggested royalty for a patentee, from reference statistics, naming the basis used."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter("basis", str, enum=["lump_sum", "net_sales", "profit"]),
            OpenApiParameter("industry", str, description="GB/T 4754 code, e.g. C38"),
        ],
        responses={200: SuggestionSerializer, **ERROR_RESPONSES},
    )
    def get(self, request: Request, patent_id: int) -> Response:
        # For the patentee who declares (the owner's members, not co-owners) and reviewers.
        owners = Organisation.objects.records_visible_to(request.user)
        if not Patent.objects.filter(pk=patent_id, owner_id__in=owners.values("pk")).exists():
            raise NotFound()
        query = SuggestionQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        industry = query.validated_data.get("industry")
        return Response(
            suggest_range(
                industry_code=industry.code if industry else None,
                basis=query.validated_data["basis"],
            )
        )
