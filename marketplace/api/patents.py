"""API for patents: portfolio management, legal-status facts, history, and search."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotAuthenticated
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import permissions
from marketplace.api.errors import refuse_all_at_once
from marketplace.api.exports import EXPORT_LIMIT, FILE_FORMATS, XLSX_TYPE, export_response
from marketplace.api.fields import IndustryField
from marketplace.api.ids import ID_REGEX, IdFilter, path_id
from marketplace.api.pagination import CursorPagination
from marketplace.api.permissions import CommandChecks, request_user
from marketplace.api.serializers import StrictInputSerializer
from marketplace.api.views import ERROR_RESPONSES
from marketplace.errors import NotFound
from marketplace.models import (
    ExclusiveLicenseKind,
    IpcClass,
    LegalStatus,
    OrganisationKind,
    Patent,
    PatentCoOwner,
    PatentEvent,
    PatentExclusiveLicense,
    PatentHindrance,
    PatentPledge,
    PatentType,
    PaymentMethodPreference,
    Region,
)
from marketplace.patents.ipc import normalise_ipc_prefix
from marketplace.search.hits import as_hits, attach_hits
from marketplace.search.languages import MatchedBy, attach_matched
from marketplace.search.numbers import number_result, patent_by_number
from marketplace.search.query import SearchParams, search_patents
from marketplace.services import patents as services

# ---- serializers ---------------------------------------------------------------------------


class OwnerSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    region = serializers.CharField(source="region_id")


class PatentListSerializer(serializers.ModelSerializer[Patent]):
    owner = OwnerSerializer(read_only=True)
    patent_number = serializers.CharField(read_only=True)

    class Meta:
        model = Patent
        fields = [
            "id",
            "application_number",
            "patent_number",
            "patent_type",
            "title",
            "main_ipc",
            "filing_date",
            "grant_date",
            "expiry_date",
            "legal_status",
            "owner",
            "is_listed",
        ]


class DeclarationSummarySerializer(serializers.Serializer[Any]):
    """The open-license declaration in force on a hit: what a licensee pays and how many took
    a license so far."""

    declaration_id = serializers.IntegerField()
    number = serializers.CharField()
    payment_method = serializers.CharField()
    lump_sum_cny = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    entry_fee_cny = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    royalty_rate_percent = serializers.DecimalField(max_digits=7, decimal_places=4, allow_null=True)
    upfront_due_cny = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        allow_null=True,
        help_text="due at acceptance: the lump sum or the entry fee (0 when none)",
    )
    licenses_granted = serializers.IntegerField(help_text="licenses that took effect so far")


class SnippetSerializer(serializers.Serializer[Any]):
    title = serializers.CharField(help_text="HTML: escaped, query words in <mark>")
    abstract = serializers.CharField(
        help_text="HTML: ~120 characters around the first query word, escaped, words in <mark>"
    )


class MatchedSerializer(serializers.Serializer[Any]):
    value = serializers.ChoiceField(
        choices=MatchedBy.choices,
        help_text="zh: Chinese words of the query, its synonyms or their translations are in "
        "the patent; en: Latin-script words (English terms, abbreviations); meaning: among the "
        "query's nearest patents by the sentence embedding; number: the query was its number",
    )
    label = serializers.CharField(help_text="in the reader's language")  # type: ignore[assignment]


class PatentHitSerializer(PatentListSerializer):
    """A search hit: the patent, its patentee (owner), its declaration in force, a snippet and
    how it was found."""

    declaration = DeclarationSummarySerializer(
        source="hit_declaration", read_only=True, allow_null=True
    )
    snippet = SnippetSerializer(read_only=True)
    matched = MatchedSerializer(many=True, read_only=True)

    class Meta(PatentListSerializer.Meta):
        fields = [*PatentListSerializer.Meta.fields, "declaration", "snippet", "matched"]


_DECIMALS = {
    name: field
    for name, field in DeclarationSummarySerializer().fields.items()
    if isinstance(field, serializers.DecimalField)
}


def _date(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def hit_data(patent: Patent) -> dict[str, Any]:
    """PatentHitSerializer's representation of a hit, built directly (tests check it equals
    the serializer's, field for field): DRF walks ~20 fields a hit through get_attribute and
    to_representation, a third of a search's Python time at 59,000 patents (BENCHMARKS.md)."""
    owner = patent.owner
    declaration = patent.hit_declaration  # type: ignore[attr-defined]
    if declaration is not None:
        declaration = {
            "declaration_id": int(declaration["declaration_id"]),
            "number": str(declaration["number"]),
            "payment_method": str(declaration["payment_method"]),
            **{
                name: field.to_representation(declaration[name])
                if declaration[name] is not None
                else None
                for name, field in _DECIMALS.items()
            },
            "licenses_granted": int(declaration["licenses_granted"]),
        }
    return {
        "id": patent.pk,
        "application_number": patent.application_number,
        "patent_number": patent.patent_number,
        "patent_type": patent.patent_type,
        "title": patent.title,
        "main_ipc": patent.main_ipc,
        "filing_date": _date(patent.filing_date),
        "grant_date": _date(patent.grant_date),
        "expiry_date": _date(patent.expiry_date),
        "legal_status": patent.legal_status,
        "owner": {
            "id": owner.pk,
            "name": owner.name,
            "kind": owner.kind,
            "region": None if owner.region_id is None else str(owner.region_id),
        },
        "is_listed": patent.is_listed,
        "declaration": declaration,
        "snippet": dict(patent.snippet),  # type: ignore[attr-defined]
        "matched": [dict(item) for item in patent.matched],  # type: ignore[attr-defined]
    }


