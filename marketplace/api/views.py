"""API views of the core app: accounts, organisations, members, reference data, health."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import permissions
from marketplace.api import serializers as s
from marketplace.api.errors import flatten_errors
from marketplace.api.filters import IndustryFilter, OrganisationFilter, RegionFilter
from marketplace.api.ids import ID_REGEX, parse_id, path_id
from marketplace.api.pagination import CursorPagination
from marketplace.api.permissions import request_user
from marketplace.api.throttles import LoginEmailThrottle, LoginIpThrottle, RegisterThrottle
from marketplace.errors import InvalidInput, NotFound
from marketplace.health import run_checks
from marketplace.models import (
    Industry,
    Invitation,
    IpcClass,
    Membership,
    Notification,
    Organisation,
    OrganisationEvent,
    OrganisationKind,
    ReferenceTable,
    Region,
    SmeProfile,
    User,
)
from marketplace.services import accounts as account_services
from marketplace.services import notifications as notification_services
from marketplace.services import organisations as organisation_services
from marketplace.validators import normalise_credit_code

# What the views declare for these codes is replaced in the schema by the statuses each
# operation can really answer (marketplace.api.schema.AutoSchema), with the Error body.
ERROR_RESPONSES: dict[int, OpenApiResponse] = {
    400: OpenApiResponse(description='Invalid input: {"code", "detail", "fields"}'),
    401: OpenApiResponse(description="Not logged in"),
    403: OpenApiResponse(description="Not allowed"),
    404: OpenApiResponse(description="Not found or not visible to you"),
    409: OpenApiResponse(description="Conflicts with the current state"),
}


# ---- accounts ------------------------------------------------------------------------------


def _credit_code_or_none(raw: str | None) -> str | None:
    try:
        return normalise_credit_code(raw) if raw else raw
    except InvalidInput:
        return None


def _raw_registration(body: Any, *, refused: set[str]) -> dict[str, Any]:
    """The registration's raw values a business rule can check, None where the field is
    missing, not text, or already refused."""

    def text(container: Any, key: str, path: str) -> str | None:
        value = container.get(key) if isinstance(container, Mapping) else None
        return value if isinstance(value, str) and path not in refused else None

    admin = body.get("admin") if isinstance(body, Mapping) else None
    credit_code = text(body, "credit_code", "credit_code")
    if credit_code is None and isinstance(body, Mapping) and "credit_code" not in body:
        credit_code = "" if "credit_code" not in refused else None
    return {
        "name": text(body, "name", "name"),
        "kind": text(body, "kind", "kind"),
        "credit_code": _credit_code_or_none(credit_code),
        "admin_email": text(admin, "email", "admin.email"),
        "admin_password": text(admin, "password", "admin.password"),
        "admin_full_name": text(admin, "full_name", "admin.full_name") or "",
        "has_sme_profile": isinstance(body, Mapping)
        and body.get("sme_profile") is not None
        and not any(path.startswith("sme_profile") for path in refused),
    }


def _request_language() -> str:
    """The language this request is answered in, as a user's preferred_language."""
    language = translation.get_language() or ""
    return User.Language.ENGLISH if language.startswith("en") else User.Language.CHINESE


class RegisterView(APIView):
    """Register an organisation together with its first admin; a verification mail follows."""

    permission_classes = [AllowAny]
    throttle_classes = [RegisterThrottle]
    throttle_scope = "register"

    @extend_schema(
        request=s.RegistrationSerializer,
        responses={201: s.OrganisationDetailSerializer, **ERROR_RESPONSES},
        tags=["accounts"],
    )
    def post(self, request: Request) -> Response:
        data = s.RegistrationSerializer(data=request.data)
        if not data.is_valid():
            # Report the business rules too (address taken, weak password, ...) in this round,
            # for the fields the serializer accepted, so a user fixes everything at once.
            errors = flatten_errors(data.errors)
            raise account_services.registration_error(
                account_services.organisation_register_problems(
                    **_raw_registration(request.data, refused=set(errors))
                ),
                fields={
                    path: [(item["code"], item["message"]) for item in items]
                    for path, items in errors.items()
                },
            )
        values = dict(data.validated_data)
        admin = values.pop("admin")
        profile = values.pop("sme_profile", None)
        organisation, _user = account_services.organisation_register(
            **values,
            admin_email=admin["email"],
            admin_password=admin["password"],
            admin_full_name=admin["full_name"],
            # Someone who registers in English reads the verification mail in English too.
            language=admin.get("preferred_language") or _request_language(),
            sme_profile=account_services.SmeProfileInput(**profile) if profile else None,
        )
        return Response(
            s.OrganisationDetailSerializer(organisation).data, status=status.HTTP_201_CREATED
        )


