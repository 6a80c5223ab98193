"""API of the matching engine: an SME's matches, a patentee's candidates, feedback."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing.models import ACTIVE_LICENSE_STATUSES, Declaration, License
from marketplace.api.ids import query_id
from marketplace.api.permissions import request_user
from marketplace.api.serializers import StrictInputSerializer
from marketplace.api.views import ERROR_RESPONSES
from marketplace.errors import NotFound
from marketplace.models import Organisation, OrganisationKind, TechnologyNeed
from matching import reasons as match_reasons
from matching.models import Match, MatchFeedback
from matching.services import feedback_give


def _names(serializer: serializers.Serializer[Any]) -> match_reasons.Names:
    """Industry and province names, read once per response (kept in the context)."""
    context = serializer.context
    if "reason_names" not in context:
        context["reason_names"] = match_reasons.Names()
    names: match_reasons.Names = context["reason_names"]
    return names


class ReasonCodeSerializer(serializers.Serializer[Any]):
    """A reason as data: its code and parameters (ipc, industry, words, province,
    similarity, as the code has them)."""

    code = serializers.ChoiceField(choices=sorted(match_reasons.TEMPLATES))
    ipc = serializers.CharField(required=False)
    industry = serializers.CharField(required=False)
    words = serializers.ListField(child=serializers.CharField(), required=False)
    province = serializers.CharField(required=False)
    similarity = serializers.FloatField(required=False)


class MatchSerializer(serializers.Serializer[Any]):
    declaration = serializers.IntegerField(source="declaration_id")
    declaration_number = serializers.CharField(source="declaration.number")
    patent = serializers.IntegerField(source="patent_id")
    patent_number = serializers.CharField(source="patent.patent_number")
    title = serializers.CharField(source="patent.title")
    patentee = serializers.CharField(source="declaration.organisation.name")
    need = serializers.IntegerField(source="need_id", allow_null=True)
    score = serializers.FloatField()
    components = serializers.DictField(child=serializers.FloatField())
    reasons = serializers.SerializerMethodField()
    reason_codes = ReasonCodeSerializer(source="reasons", many=True)

    def get_reasons(self, match: Match) -> list[str]:
        """The reasons in the reader's language (Accept-Language)."""
        return match_reasons.render(match.reasons, get_language() or "en", _names(self))


class CandidateSerializer(serializers.Serializer[Any]):
    """An SME as a patentee sees it: no budget, no budget-derived reason."""

    sme = serializers.IntegerField(source="sme_id")
    name = serializers.CharField(source="sme.name")
    industry = serializers.CharField(source="sme.sme_profile.industry_id")
    region = serializers.CharField(source="sme.sme_profile.region_id")
    size = serializers.CharField(source="sme.sme_profile.size")
    score = serializers.FloatField()
    reasons = serializers.SerializerMethodField()
    reason_codes = serializers.SerializerMethodField()

    def get_reasons(self, match: Match) -> list[str]:
        codes = match_reasons.without_budget(match.reasons)
        return match_reasons.render(codes, get_language() or "en", _names(self))

    def get_reason_codes(self, match: Match) -> list[dict[str, Any]]:
        return [dict(code) for code in match_reasons.without_budget(match.reasons)]


class FeedbackSerializer(StrictInputSerializer):
    sme = serializers.IntegerField(min_value=1)
    declaration = serializers.IntegerField(min_value=1)
    verdict = serializers.ChoiceField(choices=MatchFeedback.Verdict.choices)
    reason = serializers.ChoiceField(
        choices=MatchFeedback.Reason.choices, required=False, allow_blank=True, default=""
    )


def _current(queryset: QuerySet[Match]) -> QuerySet[Match]:
    return queryset.filter(run__is_current=True)


def _shown_to_the_sme(matches: QuerySet[Match]) -> QuerySet[Match]:
    """What an SME's list shows, checked at read time so it holds at once (refresh_lists
    excludes the same a moment later): no declaration it holds a license for or marked not
    relevant, no list of a closed need, no match under settings.MATCHING_MIN_SCORE or without
    a reason; equal scores in declaration order."""
    licensed = License.objects.filter(
        licensee_id=OuterRef("sme_id"),
        declaration_id=OuterRef("declaration_id"),
        status__in=ACTIVE_LICENSE_STATUSES,
    )
    rejected = MatchFeedback.objects.filter(
        sme_id=OuterRef("sme_id"),
        declaration_id=OuterRef("declaration_id"),
        verdict=MatchFeedback.Verdict.NOT_RELEVANT,
    )
    return (
        matches.filter(score__gte=settings.MATCHING_MIN_SCORE)
        # A need closed a moment ago: its list is gone before refresh_lists deletes it.
        .filter(Q(need__isnull=True) | Q(need__status="open"))
        .exclude(reasons=[])
        .exclude(Exists(licensed))
        .exclude(Exists(rejected))
        .order_by("sme_id", "-score", "declaration_id")
    )


class SmeMatchesView(APIView):
    """My SME's list, best first, with the reasons in my language: its profile's list, or
    with ?need= the list of that need (each open need is ranked on its own)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[OpenApiParameter("sme", int), OpenApiParameter("need", int)],
        responses={200: MatchSerializer(many=True), **ERROR_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        user = request_user(request)
        sme = query_id(request.query_params, "sme")
        if sme is None:
            own = Organisation.objects.with_member(user).filter(kind=OrganisationKind.SME)
            sme_ids = list(own.values_list("pk", flat=True))
        elif Organisation.objects.private_visible_to(user).filter(pk=sme).exists():
            sme_ids = [sme]
        else:
            raise NotFound()
        need = query_id(request.query_params, "need")
        if (
            need is not None
            and not TechnologyNeed.objects.filter(pk=need, organisation_id__in=sme_ids).exists()
        ):
            raise NotFound("need_not_found", _("This need is not one of the SME's."))
        matches = _shown_to_the_sme(
            _current(
                Match.objects.for_sme(user).filter(sme_id__in=sme_ids, need_id=need)
            ).select_related("patent", "declaration__organisation")
        )
        return Response(MatchSerializer(matches[:200], many=True).data)


class DeclarationCandidatesView(APIView):
    """A patentee's candidate licensees for one of its declarations (budgets never shown)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: CandidateSerializer(many=True), **ERROR_RESPONSES})
    def get(self, request: Request, declaration_id: int) -> Response:
        user = request_user(request)
        declaration = Declaration.objects.records_visible_to(user).filter(pk=declaration_id).first()
        if declaration is None:
            raise NotFound()
        # An SME once, with its best list's match (its profile's or one of its needs').
        best = (
            _current(Match.objects.for_patentee(user).filter(declaration=declaration))
            .order_by("sme_id", "-score", "id")
            .distinct("sme_id")
            .values("id")
        )
        matches = (
            Match.objects.filter(pk__in=best)
            .select_related("sme__sme_profile")
            .order_by("-score", "sme_id")[:200]
        )
        return Response(CandidateSerializer(matches, many=True).data)


class FeedbackView(APIView):
    """Interested / not relevant (with a reason): similar results rise or fall for the SME."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=FeedbackSerializer, responses={201: FeedbackSerializer, **ERROR_RESPONSES}
    )
    def post(self, request: Request) -> Response:
        data = FeedbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        feedback_give(
            actor=request_user(request),
            sme_id=values["sme"],
            declaration_id=values["declaration"],
            verdict=values["verdict"],
            reason=values["reason"],
        )
        return Response(dict(values), status=status.HTTP_201_CREATED)
