"""API for technology needs; the budget is shown only to the SME itself and platform staff."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from marketplace import permissions, roles
from marketplace.api.errors import refuse_all_at_once
from marketplace.api.fields import IndustryField, RegionField
from marketplace.api.pagination import CursorPagination
from marketplace.api.permissions import CommandChecks, request_user
from marketplace.api.serializers import StrictInputSerializer
from marketplace.api.views import ERROR_RESPONSES
from marketplace.models import Organisation, PaymentMethodPreference, TechnologyNeed
from marketplace.services import needs as services

BUDGET_FIELDS = ("budget_min_cny", "budget_max_cny", "payment_method")


class NeedSerializer(serializers.ModelSerializer[TechnologyNeed]):
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)
    region = RegionField(allow_null=True)

    class Meta:
        model = TechnologyNeed
        fields = [
            "id",
            "organisation",
            "organisation_name",
            "title",
            "description",
            "keywords",
            "ipc_areas",
            "industries",
            "budget_min_cny",
            "budget_max_cny",
            "payment_method",
            "region",
            "expires_on",
            "status",
            "created_at",
            "updated_at",
        ]

    def to_representation(self, instance: TechnologyNeed) -> dict[str, Any]:
        data = super().to_representation(instance)
        budget_visible = self.context.get("budget_visible")
        if not (budget_visible and budget_visible(instance.organisation_id)):
            for field in BUDGET_FIELDS:
                data.pop(field, None)
        return data


class NeedInputSerializer(StrictInputSerializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=5000)
    keywords = serializers.ListField(
        child=serializers.CharField(max_length=40), max_length=20, required=False
    )
    ipc_areas = serializers.ListField(
        child=serializers.CharField(max_length=20), max_length=20, required=False
    )
    industries = serializers.ListField(child=IndustryField(), max_length=10, required=False)
    budget_min_cny = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    budget_max_cny = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    payment_method = serializers.ChoiceField(
        choices=PaymentMethodPreference.choices, required=False
    )
    region = RegionField(required=False, allow_null=True)
    expires_on = serializers.DateField()


class NeedCreateSerializer(NeedInputSerializer):
    organisation = serializers.IntegerField(min_value=1)


class NeedUpdateSerializer(NeedInputSerializer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


def _check_need_owner(user: Any, need: TechnologyNeed) -> None:
    permissions.check_need_owner(user, need.organisation_id)


class TechnologyNeedViewSet(CommandChecks, viewsets.ReadOnlyModelViewSet[TechnologyNeed]):
    """Open needs for logged-in users; an SME sees and manages all of its own. A refused body
    hears of every problem at once: the serializer's and the rules its other fields break."""

    command_checks = dict.fromkeys(("partial_update", "close", "reopen"), _check_need_owner)

    serializer_class = NeedSerializer
    pagination_class = CursorPagination
    filterset_fields = ["organisation", "status"]

    def get_queryset(self) -> QuerySet[TechnologyNeed]:
        return TechnologyNeed.objects.visible_to(self.request.user).select_related("organisation")

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        user = self.request.user
        staff = roles.is_platform_staff(user)
        own = set(Organisation.objects.with_member(user).values_list("pk", flat=True))
        # Budgets are the SME's own business: other SMEs and patentees never see them.
        context["budget_visible"] = lambda organisation_id: staff or organisation_id in own
        return context

    def _respond(self, need: TechnologyNeed, code: int = status.HTTP_200_OK) -> Response:
        need = TechnologyNeed.objects.select_related("organisation").get(pk=need.pk)
        return Response(
            NeedSerializer(need, context=self.get_serializer_context()).data, status=code
        )

    @extend_schema(request=NeedCreateSerializer, responses={201: NeedSerializer, **ERROR_RESPONSES})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = NeedCreateSerializer(data=request.data)
        if not data.is_valid():
            refuse_all_at_once(
                data,
                request.data,
                lambda values, _refused: services.need_create_problems(
                    actor=request_user(request),
                    organisation_id=values.pop("organisation", None),
                    values=values,
                ),
            )
        values = dict(data.validated_data)
        need = services.need_create(
            actor=request_user(request), organisation_id=values.pop("organisation"), values=values
        )
        return self._respond(need, status.HTTP_201_CREATED)

    @extend_schema(request=NeedUpdateSerializer, responses={200: NeedSerializer, **ERROR_RESPONSES})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        need = self.get_object()
        data = NeedUpdateSerializer(data=request.data)
        if not data.is_valid():
            refuse_all_at_once(
                data,
                request.data,
                lambda values, _refused: services.need_update_problems(
                    actor=request_user(request), need_id=need.pk, values=values
                ),
            )
        need = services.need_update(
            actor=request_user(request), need_id=need.pk, values=dict(data.validated_data)
        )
        return self._respond(need)

    @extend_schema(request=None, responses={200: NeedSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        need = self.get_object()
        return self._respond(services.need_close(actor=request_user(request), need_id=need.pk))

    @extend_schema(request=None, responses={200: NeedSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str) -> Response:
        need = self.get_object()
        return self._respond(services.need_reopen(actor=request_user(request), need_id=need.pk))
