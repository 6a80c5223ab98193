"""API for licenses: accept (with Idempotency-Key), pay, contest, file, royalties, ledgers."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing import permissions
from licensing.api.renderers import PdfRenderer
from licensing.api.serializers import OptionalReasonSerializer, ReasonSerializer
from licensing.documents import license_document
from licensing.ledger import license_ledger, organisation_ledger
from licensing.models import (
    IdempotencyRecord,
    License,
    LicenseEvent,
    LicenseFiling,
    LicensePayment,
    RoyaltyReport,
)
from licensing.services import licenses as services
from marketplace.api.ids import ID_REGEX, path_id
from marketplace.api.pagination import CursorPagination
from marketplace.api.permissions import CommandChecks, request_user
from marketplace.api.serializers import StrictInputSerializer
from marketplace.api.views import ERROR_RESPONSES
from marketplace.errors import Conflict, NotFound
from marketplace.models import Organisation


class PaymentSerializer(serializers.ModelSerializer[LicensePayment]):
    class Meta:
        model = LicensePayment
        fields = [
            "id",
            "kind",
            "amount_cny",
            "reference",
            "proof",
            "paid_on",
            "status",
            "contest_reason",
            "royalty_report",
        ]


class FilingSerializer(serializers.ModelSerializer[LicenseFiling]):
    class Meta:
        model = LicenseFiling
        fields = [
            "id",
            "filed_on",
            "status",
            "reviewer_note",
            "notice_attached",
            "payment_proof_attached",
        ]


class RoyaltyReportSerializer(serializers.ModelSerializer[RoyaltyReport]):
    class Meta:
        model = RoyaltyReport
        fields = [
            "id",
            "period_start",
            "period_end",
            "basis_amount_cny",
            "amount_due_cny",
            "due_date",
        ]


class LicenseSerializer(serializers.ModelSerializer[License]):
    payments = PaymentSerializer(many=True, read_only=True)
    filings = FilingSerializer(many=True, read_only=True)
    filing_deadline = serializers.SerializerMethodField()

    class Meta:
        model = License
        fields = [
            "id",
            "declaration",
            "patent",
            "licensor",
            "licensee",
            "is_open_license",
            "status",
            "notice_text",
            "notice_sent_at",
            "notice_delivered_at",
            "terms",
            "due_at_acceptance_cny",
            "effective_date",
            "term_end",
            "filing_deadline",
            "payments",
            "filings",
            "created_at",
        ]

    def get_filing_deadline(self, license: License) -> str | None:
        deadline = services.filing_deadline(license)
        return deadline.isoformat() if deadline and license.is_open_license else None


class PaymentInputSerializer(StrictInputSerializer):
    amount_cny = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0.01")
    )
    reference = serializers.CharField(max_length=100)
    proof = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    paid_on = serializers.DateField()


class AcceptSerializer(StrictInputSerializer):
    declaration = serializers.IntegerField(min_value=1)
    licensee = serializers.IntegerField(min_value=1)
    notice_text = serializers.CharField(
        max_length=5000,
        required=False,
        default="",
        help_text=_(
            "The written notice to the patentee; left out, the platform sends the standard "
            "notice of Patent Law Art. 51(1) in your language."
        ),
    )
    payment = PaymentInputSerializer(required=False)


class DueSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=["upfront", "royalty", "minimum_shortfall", "mediation"])
    description = serializers.CharField()
    amount_cny = serializers.DecimalField(max_digits=14, decimal_places=2)
    due_date = serializers.DateField()
    paid_cny = serializers.DecimalField(max_digits=14, decimal_places=2)
    outstanding_cny = serializers.DecimalField(max_digits=14, decimal_places=2)
    state = serializers.ChoiceField(choices=["paid", "open", "overdue"])
    report = serializers.IntegerField(allow_null=True)


class TotalsSerializer(serializers.Serializer[Any]):
    due_cny = serializers.DecimalField(max_digits=16, decimal_places=2)
    paid_cny = serializers.DecimalField(max_digits=16, decimal_places=2)
    overdue_cny = serializers.DecimalField(max_digits=16, decimal_places=2)
    balance_cny = serializers.DecimalField(max_digits=16, decimal_places=2, required=False)


class LedgerSerializer(serializers.Serializer[Any]):
    license = serializers.IntegerField()
    dues = DueSerializer(many=True)
    unallocated_cny = serializers.DecimalField(max_digits=14, decimal_places=2)
    totals = TotalsSerializer()


class OrganisationLedgerSerializer(serializers.Serializer[Any]):
    organisation = serializers.IntegerField()
    totals = serializers.DictField(child=TotalsSerializer())
    licenses = serializers.ListField(child=serializers.DictField())


class LicenseEventSerializer(serializers.ModelSerializer[LicenseEvent]):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = LicenseEvent
        fields = ["id", "verb", "from_status", "to_status", "actor", "reason", "data", "created_at"]

    def get_actor(self, event: LicenseEvent) -> str | None:
        return event.actor.email if event.actor else None


class FileSerializer(StrictInputSerializer):
    filed_on = serializers.DateField()


class DecisionSerializer(StrictInputSerializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ReportSerializer(StrictInputSerializer):
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    basis_amount_cny = serializers.DecimalField(max_digits=16, decimal_places=2, min_value=0)


class RoyaltyPaymentSerializer(PaymentInputSerializer):
    report = serializers.IntegerField(min_value=1, required=False)


class OrdinarySerializer(StrictInputSerializer):
    patent = serializers.IntegerField(min_value=1)
    licensee = serializers.IntegerField(min_value=1)
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


def _lock_idempotency_key(user_id: int, key: str) -> None:
    """Hold a transaction-level advisory lock on (user, Idempotency-Key) until commit."""
    digest = hashlib.sha256(f"idempotency:{user_id}:{key}".encode()).digest()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)]
        )


def _request_hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


class LicenseViewSet(CommandChecks, viewsets.ReadOnlyModelViewSet[License]):
    """Licenses the caller is party to (licensee or patentee), all of them for platform staff."""

    serializer_class = LicenseSerializer
    pagination_class = CursorPagination
    permission_classes = [IsAuthenticated]
    filterset_fields = ["status", "declaration", "patent", "licensee", "licensor"]
    command_checks = {
        "pay": permissions.check_license_pay_upfront,
        "contest": permissions.check_license_contest_payment,
        "withdraw_contest": permissions.check_license_withdraw_contest,
        "filings": permissions.check_license_file,
        "decide_filing": permissions.check_filing_decide,
        "royalty_reports": permissions.check_royalty_report,
        "royalty_payments": permissions.check_royalty_pay,
    }

    def get_queryset(self) -> QuerySet[License]:
        if getattr(self, "swagger_fake_view", False):
            return License.objects.none()
        return License.objects.visible_to(self.request.user).prefetch_related("payments", "filings")

    def _respond(self, license: License, code: int = status.HTTP_200_OK) -> Response:
        fresh = License.objects.prefetch_related("payments", "filings").get(pk=license.pk)
        return Response(LicenseSerializer(fresh).data, status=code)

    @extend_schema(
        request=AcceptSerializer,
        responses={201: LicenseSerializer, **ERROR_RESPONSES},
        parameters=[OpenApiParameter("Idempotency-Key", str, location=OpenApiParameter.HEADER)],
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Accept a declaration: written notice (and the payment due at acceptance).

        Send an Idempotency-Key header to make retries safe: a repeated request with the same
        key returns the first answer; the same key with a different body is a 409.
        """
        data = AcceptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = request_user(request)
        key = (request.headers.get("Idempotency-Key") or "").strip()[:100]
        digest = _request_hash(data.validated_data)
        values = data.validated_data
        try:
            with transaction.atomic():
                if key:
                    # Same-key requests run one after the other: the second waits here for the
                    # first to commit, then replays its answer instead of meeting the first's
                    # license on the unique index (a 409 `license_exists` a retry must not get).
                    _lock_idempotency_key(user.pk, key)
                    previous = IdempotencyRecord.objects.filter(user=user, key=key).first()
                    if previous is not None:
                        return self._replay(previous, digest)
                license = services.license_accept(
                    actor=user,
                    declaration_id=values["declaration"],
                    licensee_id=values["licensee"],
                    notice_text=values["notice_text"],
                    payment=dict(values["payment"]) if "payment" in values else None,
                )
                body = LicenseSerializer(license).data
                if key:
                    IdempotencyRecord.objects.create(
                        user=user,
                        key=key,
                        request_hash=digest,
                        status_code=201,
                        body=json.loads(json.dumps(body, default=str)),
                    )
        except IntegrityError:
            # Kept for safety: should the lock ever be bypassed, answer as the other one did.
            previous = IdempotencyRecord.objects.filter(user=user, key=key).first() if key else None
            if previous is None:
                raise
            return self._replay(previous, digest)
        return Response(body, status=status.HTTP_201_CREATED)

    def _replay(self, previous: IdempotencyRecord, digest: str) -> Response:
        if previous.request_hash != digest:
            raise Conflict(
                "idempotency_key_reused",
                _("This Idempotency-Key was used for a different request."),
            )
        response = Response(previous.body, status=previous.status_code)
        response["Idempotent-Replay"] = "true"
        return response

    @extend_schema(
        request=PaymentInputSerializer, responses={200: LicenseSerializer, **ERROR_RESPONSES}
    )
    @action(detail=True, methods=["post"])
    def pay(self, request: Request, pk: str) -> Response:
        """Record the payment due at acceptance; the license takes effect."""
        license = self.get_object()
        data = PaymentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._respond(
            services.license_pay_upfront(
                actor=request_user(request),
                license_id=license.pk,
                payment=dict(data.validated_data),
            )
        )

    @extend_schema(request=ReasonSerializer, responses={200: LicenseSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"], url_path=rf"payments/(?P<payment_id>{ID_REGEX})/contest")
    def contest(self, request: Request, pk: str, payment_id: str) -> Response:
        """The patentee contests a payment it did not receive."""
        license = self.get_object()
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._respond(
            services.license_contest_payment(
                actor=request_user(request),
                license_id=license.pk,
                payment_id=path_id(payment_id),
                reason=data.validated_data["reason"],
            )
        )

    @extend_schema(
        request=OptionalReasonSerializer, responses={200: LicenseSerializer, **ERROR_RESPONSES}
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=rf"payments/(?P<payment_id>{ID_REGEX})/withdraw-contest",
    )
    def withdraw_contest(self, request: Request, pk: str, payment_id: str) -> Response:
        """The patentee withdraws its contest: the payment arrived after all. It counts again,
        and a license its contest had suspended is effective again."""
        license = self.get_object()
        data = OptionalReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._respond(
            services.license_resolve_contest(
                actor=request_user(request),
                license_id=license.pk,
                payment_id=path_id(payment_id),
                received=True,
                reason=data.validated_data["reason"],
            )
        )

    @extend_schema(request=FileSerializer, responses={201: FilingSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"])
    def filings(self, request: Request, pk: str) -> Response:
        """File the license (备案) within 3 months of its effective date."""
        license = self.get_object()
        data = FileSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        filing = services.license_file(
            actor=request_user(request),
            license_id=license.pk,
            filed_on=data.validated_data["filed_on"],
        )
        return Response(FilingSerializer(filing).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="licenses_filing_decide",
        request=DecisionSerializer,
        responses={200: FilingSerializer, **ERROR_RESPONSES},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=rf"filings/(?P<filing_id>{ID_REGEX})/(?P<decision>accept|return)",
    )
    def decide_filing(self, request: Request, pk: str, filing_id: str, decision: str) -> Response:
        """A reviewer accepts a filing or returns it with a note."""
        self.get_object()
        data = DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        filing = services.filing_decide(
            actor=request_user(request),
            filing_id=path_id(filing_id),
            accept=decision == "accept",
            note=data.validated_data["note"],
        )
        return Response(FilingSerializer(filing).data)

    @extend_schema(
        request=ReportSerializer, responses={201: RoyaltyReportSerializer, **ERROR_RESPONSES}
    )
    @action(detail=True, methods=["post"], url_path="royalty-reports")
    def royalty_reports(self, request: Request, pk: str) -> Response:
        """The licensee reports net sales or profit for a period."""
        license = self.get_object()
        data = ReportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.royalty_report(
            actor=request_user(request),
            license_id=license.pk,
            period_start=data.validated_data["period_start"],
            period_end=data.validated_data["period_end"],
            basis_amount=data.validated_data["basis_amount_cny"],
        )
        return Response(RoyaltyReportSerializer(report).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=RoyaltyPaymentSerializer, responses={201: PaymentSerializer, **ERROR_RESPONSES}
    )
    @action(detail=True, methods=["post"], url_path="royalty-payments")
    def royalty_payments(self, request: Request, pk: str) -> Response:
        license = self.get_object()
        data = RoyaltyPaymentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        payment = services.royalty_pay(
            actor=request_user(request),
            license_id=license.pk,
            report_id=values.pop("report", None),
            **values,
        )
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: LedgerSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["get"])
    def ledger(self, request: Request, pk: str) -> Response:
        """Dues, payments and what is overdue on this license."""
        license = self.get_object()
        today = timezone.localdate()
        ledger = license_ledger(license, today)
        return Response(
            {
                "license": license.pk,
                "dues": [due.as_dict(today) for due in ledger.dues],
                "unallocated_cny": str(ledger.unallocated),
                "totals": ledger.totals(today),
            }
        )

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiResponse(
                response=OpenApiTypes.BINARY,
                description="The contract PDF (Chinese, then English); ETag is its SHA-256.",
            ),
            304: OpenApiResponse(description="Unchanged since the ETag in If-None-Match."),
            **ERROR_RESPONSES,
        },
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, PdfRenderer])
    def document(self, request: Request, pk: str) -> HttpResponse:
        """The license contract both parties sign and file: a PDF made from the terms snapshot."""
        license = self.get_object()
        document = license_document(
            License.objects.select_related("patent", "licensor", "licensee").get(pk=license.pk)
        )
        etag = f'"{document.sha256}"'
        if request.headers.get("If-None-Match") == etag:
            response = HttpResponse(status=status.HTTP_304_NOT_MODIFIED)
        else:
            response = HttpResponse(document.content, content_type="application/pdf")
            response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
        return response

    @extend_schema(responses={200: LicenseEventSerializer(many=True), **ERROR_RESPONSES})
    @action(detail=True, methods=["get"])
    def timeline(self, request: Request, pk: str) -> Response:
        license = self.get_object()
        events = LicenseEvent.objects.filter(license=license).select_related("actor")
        return Response(LicenseEventSerializer(events, many=True).data)


class OrdinaryLicenseView(APIView):
    """Record an ordinary license negotiated outside a declaration (no fee reduction)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=OrdinarySerializer, responses={201: LicenseSerializer, **ERROR_RESPONSES}
    )
    def post(self, request: Request) -> Response:
        data = OrdinarySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        license = services.license_record_ordinary(
            actor=request_user(request),
            patent_id=values["patent"],
            licensee_id=values["licensee"],
            starts_on=values["starts_on"],
            ends_on=values["ends_on"],
            notes=values["notes"],
        )
        return Response(LicenseSerializer(license).data, status=status.HTTP_201_CREATED)


class OrganisationLedgerView(APIView):
    """An organisation's royalty totals as licensee and as patentee (its members, staff)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: OrganisationLedgerSerializer, 404: ERROR_RESPONSES[404]})
    def get(self, request: Request, organisation_id: int) -> Response:
        visible = Organisation.objects.private_visible_to(request.user)
        if not visible.filter(pk=organisation_id).exists():
            raise NotFound()
        return Response(organisation_ledger(organisation_id, timezone.localdate()))