class VerifyEmailView(APIView):
    """Confirm an e-mail address with the token from the verification mail."""

    permission_classes = [AllowAny]
    throttle_classes = [RegisterThrottle]
    throttle_scope = "register"

    @extend_schema(
        request=s.VerifyEmailSerializer,
        responses={200: s.UserSummarySerializer, **ERROR_RESPONSES},
        tags=["accounts"],
    )
    def post(self, request: Request) -> Response:
        data = s.VerifyEmailSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = account_services.user_verify_email(token=data.validated_data["token"])
        return Response(s.UserSummarySerializer(user).data)


class ResendVerificationView(APIView):
    """Ask for a new verification mail. Always 202, so it does not reveal who is registered."""

    permission_classes = [AllowAny]
    throttle_classes = [RegisterThrottle]
    throttle_scope = "register"

    @extend_schema(
        request=s.EmailSerializer, responses={202: None, **ERROR_RESPONSES}, tags=["accounts"]
    )
    def post(self, request: Request) -> Response:
        data = s.EmailSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account_services.user_resend_verification(email=data.validated_data["email"])
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetView(APIView):
    """Ask for a password reset mail. Always 202, so it does not reveal who is registered."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [RegisterThrottle]
    throttle_scope = "register"

    @extend_schema(
        request=s.EmailSerializer, responses={202: None, **ERROR_RESPONSES}, tags=["accounts"]
    )
    def post(self, request: Request) -> Response:
        data = s.EmailSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account_services.user_request_password_reset(email=data.validated_data["email"])
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(APIView):
    """Set a new password with the token from the reset mail; the old API token is revoked."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [RegisterThrottle]
    throttle_scope = "register"

    @extend_schema(
        request=s.PasswordResetConfirmSerializer,
        responses={200: s.UserSummarySerializer, **ERROR_RESPONSES},
        tags=["accounts"],
    )
    def post(self, request: Request) -> Response:
        data = s.PasswordResetConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = account_services.user_reset_password(
            token=data.validated_data["token"], password=data.validated_data["password"]
        )
        return Response(s.UserSummarySerializer(user).data)