class SearchQuerySerializer(serializers.Serializer[Any]):
    tokens = serializers.ListField(child=serializers.CharField())
    mode = serializers.ChoiceField(choices=["and", "or", "meaning", "none", "number"])


class SearchNoticeSerializer(serializers.Serializer[Any]):
    code = serializers.ChoiceField(choices=["no_such_patent"])
    detail = serializers.CharField()


class PatentSearchResponseSerializer(serializers.Serializer[Any]):
    """A page of hits with the query as understood, facet counts and, for a number that names
    no patent, a notice (else null)."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = PatentHitSerializer(many=True)
    query = SearchQuerySerializer()
    facets = serializers.DictField(child=serializers.ListField(child=serializers.DictField()))
    notice = SearchNoticeSerializer(allow_null=True)


class PledgeSerializer(serializers.ModelSerializer[PatentPledge]):
    class Meta:
        model = PatentPledge
        fields = ["id", "pledgee", "registered_on", "pledgee_consents", "released_on"]


class ExclusiveLicenseSerializer(serializers.ModelSerializer[PatentExclusiveLicense]):
    class Meta:
        model = PatentExclusiveLicense
        fields = ["id", "kind", "licensee", "starts_on", "ends_on"]


class HindranceSerializer(serializers.ModelSerializer[PatentHindrance]):
    class Meta:
        model = PatentHindrance
        fields = ["id", "reason", "recorded_at", "resolved_at"]


class HindranceCreateSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=2000)


class PatentDetailSerializer(PatentListSerializer):
    co_owners = serializers.SerializerMethodField()
    pledges = PledgeSerializer(many=True, read_only=True)
    exclusive_licenses = ExclusiveLicenseSerializer(many=True, read_only=True)
    hindrances = HindranceSerializer(many=True, read_only=True)

    class Meta(PatentListSerializer.Meta):
        fields = [
            *PatentListSerializer.Meta.fields,
            "is_pct",
            "abstract",
            "claims",
            "further_ipcs",
            "publication_numbers",
            "annual_fees_paid_through",
            "is_suspended",
            "is_under_preservation",
            "evaluation_report_date",
            "evaluation_report_positive",
            "co_owners",
            "pledges",
            "exclusive_licenses",
            "hindrances",
            "created_at",
            "updated_at",
        ]

    def get_co_owners(self, patent: Patent) -> list[dict[str, Any]]:
        return [
            {"id": link.organisation_id, "name": link.organisation.name}
            for link in patent.co_ownerships.all()
        ]


class PatentEventSerializer(serializers.ModelSerializer[PatentEvent]):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = PatentEvent
        fields = ["id", "verb", "actor", "changes", "created_at"]

    def get_actor(self, event: PatentEvent) -> str | None:
        return event.actor.email if event.actor else None


class PatentWriteSerializer(StrictInputSerializer):
    """Shape only; the rules (check digits, IPC, dates) are checked by the service."""

    application_number = serializers.CharField(max_length=40)
    patent_type = serializers.CharField(max_length=20, required=False, allow_blank=True)
    title = serializers.CharField(max_length=500)
    abstract = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    claims = serializers.CharField(max_length=100_000, required=False, allow_blank=True)
    main_ipc = serializers.CharField(max_length=30)
    further_ipcs = serializers.ListField(
        child=serializers.CharField(max_length=30), max_length=50, required=False
    )
    filing_date = serializers.DateField()
    grant_date = serializers.DateField(required=False, allow_null=True)
    publication_numbers = serializers.ListField(
        child=serializers.CharField(max_length=20), max_length=20, required=False
    )


class PatentCreateSerializer(PatentWriteSerializer):
    organisation = serializers.IntegerField(min_value=1)
    co_owners = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=20, required=False
    )


class PatentUpdateSerializer(PatentWriteSerializer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.pop("application_number")
        self.fields.pop("patent_type")
        for field in self.fields.values():
            field.required = False


class LegalStatusSerializer(StrictInputSerializer):
    legal_status = serializers.ChoiceField(choices=LegalStatus.choices, required=False)
    annual_fees_paid_through = serializers.IntegerField(
        min_value=1, max_value=20, required=False, allow_null=True
    )
    is_suspended = serializers.BooleanField(required=False)
    is_under_preservation = serializers.BooleanField(required=False)
    evaluation_report_date = serializers.DateField(required=False, allow_null=True)
    evaluation_report_positive = serializers.BooleanField(required=False, allow_null=True)


class PledgeCreateSerializer(StrictInputSerializer):
    pledgee = serializers.CharField(max_length=200)
    registered_on = serializers.DateField()
    pledgee_consents = serializers.BooleanField()


class ReleaseSerializer(StrictInputSerializer):
    released_on = serializers.DateField()


class ExclusiveLicenseCreateSerializer(StrictInputSerializer):
    kind = serializers.ChoiceField(choices=ExclusiveLicenseKind.choices)
    licensee = serializers.CharField(max_length=200)
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()


class EndSerializer(StrictInputSerializer):
    ended_on = serializers.DateField()


# ---- filters -------------------------------------------------------------------------------


class PatentFilter(filters.FilterSet):
    organisation = IdFilter(field_name="owner_id")
    mine = filters.BooleanFilter(method="filter_mine")
    # A column of the patent itself cannot duplicate a row; django-filter's default DISTINCT
    # would make PostgreSQL sort every listed patent before the page (tests/test_public_indexes).
    patent_type = filters.MultipleChoiceFilter(choices=PatentType.choices, distinct=False)
    legal_status = filters.MultipleChoiceFilter(choices=LegalStatus.choices, distinct=False)
    ipc = filters.CharFilter(method="filter_ipc", max_length=20)
    application_number = filters.CharFilter(max_length=20)

    class Meta:
        model = Patent
        fields = ["organisation", "patent_type", "legal_status"]

    def filter_mine(self, queryset: QuerySet[Patent], name: str, value: bool) -> QuerySet[Patent]:
        return queryset.of_member(self.request.user) if value else queryset  # type: ignore[attr-defined]

    def filter_ipc(self, queryset: QuerySet[Patent], name: str, value: str) -> QuerySet[Patent]:
        prefix = normalise_ipc_prefix(value)
        if prefix is None:
            raise serializers.ValidationError({"ipc": [_("Not an IPC symbol or prefix.")]})
        return queryset.filter(ipc_prefixes__contains=[prefix])


# ---- views ---------------------------------------------------------------------------------


def _check_patent_owner(user: Any, patent: Patent) -> None:
    permissions.check_patent_owner(user, patent.owner_id)


class PatentViewSet(CommandChecks, viewsets.ReadOnlyModelViewSet[Patent]):
    """Patents you may see: listed ones, your organisations' own, all for platform staff."""

    filterset_class = PatentFilter
    pagination_class = CursorPagination
    command_checks = {
        "partial_update": _check_patent_owner,
        **dict.fromkeys(
            (
                "legal_status",
                "pledges",
                "release_pledge",
                "exclusive_licenses",
                "end_exclusive_license",
            ),
            permissions.check_patent_facts,
        ),
        "hindrances": permissions.check_patent_hindrance,
        "resolve_hindrance": permissions.check_patent_hindrance,
    }

    def get_permissions(self) -> list[Any]:
        if self.action in ("list", "retrieve") and self.request.method in ("GET", "HEAD"):
            return [AllowAny()]
        return [IsAuthenticated()]

    def get_queryset(self) -> QuerySet[Patent]:
        queryset = Patent.objects.visible_to(self.request.user).select_related("owner")
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(
                Prefetch("co_ownerships", PatentCoOwner.objects.select_related("organisation")),
                "pledges",
                "exclusive_licenses",
                "hindrances",
            )
        return queryset.defer("claims", "abstract") if self.action == "list" else queryset

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return PatentDetailSerializer if self.action == "retrieve" else PatentListSerializer

    def _detail(self, pk: int) -> Response:
        self.action = "retrieve"
        self.kwargs["pk"] = pk
        return Response(PatentDetailSerializer(self.get_object()).data)

    @extend_schema(
        request=PatentCreateSerializer,
        responses={201: PatentDetailSerializer, **ERROR_RESPONSES},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = PatentCreateSerializer(data=request.data)
        if not data.is_valid():
            refuse_all_at_once(
                data,
                request.data,
                lambda values, _refused: services.patent_create_problems(
                    actor=request_user(request),
                    owner_id=values.pop("organisation", None),
                    co_owner_ids=values.pop("co_owners", []),
                    data=values,
                ),
            )
        values = dict(data.validated_data)
        organisation_id = values.pop("organisation")
        co_owner_ids = values.pop("co_owners", [])
        # The answer is read inside the creating transaction: a database connection lost while
        # it is read rolls the patent back too (a 503, and the retry creates it), where a loss
        # after the commit answered 503 for a patent that exists, and its retry 409
        # `patent_exists` (tests/test_database_restart.py). Only a loss during the COMMIT
        # itself is left.
        with transaction.atomic():
            patent = services.patent_create(
                actor=request_user(request),
                owner_id=organisation_id,
                data=values,
                co_owner_ids=co_owner_ids,
            )
            response = self._detail(patent.pk)
        response.status_code = status.HTTP_201_CREATED
        return response

    @extend_schema(
        request=PatentUpdateSerializer,
        responses={200: PatentDetailSerializer, **ERROR_RESPONSES},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        patent = self.get_object()
        data = PatentUpdateSerializer(data=request.data)
        if not data.is_valid():
            refuse_all_at_once(
                data,
                request.data,
                lambda values, _refused: services.patent_update_problems(
                    actor=request_user(request), patent_id=patent.pk, data=values
                ),
            )
        services.patent_update(
            actor=request_user(request), patent_id=patent.pk, data=dict(data.validated_data)
        )
        return self._detail(patent.pk)

    @extend_schema(
        request=LegalStatusSerializer,
        responses={200: PatentDetailSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["post"], url_path="legal-status")
    def legal_status(self, request: Request, pk: str) -> Response:
        patent = self.get_object()
        data = LegalStatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.patent_record_legal_status(
            actor=request_user(request), patent_id=patent.pk, facts=dict(data.validated_data)
        )
        return self._detail(patent.pk)

    @extend_schema(
        request=PledgeCreateSerializer, responses={201: PledgeSerializer, **ERROR_RESPONSES}
    )
    @action(detail=True, methods=["post"])
    def pledges(self, request: Request, pk: str) -> Response:
        patent = self.get_object()
        data = PledgeCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pledge = services.patent_pledge_record(
            actor=request_user(request), patent_id=patent.pk, **data.validated_data
        )
        return Response(PledgeSerializer(pledge).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReleaseSerializer, responses={200: PledgeSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"], url_path=rf"pledges/(?P<pledge_id>{ID_REGEX})/release")
    def release_pledge(self, request: Request, pk: str, pledge_id: str) -> Response:
        patent = self.get_object()
        data = ReleaseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pledge = services.patent_pledge_release(
            actor=request_user(request),
            patent_id=patent.pk,
            pledge_id=path_id(pledge_id),
            **data.validated_data,
        )
        return Response(PledgeSerializer(pledge).data)

    @extend_schema(
        request=ExclusiveLicenseCreateSerializer,
        responses={201: ExclusiveLicenseSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["post"], url_path="exclusive-licenses")
    def exclusive_licenses(self, request: Request, pk: str) -> Response:
        patent = self.get_object()
        data = ExclusiveLicenseCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = services.patent_exclusive_license_record(
            actor=request_user(request), patent_id=patent.pk, **data.validated_data
        )
        return Response(ExclusiveLicenseSerializer(record).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=EndSerializer, responses={200: ExclusiveLicenseSerializer, **ERROR_RESPONSES}
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=rf"exclusive-licenses/(?P<license_id>{ID_REGEX})/end",
    )
    def end_exclusive_license(self, request: Request, pk: str, license_id: str) -> Response:
        patent = self.get_object()
        data = EndSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = services.patent_exclusive_license_end(
            actor=request_user(request),
            patent_id=patent.pk,
            license_id=path_id(license_id),
            **data.validated_data,
        )
        return Response(ExclusiveLicenseSerializer(record).data)

    @extend_schema(
        request=HindranceCreateSerializer, responses={201: HindranceSerializer, **ERROR_RESPONSES}
    )
    @action(detail=True, methods=["post"])
    def hindrances(self, request: Request, pk: str) -> Response:
        """A reviewer records another hindrance to open licensing (bar 9)."""
        patent = self.get_object()
        data = HindranceCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hindrance = services.patent_hindrance_record(
            actor=request_user(request), patent_id=patent.pk, reason=data.validated_data["reason"]
        )
        return Response(HindranceSerializer(hindrance).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: HindranceSerializer, **ERROR_RESPONSES})
    @action(
        detail=True, methods=["post"], url_path=rf"hindrances/(?P<hindrance_id>{ID_REGEX})/resolve"
    )
    def resolve_hindrance(self, request: Request, pk: str, hindrance_id: str) -> Response:
        patent = self.get_object()
        hindrance = services.patent_hindrance_resolve(
            actor=request_user(request), patent_id=patent.pk, hindrance_id=path_id(hindrance_id)
        )
        return Response(HindranceSerializer(hindrance).data)

    @extend_schema(responses={200: PatentEventSerializer(many=True), **ERROR_RESPONSES})
    @action(detail=True, methods=["get"])
    def history(self, request: Request, pk: str) -> Response:
        """Every change to the patent; for its owners, co-owners and reviewers."""
        patent = self.get_object()
        # For anyone else the history does not exist (404), as for the fee calendar.
        if not Patent.objects.records_visible_to(request.user).filter(pk=patent.pk).exists():
            raise NotFound()
        events = PatentEvent.objects.filter(patent=patent).select_related("actor")
        paginator = CursorPagination()
        page = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response(PatentEventSerializer(page, many=True).data)


# ---- search --------------------------------------------------------------------------------


class SearchInputSerializer(serializers.Serializer[Any]):
    q = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    ipc = serializers.ListField(
        child=serializers.CharField(max_length=20), required=False, max_length=5
    )
    patent_type = serializers.ListField(
        child=serializers.ChoiceField(choices=PatentType.choices), required=False
    )
    owner_kind = serializers.ListField(
        child=serializers.ChoiceField(choices=OrganisationKind.choices), required=False
    )
    region = serializers.RegexField(r"^[0-9]{6}$", required=False)
    min_remaining_years = serializers.IntegerField(min_value=0, max_value=20, required=False)
    payment_method = serializers.ListField(
        child=serializers.ChoiceField(
            choices=["free", "lump_sum", "running_royalty", "entry_fee_plus_royalty"]
        ),
        required=False,
    )
    max_upfront_cny = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False
    )
    max_royalty_rate = serializers.DecimalField(
        max_digits=7, decimal_places=4, min_value=0, max_value=100, required=False
    )
    industry = IndustryField(required=False, allow_section=True)
    scope = serializers.ChoiceField(choices=["listed", "mine"], default="listed")
    sort = serializers.ChoiceField(
        choices=["relevance", "newest", "remaining_term", "royalty"], default="relevance"
    )

    def validate_ipc(self, values: list[str]) -> list[str]:
        prefixes = []
        for value in values:
            prefix = normalise_ipc_prefix(value)
            if prefix is None:
                raise serializers.ValidationError(
                    _("%(value)s is not an IPC symbol or prefix (e.g. H, H01, H01M, H01M 10).")
                    % {"value": value[:20]},
                    code="invalid_ipc",
                )
            prefixes.append(prefix)
        return prefixes


class SearchPagination(LimitOffsetPagination):
    default_limit = 20
    max_limit = 100

    known_count: int | None = None

    def get_offset(self, request: Request) -> int:
        # Search pages stop at the ranked window; deeper pages would mean nothing.
        return min(super().get_offset(request), 2000)

    def get_count(self, queryset: Any) -> int:
        # A text search already knows how many candidates it ranks: no COUNT(*) again.
        return self.known_count if self.known_count is not None else super().get_count(queryset)


class PatentSearchView(APIView):
    """Full-text search in Chinese and English with filters, sorting and facet counts."""

    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="words in Chinese or English"),
            OpenApiParameter("ipc", str, many=True, description="IPC prefix: H, H01, H01M…"),
            OpenApiParameter("patent_type", str, many=True),
            OpenApiParameter("owner_kind", str, many=True),
            OpenApiParameter("region", str, description="GB/T 2260 code of the patentee"),
            OpenApiParameter("min_remaining_years", int),
            OpenApiParameter("payment_method", str, many=True),
            OpenApiParameter("industry", str, description="GB/T 4754 code, e.g. C3841 or C38"),
            OpenApiParameter("max_upfront_cny", str, description="lump sum or entry fee, CNY"),
            OpenApiParameter("max_royalty_rate", str, description="percent"),
            OpenApiParameter("scope", str, enum=["listed", "mine"]),
            OpenApiParameter(
                "sort", str, enum=["relevance", "newest", "remaining_term", "royalty"]
            ),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
            OpenApiParameter(
                "file_format",
                str,
                enum=list(FILE_FORMATS),
                description=f"a download of the first {EXPORT_LIMIT} hits instead of a page",
            ),
        ],
        responses={
            (200, "application/json"): PatentSearchResponseSerializer,
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.BINARY, description="CSV, UTF-8 with a BOM (file_format=csv)"
            ),
            (200, XLSX_TYPE): OpenApiResponse(
                OpenApiTypes.BINARY, description="Excel workbook (file_format=xlsx)"
            ),
            400: ERROR_RESPONSES[400],
        },
        tags=["search"],
    )
    def get(self, request: Request) -> Response | StreamingHttpResponse | FileResponse:
        file_format = request.query_params.get("file_format")
        if file_format is not None and file_format not in FILE_FORMATS:
            raise serializers.ValidationError(
                {
                    "file_format": [
                        serializers.ErrorDetail(str(_("csv or xlsx.")), code="invalid_choice")
                    ]
                }
            )
        query = SearchInputSerializer(
            data={
                key: request.query_params.getlist(key)
                if key in ("ipc", "patent_type", "owner_kind", "payment_method")
                else request.query_params.get(key)
                for key in request.query_params
                if key not in ("limit", "offset", "file_format")
            }
        )
        query.is_valid(raise_exception=True)
        values = dict(query.validated_data)
        scope = values.pop("scope")
        if "industry" in values:
            values["industry"] = values["industry"].code
        if scope == "mine":
            if not request.user.is_authenticated:
                raise NotAuthenticated(_("Log in to search your own patents."))
            base = Patent.objects.of_member(request.user)
        else:
            base = Patent.objects.filter(is_listed=True)
        base = base.select_related("owner")
        # A number in q names one patent: an indexed lookup, not the full-text search.
        lookup = patent_by_number(base=base, text=values.get("q") or "")
        if lookup is not None and lookup.patent is not None:
            result = number_result(lookup)
        else:
            result = search_patents(base, SearchParams(**values, by_meaning=lookup is None))
        hits = as_hits(result.queryset)
        if file_format is not None:
            count = result.count if result.count is not None else EXPORT_LIMIT
            return export_response(
                file_format, hits, result.tokens, count, result.grams, result.gram_ids
            )
        paginator = SearchPagination()
        paginator.known_count = result.count
        # A ranked page slices like a queryset (the paginator only counts and slices it).
        page = paginator.paginate_queryset(hits, request, view=self)  # type: ignore[arg-type]
        attach_hits(page or [], result.tokens, result.grams, result.gram_ids)
        attach_matched(
            page or [],
            mode=result.mode,
            lexical_ids=result.lexical_ids,
            meaning_ids=result.meaning_ids,
        )
        response = paginator.get_paginated_response([hit_data(patent) for patent in page or []])
        # The impressions counter's ids without parsing the rendered body (marketplace/counters.py).
        response.shown_patent_ids = [patent.pk for patent in page or []]  # type: ignore[attr-defined]
        response.data["query"] = {"tokens": result.tokens, "mode": result.mode}
        response.data["facets"] = _label_facets(result.facets)
        response.data["notice"] = None
        if lookup is not None and lookup.patent is None:
            response.data["notice"] = {
                "code": "no_such_patent",
                "detail": _("No patent has the number %(number)s.") % {"number": lookup.value},
            }
        return response


