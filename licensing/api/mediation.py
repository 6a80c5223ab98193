"""API for mediation: parties apply, file evidence, answer, ask for recusal, accept the
agreement; the mediator's commands are here too (the admin panel calls the same services)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from licensing import permissions
from licensing.api.serializers import OptionalReasonSerializer
from licensing.models import (
    CaseAgent,
    CaseCause,
    CaseEvidence,
    MediationAgreement,
    MediationCase,
    MediationEvent,
)
from licensing.services import mediation as services
from licensing.services.mediation import EVIDENCE_CONTENT_TYPES
from marketplace.api.ids import ID_REGEX, path_id
from marketplace.api.pagination import CursorPagination
from marketplace.api.parsers import LimitedJSONParser
from marketplace.api.permissions import CommandChecks, request_user
from marketplace.api.serializers import StrictInputSerializer
from marketplace.api.views import ERROR_RESPONSES
from marketplace.errors import NotFound


class EvidenceSerializer(serializers.ModelSerializer[CaseEvidence]):
    class Meta:
        model = CaseEvidence
        fields = [
            "id",
            "organisation",
            "original_name",
            "content_type",
            "size",
            "sha256",
            "description",
            "uploaded_at",
        ]


class AgreementSerializer(serializers.ModelSerializer[MediationAgreement]):
    obligations = serializers.SerializerMethodField()

    class Meta:
        model = MediationAgreement
        fields = [
            "text",
            "is_notarised",
            "applicant_accepted_at",
            "respondent_accepted_at",
            "obligations",
        ]

    def get_obligations(self, agreement: MediationAgreement) -> list[dict[str, Any]]:
        return [
            {
                "payer": o.payer_id,
                "payee": o.payee_id,
                "amount_cny": str(o.amount_cny),
                "due_date": o.due_date.isoformat(),
                "description": o.description,
            }
            for o in agreement.obligations.all()
        ]


class CaseAgentSerializer(serializers.ModelSerializer[CaseAgent]):
    class Meta:
        model = CaseAgent
        fields = ["id", "name", "power_of_attorney"]


class PartyAgentsSerializer(serializers.Serializer[Any]):
    """Each party's agents with power of attorney (at most two each)."""

    applicant = CaseAgentSerializer(many=True)
    respondent = CaseAgentSerializer(many=True)


class CaseSerializer(serializers.ModelSerializer[MediationCase]):
    evidence = EvidenceSerializer(many=True, read_only=True)
    agents = serializers.SerializerMethodField()
    mediator = serializers.SerializerMethodField()
    agreement = serializers.SerializerMethodField()

    class Meta:
        model = MediationCase
        fields = [
            "id",
            "number",
            "status",
            "applicant",
            "respondent",
            "declaration",
            "license",
            "cause",
            "summary",
            "matters",
            "mediator",
            "mediator_named_on",
            "deadline",
            "deadline_kind",
            "deadline_provisional",
            "is_paused",
            "session_at",
            "session_place",
            "agents",
            "evidence",
            "agreement",
            "created_at",
        ]

    @extend_schema_field(PartyAgentsSerializer)
    def get_agents(self, case: MediationCase) -> dict[str, Any]:
        agents = sorted(case.agents.all(), key=lambda agent: agent.pk)  # prefetched
        return {
            side: CaseAgentSerializer(
                [agent for agent in agents if agent.organisation_id == organisation_id], many=True
            ).data
            for side, organisation_id in (
                ("applicant", case.applicant_id),
                ("respondent", case.respondent_id),
            )
        }

    def get_mediator(self, case: MediationCase) -> str | None:
        return case.mediator.get_full_name() if case.mediator else None

    def get_agreement(self, case: MediationCase) -> dict[str, Any] | None:
        agreement = getattr(case, "agreement", None)
        return dict(AgreementSerializer(agreement).data) if agreement else None


class AgentSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100)
    power_of_attorney = serializers.CharField(max_length=200)