class LoginView(APIView):
    """Exchange e-mail and password for an API token (throttled per address and account)."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [LoginIpThrottle, LoginEmailThrottle]

    @extend_schema(
        request=s.LoginSerializer,
        responses={
            200: s.TokenSerializer,
            429: OpenApiResponse(description="Throttled"),
            **ERROR_RESPONSES,
        },
        tags=["accounts"],
    )
    def post(self, request: Request) -> Response:
        data = s.LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token = account_services.user_log_in(
            email=data.validated_data["email"],
            password=data.validated_data["password"],
            request=request._request,
        )
        return Response({"token": token.key, "user": s.MeSerializer(token.user).data})


class LogoutView(APIView):
    """Revoke the caller's API token."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None, responses={204: None, 401: ERROR_RESPONSES[401]}, tags=["accounts"]
    )
    def post(self, request: Request) -> Response:
        account_services.user_log_out(user=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """Who am I: my account, platform roles and memberships."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: s.MeSerializer, 401: ERROR_RESPONSES[401]}, tags=["accounts"])
    def get(self, request: Request) -> Response:
        user = User.objects.prefetch_related("memberships__organisation__region", "groups").get(
            pk=request_user(request).pk
        )
        return Response(s.MeSerializer(user).data)


class InvitationAcceptView(APIView):
    """Accept an invitation: logged in as the invited address, or creating that account."""

    permission_classes = [AllowAny]
    throttle_classes = [RegisterThrottle]
    throttle_scope = "register"

    @extend_schema(
        request=s.InvitationAcceptSerializer,
        responses={201: s.MyMembershipSerializer, **ERROR_RESPONSES},
        tags=["organisations"],
    )
    def post(self, request: Request) -> Response:
        data = s.InvitationAcceptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = organisation_services.invitation_accept(
            token=data.validated_data["token"],
            actor=request.user if isinstance(request.user, User) else None,
            full_name=data.validated_data["full_name"],
            password=data.validated_data["password"],
        )
        return Response(s.MyMembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


# ---- organisations -------------------------------------------------------------------------


class OrganisationViewSet(viewsets.ReadOnlyModelViewSet[Organisation]):
    """Organisations. Anyone reads the public card; members and platform staff the private one."""

    permission_classes = [AllowAny]
    filterset_class = OrganisationFilter
    pagination_class = CursorPagination
    ordering = "id"

    def get_permissions(self) -> list[Any]:
        # The public card (list, retrieve) is open; everything else needs a logged-in user.
        if self.action in ("list", "retrieve") and self.request.method in ("GET", "HEAD"):
            return [AllowAny()]
        return [IsAuthenticated()]

    def get_queryset(self) -> QuerySet[Organisation]:
        return Organisation.objects.visible_to(self.request.user).select_related("region")

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        if self.action == "retrieve" and self._can_read_private():
            return s.OrganisationDetailSerializer
        return s.OrganisationSerializer

    def paginate_queryset(self, queryset: Any) -> Any:
        paginator = self.paginator
        if paginator is not None:
            paginator.ordering = "id"  # type: ignore[attr-defined]
        return super().paginate_queryset(queryset)

    def _can_read_private(self) -> bool:
        pk = parse_id(self.kwargs.get("pk"))
        return bool(
            pk is not None
            and Organisation.objects.private_visible_to(self.request.user).filter(pk=pk).exists()
        )

    def _private_organisation(self) -> Organisation:
        """The organisation from the URL, if the caller may see its private side; else 404."""
        pk = path_id(self.kwargs.get("pk"))
        return get_object_or_404(Organisation.objects.private_visible_to(self.request.user), pk=pk)

    def _require_admin(self, organisation: Organisation) -> None:
        permissions.check_organisation_admin(self.request.user, organisation.pk)

    @extend_schema(
        request=s.OrganisationUpdateSerializer,
        responses={200: s.OrganisationDetailSerializer, **ERROR_RESPONSES},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        organisation = self._private_organisation()
        self._require_admin(organisation)
        data = s.OrganisationUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        organisation = organisation_services.organisation_update(
            organisation_id=organisation.pk,
            actor=request_user(request),
            changes=dict(data.validated_data),
        )
        return Response(s.OrganisationDetailSerializer(organisation).data)

    @extend_schema(responses={200: s.MembershipSerializer(many=True), **ERROR_RESPONSES})
    @action(detail=True, methods=["get"], permission_classes=[IsAuthenticated])
    def members(self, request: Request, pk: str) -> Response:
        organisation = self._private_organisation()
        memberships = (
            Membership.objects.visible_to(request.user)
            .filter(organisation=organisation)
            .select_related("user")
            .order_by("created_at", "id")
        )
        return Response(s.MembershipSerializer(memberships, many=True).data)

    @extend_schema(request=None, responses={204: None, **ERROR_RESPONSES})
    @action(
        detail=True,
        methods=["post"],
        url_path=rf"members/(?P<membership_id>{ID_REGEX})/remove",
        permission_classes=[IsAuthenticated],
    )
    def remove_member(self, request: Request, pk: str, membership_id: str) -> Response:
        organisation = self._private_organisation()
        organisation_services.membership_remove(
            organisation_id=organisation.pk,
            membership_id=path_id(membership_id),
            actor=request_user(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=s.RoleSerializer, responses={200: s.MembershipSerializer, **ERROR_RESPONSES}
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=rf"members/(?P<membership_id>{ID_REGEX})/role",
        permission_classes=[IsAuthenticated],
    )
    def change_member_role(self, request: Request, pk: str, membership_id: str) -> Response:
        organisation = self._private_organisation()
        self._require_admin(organisation)
        data = s.RoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = organisation_services.membership_change_role(
            organisation_id=organisation.pk,
            membership_id=path_id(membership_id),
            actor=request_user(request),
            role=data.validated_data["role"],
        )
        return Response(s.MembershipSerializer(membership).data)

    @extend_schema(request=None, responses={204: None, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])
    def leave(self, request: Request, pk: str) -> Response:
        # One's own organisations only: staff may read others' but have nothing to leave.
        organisation = get_object_or_404(
            Organisation.objects.with_member(request.user), pk=path_id(pk)
        )
        organisation_services.membership_leave(
            organisation_id=organisation.pk, actor=request_user(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        methods=["get"], responses={200: s.InvitationSerializer(many=True), **ERROR_RESPONSES}
    )
    @extend_schema(
        methods=["post"],
        request=s.InvitationCreateSerializer,
        responses={201: s.InvitationSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["get", "post"], permission_classes=[IsAuthenticated])
    def invitations(self, request: Request, pk: str) -> Response:
        if request.method == "GET":
            # Its admins' list: for anyone else it does not exist (404).
            organisation = get_object_or_404(
                Organisation.objects.administered_by(request.user), pk=path_id(pk)
            )
            invitations = Invitation.objects.filter(organisation=organisation).select_related(
                "invited_by"
            )
            return Response(s.InvitationSerializer(invitations, many=True).data)
        organisation = self._private_organisation()
        self._require_admin(organisation)
        data = s.InvitationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, _token = organisation_services.invitation_create(
            organisation_id=organisation.pk,
            actor=request_user(request),
            email=data.validated_data["email"],
            role=data.validated_data["role"],
        )
        return Response(s.InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.InvitationSerializer, **ERROR_RESPONSES})
    @action(
        detail=True,
        methods=["post"],
        url_path=rf"invitations/(?P<invitation_id>{ID_REGEX})/revoke",
        permission_classes=[IsAuthenticated],
    )
    def revoke_invitation(self, request: Request, pk: str, invitation_id: str) -> Response:
        organisation = self._private_organisation()
        invitation = organisation_services.invitation_revoke(
            organisation_id=organisation.pk,
            invitation_id=path_id(invitation_id),
            actor=request_user(request),
        )
        return Response(s.InvitationSerializer(invitation).data)

    @extend_schema(methods=["get"], responses={200: s.SmeProfileSerializer, **ERROR_RESPONSES})
    @extend_schema(
        methods=["put"],
        request=s.SmeProfileInputSerializer,
        responses={200: s.SmeProfileSerializer, **ERROR_RESPONSES},
    )
    @action(
        detail=True,
        methods=["get", "put"],
        url_path="sme-profile",
        permission_classes=[IsAuthenticated],
    )
    def sme_profile(self, request: Request, pk: str) -> Response:
        organisation = self._private_organisation()
        if request.method == "GET":
            if organisation.kind != OrganisationKind.SME:
                raise NotFound("not_an_sme", _("Only an organisation of kind SME has a profile."))
            profile = get_object_or_404(
                SmeProfile.objects.select_related("industry", "region"), organisation=organisation
            )
            return Response(s.SmeProfileSerializer(profile).data)
        self._require_admin(organisation)
        data = s.SmeProfileInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        profile = organisation_services.sme_profile_save(
            organisation_id=organisation.pk, actor=request_user(request), **data.validated_data
        )
        return Response(s.SmeProfileSerializer(profile).data)

    @extend_schema(responses={200: s.OrganisationEventSerializer(many=True), **ERROR_RESPONSES})
    @action(detail=True, methods=["get"], permission_classes=[IsAuthenticated])
    def events(self, request: Request, pk: str) -> Response:
        """The organisation's audit trail, for its admins and reviewers (404 for anyone else)."""
        organisation = get_object_or_404(
            Organisation.objects.audit_visible_to(request.user), pk=path_id(pk)
        )
        events = OrganisationEvent.objects.filter(organisation=organisation).select_related(
            "actor", "subject_user"
        )
        page = self.paginate_queryset(events)
        return self.get_paginated_response(s.OrganisationEventSerializer(page, many=True).data)


# ---- notifications -------------------------------------------------------------------------


class NotificationViewSet(viewsets.ReadOnlyModelViewSet[Notification]):
    """The caller's own notifications, newest first; ?unread=true for the unread ones."""

    permission_classes = [IsAuthenticated]
    serializer_class = s.NotificationSerializer
    pagination_class = CursorPagination

    def get_queryset(self) -> QuerySet[Notification]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Notification.objects.none()
        queryset = Notification.objects.visible_to(self.request.user)
        unread = self.request.query_params.get("unread")
        if unread in ("true", "1"):
            queryset = queryset.filter(read_at__isnull=True)
        return queryset

    @extend_schema(request=None, responses={200: s.NotificationSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str) -> Response:
        notification = notification_services.notification_mark_read(
            user=request_user(request), notification_id=path_id(pk)
        )
        return Response(s.NotificationSerializer(notification).data)


# ---- reference data ------------------------------------------------------------------------


class CodeCursorPagination(CursorPagination):
    ordering = "code"
    page_size = 100
    max_page_size = 1000


class IndustryViewSet(viewsets.ReadOnlyModelViewSet[Industry]):
    """GB/T 4754-2017 industries, filterable by level, parent and text."""

    permission_classes = [AllowAny]
    queryset = Industry.objects.all()
    serializer_class = s.IndustrySerializer
    filterset_class = IndustryFilter
    pagination_class = CodeCursorPagination
    lookup_value_regex = "[A-Za-z0-9]{1,5}"


class RegionViewSet(viewsets.ReadOnlyModelViewSet[Region]):
    """GB/T 2260 administrative divisions, filterable by level, parent and text."""

    permission_classes = [AllowAny]
    queryset = Region.objects.all()
    serializer_class = s.RegionSerializer
    filterset_class = RegionFilter
    pagination_class = CodeCursorPagination
    lookup_value_regex = "[0-9]{6}"


class IpcClassViewSet(viewsets.ReadOnlyModelViewSet[IpcClass]):
    """IPC sections, classes and subclasses with English and Chinese titles."""

    permission_classes = [AllowAny]
    queryset = IpcClass.objects.all()
    serializer_class = s.IpcClassSerializer
    filterset_fields = ["level", "parent"]
    pagination_class = None
    lookup_value_regex = "[A-Ha-h]([0-9]{2}[A-Za-z]?)?"


class ReferenceTableViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[ReferenceTable]):
    """Which reference tables are loaded, from which standard, edition and source."""

    permission_classes = [AllowAny]
    queryset = ReferenceTable.objects.all()
    serializer_class = s.ReferenceTableSerializer
    pagination_class = None


# ---- health --------------------------------------------------------------------------------


class HealthView(APIView):
    """Database, Redis and Celery-worker reachability; 503 when any is down."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(
        responses={200: s.HealthSerializer, 503: s.HealthSerializer},
        tags=["health"],
    )
    def get(self, request: Request) -> Response:
        checks = run_checks()
        healthy = all(check["ok"] for check in checks.values())
        return Response(
            {"status": "ok" if healthy else "degraded", "checks": checks},
            status=status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE,
        )
