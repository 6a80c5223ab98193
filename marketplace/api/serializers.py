"""Serializers of the core app: small input serializers per command, read serializers apart."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.fields import empty

from marketplace import roles
from marketplace.api.fields import CreditCodeField, IndustryField, RegionField
from marketplace.models import (
    EnterpriseSize,
    Industry,
    Invitation,
    IpcClass,
    Membership,
    MembershipRole,
    Notification,
    Organisation,
    OrganisationEvent,
    OrganisationKind,
    ReferenceTable,
    Region,
    SmeProfile,
    User,
    message_kind_label,
)

# ---- reads ---------------------------------------------------------------------------------


class IndustrySerializer(serializers.ModelSerializer[Industry]):
    parent = serializers.CharField(source="parent_id", allow_null=True)  # type: ignore[assignment]

    class Meta:
        model = Industry
        fields = ["code", "level", "parent", "name_zh", "name_en"]


class RegionSerializer(serializers.ModelSerializer[Region]):
    parent = serializers.CharField(source="parent_id", allow_null=True)  # type: ignore[assignment]

    class Meta:
        model = Region
        fields = ["code", "level", "parent", "name_zh"]


class IpcClassSerializer(serializers.ModelSerializer[IpcClass]):
    parent = serializers.CharField(source="parent_id", allow_null=True)  # type: ignore[assignment]

    class Meta:
        model = IpcClass
        fields = ["symbol", "level", "parent", "title_en", "title_zh"]


class ReferenceTableSerializer(serializers.ModelSerializer[ReferenceTable]):
    class Meta:
        model = ReferenceTable
        fields = [
            "key",
            "standard",
            "title_zh",
            "title_en",
            "version",
            "source",
            "notes",
            "notes_zh",
            "row_count",
            "loaded_at",
        ]


class OrganisationSerializer(serializers.ModelSerializer[Organisation]):
    """The public card of an organisation: the register names patentees."""

    region = RegionField()
    region_name = serializers.CharField(source="region.name_zh", read_only=True)

    class Meta:
        model = Organisation
        fields = ["id", "name", "name_en", "kind", "region", "region_name", "website", "created_at"]


class OrganisationDetailSerializer(OrganisationSerializer):
    """The private card: contacts and credit code, for members and platform staff."""

    class Meta(OrganisationSerializer.Meta):
        fields = [
            *OrganisationSerializer.Meta.fields,
            "credit_code",
            "address",
            "contact_email",
            "contact_phone",
            "updated_at",
        ]


class UserSummarySerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "email", "full_name"]


class MembershipSerializer(serializers.ModelSerializer[Membership]):
    user = UserSummarySerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "created_at"]


class MyMembershipSerializer(serializers.ModelSerializer[Membership]):
    organisation = OrganisationSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "organisation", "role", "created_at"]


class MeSerializer(serializers.ModelSerializer[User]):
    memberships = MyMembershipSerializer(many=True, read_only=True)
    platform_roles = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "full_name",
            "preferred_language",
            "email_verified_at",
            "date_joined",
            "platform_roles",
            "memberships",
        ]

    def get_platform_roles(self, user: User) -> list[str]:
        found = []
        if roles.is_reviewer(user):
            found.append(roles.REVIEWER)
        if roles.is_mediator(user):
            found.append(roles.MEDIATOR)
        return found


class InvitationSerializer(serializers.ModelSerializer[Invitation]):
    invited_by = UserSummarySerializer(read_only=True)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "status", "invited_by", "created_at", "expires_at"]


class SmeProfileSerializer(serializers.ModelSerializer[SmeProfile]):
    industry = IndustryField()
    industry_name = serializers.CharField(source="industry.name_zh", read_only=True)
    region = RegionField()
    region_name = serializers.CharField(source="region.name_zh", read_only=True)

    class Meta:
        model = SmeProfile
        fields = [
            "industry",
            "industry_name",
            "region",
            "region_name",
            "size",
            "employee_count",
            "annual_revenue_cny",
            "description",
            "updated_at",
        ]


class OrganisationEventSerializer(serializers.ModelSerializer[OrganisationEvent]):
    actor = UserSummarySerializer(read_only=True, allow_null=True)
    subject_user = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = OrganisationEvent
        fields = ["id", "verb", "actor", "subject_user", "data", "created_at"]


# ---- inputs --------------------------------------------------------------------------------


_ASCII_INTEGER = re.compile(r"\s*[-+]?[0-9]+\s*")


def _lenient_error(value: Any, field: serializers.Field) -> ErrorDetail | None:
    """What DRF would wrongly accept: a number as text ("0"), other digits as a number ("١")."""
    if value is None:
        return None
    if isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return None
        errors = (_lenient_error(item, field.child) for item in value)
        return next((error for error in errors if error is not None), None)
    if isinstance(field, serializers.CharField) and not isinstance(value, str):
        message = serializers.CharField.default_error_messages["invalid"]
        return ErrorDetail(str(message), code="not_a_string")
    if (
        isinstance(field, serializers.IntegerField)
        and isinstance(value, str)
        and not _ASCII_INTEGER.fullmatch(value)
    ):
        return ErrorDetail(
            str(serializers.IntegerField.default_error_messages["invalid"]), "invalid"
        )
    return None


class StrictInputSerializer(serializers.Serializer[Any]):
    """An input serializer that refuses fields it does not know (a typo is not a no-op), takes
    text only as strings (DRF's CharField would store 0 as "0"; code not_a_string), integers
    only in ASCII digits (DRF's IntegerField reads "١" as 1) and, in
    form and multipart bodies, treats a missing field as missing, as in JSON (DRF would read a
    missing boolean as false)."""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for field in fields.values():
            if field.default is empty:
                field.default_empty_html = empty
        return fields

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = {
                name: [ErrorDetail(str(_("Unknown field.")), code="unknown_field")]
                for name in sorted(set(data) - set(self.fields))
            }
            lenient = {
                name: [error]
                for name, field in self.fields.items()
                if name in data
                and not field.read_only
                and (error := _lenient_error(data[name], field)) is not None
            }
            extra = {**unknown, **lenient}
            if extra:  # reported together with the other fields' errors
                try:
                    super().to_internal_value(data)
                except serializers.ValidationError as error:
                    if isinstance(error.detail, dict):
                        raise serializers.ValidationError({**error.detail, **extra}) from error
                raise serializers.ValidationError(extra)
        return super().to_internal_value(data)


class SmeProfileInputSerializer(StrictInputSerializer):
    industry = IndustryField()
    region = RegionField()
    size = serializers.ChoiceField(choices=EnterpriseSize.choices)
    employee_count = serializers.IntegerField(
        min_value=0, max_value=10_000_000, required=False, allow_null=True
    )
    annual_revenue_cny = serializers.DecimalField(
        max_digits=16, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class RegistrationAdminSerializer(StrictInputSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    full_name = serializers.CharField(max_length=150)
    preferred_language = serializers.ChoiceField(
        choices=User.Language.choices,
        required=False,
        help_text="The language of the user's mails and notifications; when left out, the "
        "language the registration was read in (Accept-Language, else zh-hans).",
    )


class RegistrationSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=200)
    name_en = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=OrganisationKind.choices)
    credit_code = CreditCodeField(
        default="",
        help_text="Unified social credit code (18 characters, GB 32100-2015). Required for every "
        "kind except `individual`, who leaves it out; refused with credit_code_required.",
    )
    region = RegionField()
    address = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    contact_email = serializers.EmailField(required=False, allow_blank=True, default="")
    contact_phone = serializers.CharField(
        max_length=30, required=False, allow_blank=True, default=""
    )
    website = serializers.URLField(max_length=200, required=False, allow_blank=True, default="")
    admin = RegistrationAdminSerializer()
    sme_profile = SmeProfileInputSerializer(required=False)


class VerifyEmailSerializer(StrictInputSerializer):
    token = serializers.CharField(max_length=500)


class EmailSerializer(StrictInputSerializer):
    email = serializers.EmailField(max_length=254)


class LoginSerializer(StrictInputSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class PasswordResetConfirmSerializer(StrictInputSerializer):
    token = serializers.CharField(max_length=200)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenSerializer(serializers.Serializer[Any]):
    token = serializers.CharField()
    user = MeSerializer()


class OrganisationUpdateSerializer(StrictInputSerializer):
    name_en = serializers.CharField(max_length=200, required=False, allow_blank=True)
    region = RegionField(required=False)
    address = serializers.CharField(max_length=300, required=False, allow_blank=True)
    contact_email = serializers.EmailField(required=False, allow_blank=True)
    contact_phone = serializers.CharField(max_length=30, required=False, allow_blank=True)
    website = serializers.URLField(max_length=200, required=False, allow_blank=True)


class InvitationCreateSerializer(StrictInputSerializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=MembershipRole.choices, default=MembershipRole.MEMBER)


class InvitationAcceptSerializer(StrictInputSerializer):
    token = serializers.CharField(max_length=200)
    full_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    password = serializers.CharField(
        max_length=128, required=False, allow_blank=True, default="", trim_whitespace=False
    )


class RoleSerializer(StrictInputSerializer):
    role = serializers.ChoiceField(choices=MembershipRole.choices)


class HealthSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=["ok", "degraded"])
    checks = serializers.DictField(child=serializers.DictField())


class NotificationSerializer(serializers.ModelSerializer[Notification]):
    # The code stays a plain string in the schema: apps register their kinds at start-up.
    kind = serializers.CharField(read_only=True)
    kind_label = serializers.SerializerMethodField(help_text="the kind in the reader's language")

    class Meta:
        model = Notification
        fields = ["id", "kind", "kind_label", "title", "body", "data", "created_at", "read_at"]

    def get_kind_label(self, notification: Notification) -> str:
        return message_kind_label(notification.kind)