class ApplySerializer(StrictInputSerializer):
    applicant = serializers.IntegerField(min_value=1)
    respondent = serializers.IntegerField(min_value=1)
    declaration = serializers.IntegerField(min_value=1)
    license = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    cause = serializers.ChoiceField(choices=CaseCause.choices)
    summary = serializers.CharField(max_length=2000)
    matters = serializers.CharField(max_length=2000)
    agents = AgentSerializer(many=True, required=False)


class RespondSerializer(StrictInputSerializer):
    agree = serializers.BooleanField()
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    agents = AgentSerializer(many=True, required=False)


class NameAgentsSerializer(StrictInputSerializer):
    agents = AgentSerializer(many=True, allow_empty=False)


class ReasonsSerializer(StrictInputSerializer):
    reasons = serializers.CharField(max_length=2000)


class EvidenceUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField()
    description = serializers.CharField(
        max_length=300, required=False, allow_blank=True, default=""
    )


class AssignSerializer(StrictInputSerializer):
    mediator = serializers.IntegerField(min_value=1)


class AcceptCaseSerializer(StrictInputSerializer):
    session_at = serializers.DateTimeField()
    place = serializers.CharField(max_length=200)


class SessionSerializer(StrictInputSerializer):
    held_at = serializers.DateTimeField()
    place = serializers.CharField(max_length=200)
    applicant_present = serializers.BooleanField()
    respondent_present = serializers.BooleanField()
    absence_excused = serializers.BooleanField(default=False)
    notes = serializers.CharField(max_length=5000)


class ObligationSerializer(StrictInputSerializer):
    payer = serializers.IntegerField(min_value=1)
    amount_cny = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=1)
    due_date = serializers.DateField()
    description = serializers.CharField(max_length=300)


class AgreementInputSerializer(StrictInputSerializer):
    text = serializers.CharField(max_length=10_000)
    is_notarised = serializers.BooleanField(default=False)
    signed_by_both = serializers.BooleanField(default=False)
    obligations = ObligationSerializer(many=True, required=False)


class RecusalDecisionSerializer(StrictInputSerializer):
    grant = serializers.BooleanField()
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class EventSerializer(serializers.ModelSerializer[MediationEvent]):
    actor = serializers.SerializerMethodField()
    reason = serializers.SerializerMethodField()

    class Meta:
        model = MediationEvent
        fields = ["id", "verb", "from_status", "to_status", "actor", "reason", "data", "created_at"]

    def get_actor(self, event: MediationEvent) -> str | None:
        return event.actor.get_full_name() if event.actor else None

    def get_reason(self, event: MediationEvent) -> str:
        # The platform's own reasons are catalogue entries; a person's words come back as typed.
        return gettext(event.reason) if event.reason else ""