_FACET_LABELS: tuple[dict[str, IpcClass], dict[str, str]] | None = None


def _facet_label_rows() -> tuple[dict[str, IpcClass], dict[str, str]]:
    """IPC sections and province names: fixed reference data, read once per process."""
    global _FACET_LABELS
    if _FACET_LABELS is None:
        sections = {row.symbol: row for row in IpcClass.objects.filter(level="section")}
        provinces = dict(
            Region.objects.filter(code__endswith="0000").values_list("code", "name_zh")
        )
        if not (sections and provinces):  # reference tables not loaded yet: read again
            return sections, provinces
        _FACET_LABELS = sections, provinces
    return _FACET_LABELS


def _label_facets(facets: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    sections, provinces = _facet_label_rows()
    types = dict(PatentType.choices)
    methods = {"free": _("free (royalty 0)"), **dict(PaymentMethodPreference.choices)}
    for item in facets["payment_method"]:
        item["label"] = str(methods.get(item["value"], item["value"]))
    for item in facets["ipc_section"]:
        section = sections.get(item["value"])
        item["label"] = section.localized_title() if section else item["value"]
    for item in facets["region"]:
        item["label"] = provinces.get(item["value"], item["value"])
    for item in facets["patent_type"]:
        item["label"] = str(types.get(item["value"], item["value"]))
    return facets
