"""API views of the licensing app: declarations, the review queue, the public register."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from typing import Any

from django.contrib.postgres.search import SearchQuery
from django.db.models import Prefetch, Q, QuerySet
from django.http import StreamingHttpResponse
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing import permissions
from licensing.api import serializers as s
from licensing.models import Declaration, DeclarationEvent, DeclarationStatus, PaymentMethod
from licensing.querysets import PUBLIC
from licensing.services import declarations as services
from marketplace import roles
from marketplace.api.errors import accepted_values, flatten_errors
from marketplace.api.exports import safe_cell
from marketplace.api.ids import IdFilter
from marketplace.api.pagination import CursorPagination
from marketplace.api.permissions import CommandChecks, request_user
from marketplace.api.views import ERROR_RESPONSES
from marketplace.errors import InvalidInput, NotFound, PermissionDenied
from marketplace.models import Organisation, Patent, PatentCoOwner
from marketplace.patents.ipc import normalise_ipc_prefix
from marketplace.search.segment import title_words_tsquery


class DeclarationFilter(filters.FilterSet):
    # Columns of the declaration itself: no join, nothing to de-duplicate (DISTINCT would sort).
    status = filters.MultipleChoiceFilter(choices=DeclarationStatus.choices, distinct=False)
    patent = IdFilter(field_name="patent_id")
    organisation = IdFilter(field_name="organisation_id")
    flagged = filters.BooleanFilter(method="filter_flagged")

    class Meta:
        model = Declaration
        fields = ["status", "patent", "organisation"]

    def filter_flagged(
        self, queryset: QuerySet[Declaration], name: str, value: bool
    ) -> QuerySet[Declaration]:
        return queryset.exclude(flagged_bars=[]) if value else queryset.filter(flagged_bars=[])


class ReviewQueuePagination(CursorPagination):
    """The queue oldest first: what waits longest is reviewed first."""

    ordering = ("updated_at", "id")  # type: ignore[assignment]


def _with_term_problems(data: s.DeclarationCreateSerializer, request: Request) -> InvalidInput:
    """The serializer's errors and the term rules the accepted fields break, in one 400, so
    a patentee fixes everything in one round."""
    errors = flatten_errors(data.errors)
    fields = {path: [(i["code"], i["message"]) for i in items] for path, items in errors.items()}
    refused = {path.split(".")[0] for path in errors}
    values = accepted_values(data, request.data, refused)
    patent_id = values.pop("patent", None)
    if patent_id is not None:
        problems = services.declaration_terms_problems(
            actor=request_user(request), patent_id=patent_id, terms=values, refused=refused
        )
        for field, code, message in problems:
            fields.setdefault(field, []).append((code, message))
    return InvalidInput(
        "invalid", _("The input is not valid; see the fields for details."), fields=fields
    )


class DeclarationViewSet(CommandChecks, viewsets.ReadOnlyModelViewSet[Declaration]):
    """Declarations: drafts for the patentee, announced ones for all, the queue for reviewers."""

    serializer_class = s.DeclarationSerializer
    filterset_class = DeclarationFilter
    pagination_class = CursorPagination
    command_checks = {
        "partial_update": permissions.check_declaration_patentee,
        "consent": permissions.check_declaration_consent,
        "submit": permissions.check_declaration_patentee,
        "request_withdrawal": permissions.check_declaration_patentee,
        **dict.fromkeys(
            (
                "announce",
                "refuse",
                "approve_withdrawal",
                "refuse_withdrawal",
                "terminate",
                "revoke",
            ),
            permissions.check_declaration_review,
        ),
    }

    def get_permissions(self) -> list[Any]:
        if self.action in ("list", "retrieve", "timeline") and self.request.method == "GET":
            return [AllowAny()]
        return [IsAuthenticated()]

    def get_queryset(self) -> QuerySet[Declaration]:
        return Declaration.objects.visible_to(self.request.user).select_related(
            "patent", "organisation"
        )

    def _respond(self, declaration: Declaration, code: int = status.HTTP_200_OK) -> Response:
        fresh = Declaration.objects.select_related("patent", "organisation").get(pk=declaration.pk)
        return Response(s.DeclarationSerializer(fresh).data, status=code)

    @extend_schema(
        request=s.DeclarationCreateSerializer,
        responses={201: s.DeclarationSerializer, **ERROR_RESPONSES},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Draft a declaration; caps and term rules are checked now, bars at submission."""
        data = s.DeclarationCreateSerializer(data=request.data)
        if not data.is_valid():
            raise _with_term_problems(data, request)
        terms = dict(data.validated_data)
        patent_id = terms.pop("patent")
        declaration = services.declaration_create(
            actor=request_user(request), patent_id=patent_id, terms=terms
        )
        return self._respond(declaration, status.HTTP_201_CREATED)

    @extend_schema(
        request=s.TermsUpdateSerializer, responses={200: s.DeclarationSerializer, **ERROR_RESPONSES}
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        declaration = self.get_object()
        data = s.TermsUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        declaration = services.declaration_update(
            actor=request_user(request),
            declaration_id=declaration.pk,
            terms=dict(data.validated_data),
        )
        return self._respond(declaration)

    @extend_schema(request=None, responses={200: s.ProblemsSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["get"])
    def problems(self, request: Request, pk: str) -> Response:
        """What would refuse a submission now: bars, term rules, missing co-owner consents."""
        declaration = self.get_object()
        # For the patentee and reviewers; for anyone else they do not exist (404).
        if (
            not Declaration.objects.records_visible_to(request.user)
            .filter(pk=declaration.pk)
            .exists()
        ):
            raise NotFound()
        return Response(services.declaration_problems(declaration))

    def _command(self, request: Request, service: Any, *, with_reason: bool = False) -> Response:
        declaration = self.get_object()  # 404, then the command's check (403), then the body
        kwargs: dict[str, Any] = {}
        if with_reason:
            data = s.ReasonSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            kwargs["reason"] = str(data.validated_data["reason"])
        result = service(actor=request_user(request), declaration_id=declaration.pk, **kwargs)
        return self._respond(result)

    @extend_schema(
        request=s.ConsentSerializer, responses={200: s.DeclarationSerializer, **ERROR_RESPONSES}
    )
    @action(detail=True, methods=["post"])
    def consent(self, request: Request, pk: str) -> Response:
        """A co-owner consents to the declaration (draft) or to its withdrawal (announced)."""
        declaration = self.get_object()
        data = s.ConsentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.declaration_consent(
            actor=request_user(request),
            declaration_id=declaration.pk,
            purpose=data.validated_data["purpose"],
        )
        return self._respond(declaration)

    @extend_schema(request=None, responses={200: s.DeclarationSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str) -> Response:
        return self._command(request, services.declaration_submit)

    @extend_schema(request=None, responses={200: s.DeclarationSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"])
    def announce(self, request: Request, pk: str) -> Response:
        return self._command(request, services.declaration_announce)

    @extend_schema(
        request=s.ReasonSerializer, responses={200: s.DeclarationSerializer, **ERROR_RESPONSES}
    )
    @action(detail=True, methods=["post"])
    def refuse(self, request: Request, pk: str) -> Response:
        return self._command(request, services.declaration_refuse, with_reason=True)

    @extend_schema(
        request=s.ReasonSerializer, responses={200: s.DeclarationSerializer, **ERROR_RESPONSES}
    )
    @action(detail=True, methods=["post"], url_path="request-withdrawal")
    def request_withdrawal(self, request: Request, pk: str) -> Response:
        return self._command(request, services.declaration_request_withdrawal, with_reason=True)

    @extend_schema(request=None, responses={200: s.DeclarationSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"], url_path="approve-withdrawal")
    def approve_withdrawal(self, request: Request, pk: str) -> Response:
        return self._command(request, services.declaration_approve_withdrawal)

    @extend_schema(
        request=s.ReasonSerializer, responses={200: s.DeclarationSerializer, **ERROR_RESPONSES}
    )
    @action(detail=True, methods=["post"], url_path="refuse-withdrawal")
    def refuse_withdrawal(self, request: Request, pk: str) -> Response:
        return self._command(request, services.declaration_refuse_withdrawal, with_reason=True)

    @extend_schema(
        request=s.ReasonSerializer, responses={200: s.DeclarationSerializer, **ERROR_RESPONSES}
    )
    @action(detail=True, methods=["post"])
    def terminate(self, request: Request, pk: str) -> Response:
        return self._command(request, services.declaration_terminate, with_reason=True)

    @extend_schema(
        request=s.ReasonSerializer, responses={200: s.DeclarationSerializer, **ERROR_RESPONSES}
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        return self._command(request, services.declaration_revoke, with_reason=True)

    @extend_schema(responses={200: s.DeclarationEventSerializer(many=True), **ERROR_RESPONSES})
    @action(detail=True, methods=["get"])
    def timeline(self, request: Request, pk: str) -> Response:
        """Every step: actor, time, from, to, reason (actors are shown to the parties and staff)."""
        declaration = self.get_object()
        events = DeclarationEvent.objects.filter(declaration=declaration).select_related("actor")
        data: list[Any] = list(s.DeclarationEventSerializer(events, many=True).data)
        is_party = (
            Organisation.objects.private_visible_to(request.user)
            .filter(pk=declaration.organisation_id)
            .exists()
        )
        if not is_party:
            data = [{**item, "actor": None} for item in data]
        return Response(data)

    @extend_schema(responses={200: s.DeclarationSerializer(many=True), **ERROR_RESPONSES})
    @action(detail=False, methods=["get"], url_path="review-queue")
    def review_queue(self, request: Request) -> Response:
        """The reviewers' work: submitted declarations, withdrawal requests, flagged ones."""
        if not roles.is_reviewer(request.user):
            raise PermissionDenied("reviewer_required", _("Only a reviewer can do this."))
        queue = Declaration.objects.filter(
            Q(status__in=[DeclarationStatus.SUBMITTED, DeclarationStatus.WITHDRAWAL_REQUESTED])
            | (Q(status=DeclarationStatus.ANNOUNCED) & ~Q(flagged_bars=[]))
        ).select_related("patent", "organisation")
        paginator = ReviewQueuePagination()
        page = paginator.paginate_queryset(queue, request, view=self)
        return paginator.get_paginated_response(s.DeclarationSerializer(page, many=True).data)


# ---- public register -----------------------------------------------------------------------


DECLARATION_NUMBER_RE = re.compile(r"OL[0-9]{11}")
# An application number or its beginning: at least the filing year's four digits.
APPLICATION_NUMBER_RE = re.compile(r"[0-9]{4,12}(\.[0-9X]?)?")


class RegisterFilter(filters.FilterSet):
    q = filters.CharFilter(
        method="filter_q",
        max_length=100,
        label=_(
            "A declaration number (OL…), an application or patent number or its beginning "
            "(ZL/CN prefix and spaces allowed), or words of the patent's title"
        ),
    )
    # Columns of the declaration itself: no join, nothing to de-duplicate (DISTINCT would sort).
    status = filters.MultipleChoiceFilter(
        choices=[(value, label) for value, label in DeclarationStatus.choices if value in PUBLIC],
        distinct=False,
    )
    payment_method = filters.MultipleChoiceFilter(choices=PaymentMethod.choices, distinct=False)
    ipc = filters.CharFilter(method="filter_ipc", max_length=20)
    patentee = filters.CharFilter(
        field_name="organisation__name", lookup_expr="icontains", max_length=100
    )
    effective_from = filters.DateFilter(field_name="effective_date", lookup_expr="gte")
    effective_to = filters.DateFilter(field_name="effective_date", lookup_expr="lte")

    class Meta:
        model = Declaration
        fields = ["status", "payment_method"]

    def filter_q(
        self, queryset: QuerySet[Declaration], name: str, value: str
    ) -> QuerySet[Declaration]:
        """By the input's shape, so that a number is found through an index: an OR of the
        three across the join walked the whole register for a number (5.3 s at 1,000,000)."""
        text = value.strip()
        compact = re.sub(r"\s+", "", text).upper()
        if DECLARATION_NUMBER_RE.fullmatch(compact):
            return queryset.filter(number=compact)  # declaration_number_unique
        number = compact.removeprefix("ZL").removeprefix("CN")
        if APPLICATION_NUMBER_RE.fullmatch(number):
            # The number's beginning (ZL2021100000016 or 202110000001.6, whole or in part):
            # the patents' application-number index serves a LIKE 'prefix%'.
            return queryset.filter(patent__application_number__startswith=number)
        # Title words: narrowed through the patents' word index (the title's words), then the
        # title itself is checked, so the answer is what the words' substring match gave.
        words = title_words_tsquery(text)
        if words:
            queryset = queryset.filter(
                patent__search_vector=SearchQuery(words, config="simple", search_type="raw")
            )
        return queryset.filter(patent__title__icontains=text)

    def filter_ipc(
        self, queryset: QuerySet[Declaration], name: str, value: str
    ) -> QuerySet[Declaration]:
        prefix = normalise_ipc_prefix(value)
        if prefix is None:
            raise serializers.ValidationError({"ipc": [_("Not an IPC symbol or prefix.")]})
        # The declaration's own copy of the patent's prefixes (licensing 0021): its GIN index
        # serves a rare prefix, and no patent is read per declaration walked.
        return queryset.filter(ipc_prefixes__contains=[prefix])


def register_queryset() -> QuerySet[Declaration]:
    return (
        Declaration.objects.public()
        .select_related("patent", "organisation")
        .prefetch_related(
            Prefetch(
                "patent__co_ownerships",
                PatentCoOwner.objects.select_related("organisation"),
            )
        )
    )


class RegisterCursorPagination(CursorPagination):
    ordering = ("-effective_date", "-id")  # type: ignore[assignment]


class RegisterViewSet(viewsets.ReadOnlyModelViewSet[Declaration]):
    """The public register of open-license declarations: free to search and download."""

    permission_classes = [AllowAny]
    serializer_class = s.RegisterEntrySerializer
    filterset_class = RegisterFilter
    pagination_class = RegisterCursorPagination
    lookup_field = "number"
    lookup_value_regex = "OL[0-9]{11}"

    def get_queryset(self) -> QuerySet[Declaration]:
        return register_queryset()


class _Echo:
    def write(self, value: str) -> str:
        return value


class RegisterExportView(APIView):
    """The whole register (or a filtered part) as streamed CSV or JSON: open data."""

    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("file_format", str, enum=["csv", "json"])],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="CSV"),
            (200, "application/json"): OpenApiResponse(
                s.RegisterEntrySerializer(many=True), description="JSON (file_format=json)"
            ),
        },
        tags=["register"],
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        file_format = request.query_params.get("file_format", "csv")
        if file_format not in ("csv", "json"):
            raise serializers.ValidationError(
                {
                    "file_format": [
                        serializers.ErrorDetail(str(_("csv or json.")), code="invalid_choice")
                    ]
                }
            )
        params = request.query_params.copy()
        params.pop("file_format", None)
        filterset = RegisterFilter(params, queryset=register_queryset(), request=request)
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        queryset = filterset.qs.order_by("-effective_date", "-id")
        fields = s.RegisterEntrySerializer.Meta.fields

        def rows() -> Iterator[dict[str, Any]]:
            for declaration in queryset.iterator(chunk_size=2000):
                yield dict(s.RegisterEntrySerializer(declaration).data)

        if file_format == "json":

            def json_stream() -> Iterator[str]:
                yield "["
                for index, row in enumerate(rows()):
                    yield ("," if index else "") + json.dumps(row, ensure_ascii=False, default=str)
                yield "]"

            response = StreamingHttpResponse(json_stream(), content_type="application/json")
            response["Content-Disposition"] = 'attachment; filename="open-license-register.json"'
            return response

        writer = csv.writer(_Echo())

        def csv_stream() -> Iterator[str]:
            yield "\ufeff" + writer.writerow(fields)
            for row in rows():
                yield writer.writerow(
                    [
                        safe_cell("; ".join(row[f]) if isinstance(row[f], list) else row[f])
                        for f in fields
                    ]
                )

        response = StreamingHttpResponse(csv_stream(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="open-license-register.csv"'
        return response


class PatentDeclarationsView(APIView):
    """A patent's declaration history, oldest first (what the caller may see of it)."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: s.DeclarationSerializer(many=True), 404: ERROR_RESPONSES[404]})
    def get(self, request: Request, patent_id: int) -> Response:
        patent = Patent.objects.visible_to(request.user).filter(pk=patent_id).first()
        declarations = Declaration.objects.visible_to(request.user).filter(patent_id=patent_id)
        if patent is None and not declarations.exists():
            raise NotFound()
        return Response(
            s.DeclarationSerializer(
                declarations.select_related("patent", "organisation").order_by("created_at", "id"),
                many=True,
            ).data
        )