class MediationCaseViewSet(CommandChecks, viewsets.ReadOnlyModelViewSet[MediationCase]):
    """Cases the caller is a party to, mediates, or supervises."""

    serializer_class = CaseSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = CursorPagination
    parser_classes = [LimitedJSONParser, MultiPartParser]
    filterset_fields = ["status"]
    command_checks = {
        "evidence": permissions.check_case_add_evidence,
        "respond": permissions.check_case_respond,
        "agents": permissions.check_case_name_agents,
        "revoke_agent": permissions.check_case_name_agents,
        "recusal": permissions.check_case_request_recusal,
        "recusal_decision": permissions.check_case_decide_recusal,
        "withdraw": permissions.check_case_withdraw,
        "accept_agreement": permissions.check_case_accept_agreement,
        "assign": permissions.check_case_assign,
        **dict.fromkeys(
            ("send_notice", "accept", "sessions", "agreement", "close"),
            permissions.check_case_mediator,
        ),
    }

    def get_queryset(self) -> QuerySet[MediationCase]:
        if getattr(self, "swagger_fake_view", False):
            return MediationCase.objects.none()
        return (
            MediationCase.objects.visible_to(request_user(self.request))
            .select_related("mediator", "agreement")
            .prefetch_related("agents", "evidence", "agreement__obligations")
        )

    def _respond(self, case: MediationCase, code: int = status.HTTP_200_OK) -> Response:
        return Response(CaseSerializer(self.get_queryset().get(pk=case.pk)).data, status=code)

    def _data(self, serializer_class: type[serializers.Serializer[Any]], request: Request) -> Any:
        data = serializer_class(data=request.data)
        data.is_valid(raise_exception=True)
        return data.validated_data

    @extend_schema(request=ApplySerializer, responses={201: CaseSerializer, **ERROR_RESPONSES})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Apply for mediation, naming the other party and the declaration or license."""
        values = self._data(ApplySerializer, request)
        case = services.case_apply(
            actor=request_user(request),
            applicant_id=values["applicant"],
            respondent_id=values["respondent"],
            declaration_id=values["declaration"],
            license_id=values.get("license"),
            cause=values["cause"],
            summary=values["summary"],
            matters=values["matters"],
            agents=[services.AgentInput(**agent) for agent in values.get("agents", [])],
        )
        return self._respond(case, status.HTTP_201_CREATED)

    @extend_schema(
        request={"multipart/form-data": EvidenceUploadSerializer},
        responses={201: EvidenceSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def evidence(self, request: Request, pk: str) -> Response:
        case = self.get_object()
        values = self._data(EvidenceUploadSerializer, request)
        upload = values["file"]
        evidence = services.case_add_evidence(
            actor=request_user(request),
            case_id=case.pk,
            upload=upload,
            name=upload.name or "file",
            size=upload.size or 0,
            description=values["description"],
        )
        return Response(EvidenceSerializer(evidence).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={
            (200, content_type): OpenApiResponse(bytes, description="the file as uploaded")
            for content_type in sorted(set(EVIDENCE_CONTENT_TYPES.values()))
        }
    )
    @action(
        detail=True, methods=["get"], url_path=rf"evidence/(?P<evidence_id>{ID_REGEX})/download"
    )
    def download(self, request: Request, pk: str, evidence_id: str) -> FileResponse:
        """Only the parties, the case's mediator and supervisors can download evidence."""
        case = self.get_object()
        evidence = CaseEvidence.objects.filter(pk=path_id(evidence_id), case=case).first()
        if evidence is None:
            raise NotFound()
        response = FileResponse(
            evidence.file.open("rb"),
            as_attachment=True,
            filename=evidence.original_name,
            content_type=evidence.content_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @extend_schema(request=RespondSerializer, responses={200: CaseSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"])
    def respond(self, request: Request, pk: str) -> Response:
        case = self.get_object()
        values = self._data(RespondSerializer, request)
        return self._respond(
            services.case_respond(
                actor=request_user(request),
                case_id=case.pk,
                agree=values["agree"],
                reason=values["reason"],
                agents=[services.AgentInput(**agent) for agent in values.get("agents", [])],
            )
        )

    @extend_schema(request=NameAgentsSerializer, responses={200: CaseSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"])
    def agents(self, request: Request, pk: str) -> Response:
        """A party names agents with power of attorney for its own side (at most two)."""
        case = self.get_object()
        values = self._data(NameAgentsSerializer, request)
        return self._respond(
            services.case_name_agents(
                actor=request_user(request),
                case_id=case.pk,
                agents=[services.AgentInput(**agent) for agent in values["agents"]],
            )
        )

    @extend_schema(request=None, responses={200: CaseSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"], url_path=rf"agents/(?P<agent_id>{ID_REGEX})/revoke")
    def revoke_agent(self, request: Request, pk: str, agent_id: str) -> Response:
        """A party revokes one of its own agents' power of attorney (to name another)."""
        case = self.get_object()
        return self._respond(
            services.case_revoke_agent(
                actor=request_user(request), case_id=case.pk, agent_id=path_id(agent_id)
            )
        )

    @extend_schema(request=ReasonsSerializer, responses={200: CaseSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"])
    def recusal(self, request: Request, pk: str) -> Response:
        case = self.get_object()
        values = self._data(ReasonsSerializer, request)
        services.case_request_recusal(
            actor=request_user(request), case_id=case.pk, reasons=values["reasons"]
        )
        return self._respond(case)

    @extend_schema(
        request=RecusalDecisionSerializer, responses={200: CaseSerializer, **ERROR_RESPONSES}
    )
    @action(detail=True, methods=["post"], url_path="recusal-decision")
    def recusal_decision(self, request: Request, pk: str) -> Response:
        case = self.get_object()
        values = self._data(RecusalDecisionSerializer, request)
        return self._respond(
            services.case_decide_recusal(
                actor=request_user(request),
                case_id=case.pk,
                grant=values["grant"],
                reason=values["reason"],
            )
        )

    @extend_schema(
        request=OptionalReasonSerializer, responses={200: CaseSerializer, **ERROR_RESPONSES}
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str) -> Response:
        case = self.get_object()
        values = self._data(OptionalReasonSerializer, request)
        return self._respond(
            services.case_withdraw(
                actor=request_user(request), case_id=case.pk, reason=values["reason"]
            )
        )

    @extend_schema(request=None, responses={200: CaseSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"], url_path="accept-agreement")
    def accept_agreement(self, request: Request, pk: str) -> Response:
        return self._respond(
            services.case_accept_agreement(
                actor=request_user(request), case_id=self.get_object().pk
            )
        )

    @extend_schema(responses={200: EventSerializer(many=True), **ERROR_RESPONSES})
    @action(detail=True, methods=["get"])
    def timeline(self, request: Request, pk: str) -> Response:
        case = self.get_object()
        events = MediationEvent.objects.filter(case=case).select_related("actor")
        return Response(EventSerializer(events, many=True).data)

    # ---- the mediator's and supervisor's commands -----------------------------------------

    @extend_schema(request=AssignSerializer, responses={200: CaseSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str) -> Response:
        case = self.get_object()
        values = self._data(AssignSerializer, request)
        return self._respond(
            services.case_assign(
                actor=request_user(request),
                case_id=case.pk,
                mediator_id=values["mediator"],
            )
        )

    @extend_schema(request=None, responses={200: CaseSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"], url_path="send-notice")
    def send_notice(self, request: Request, pk: str) -> Response:
        return self._respond(
            services.case_send_notice(actor=request_user(request), case_id=self.get_object().pk)
        )

    @extend_schema(request=AcceptCaseSerializer, responses={200: CaseSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str) -> Response:
        case = self.get_object()
        values = self._data(AcceptCaseSerializer, request)
        return self._respond(
            services.case_accept(
                actor=request_user(request),
                case_id=case.pk,
                session_at=values["session_at"],
                place=values["place"],
            )
        )

    @extend_schema(request=SessionSerializer, responses={200: CaseSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"])
    def sessions(self, request: Request, pk: str) -> Response:
        case = self.get_object()
        values = self._data(SessionSerializer, request)
        services.case_record_session(actor=request_user(request), case_id=case.pk, **values)
        return self._respond(case)

    @extend_schema(
        request=AgreementInputSerializer, responses={200: CaseSerializer, **ERROR_RESPONSES}
    )
    @action(detail=True, methods=["post"])
    def agreement(self, request: Request, pk: str) -> Response:
        case = self.get_object()
        values = self._data(AgreementInputSerializer, request)
        services.case_record_agreement(
            actor=request_user(request),
            case_id=case.pk,
            text=values["text"],
            is_notarised=values["is_notarised"],
            signed_by_both=values["signed_by_both"],
            obligations=[
                services.ObligationInput(
                    payer_id=o["payer"],
                    amount_cny=o["amount_cny"],
                    due_date=o["due_date"],
                    description=o["description"],
                )
                for o in values.get("obligations", [])
            ],
        )
        return self._respond(case)

    @extend_schema(
        request=OptionalReasonSerializer, responses={200: CaseSerializer, **ERROR_RESPONSES}
    )
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        case = self.get_object()
        values = self._data(OptionalReasonSerializer, request)
        return self._respond(
            services.case_close(
                actor=request_user(request), case_id=case.pk, reason=values["reason"]
            )
        )
