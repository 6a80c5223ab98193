"""Serializers of the licensing API."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import serializers

from licensing.models import Declaration, DeclarationEvent, PaymentMethod, RoyaltyBasis
from marketplace.api.serializers import StrictInputSerializer
from marketplace.units import cny

TERMS = [
    "payment_method",
    "royalty_basis",
    "lump_sum_cny",
    "entry_fee_cny",
    "royalty_rate_percent",
    "minimum_annual_royalty_cny",
    "license_term_years",
    "contact_name",
    "contact_phone",
    "contact_email",
    "contact_address",
    "undertaking",
    "calculation_explanation",
    "other_terms",
]


class DeclarationSerializer(serializers.ModelSerializer[Declaration]):
    patent_number = serializers.CharField(source="patent.patent_number", read_only=True)
    patent_title = serializers.CharField(source="patent.title", read_only=True)
    organisation_name = serializers.CharField(source="organisation.name", read_only=True)

    class Meta:
        model = Declaration
        fields = [
            "id",
            "number",
            "status",
            "patent",
            "patent_number",
            "patent_title",
            "organisation",
            "organisation_name",
            *TERMS,
            "advertising_words",
            "flagged_bars",
            "supersedes",
            "effective_date",
            "withdrawal_date",
            "ended_date",
            "created_at",
            "updated_at",
        ]


class DeclarationEventSerializer(serializers.ModelSerializer[DeclarationEvent]):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = DeclarationEvent
        fields = ["id", "verb", "from_status", "to_status", "actor", "reason", "data", "created_at"]

    def get_actor(self, event: DeclarationEvent) -> str | None:
        return event.actor.email if event.actor else None


class TermsSerializer(StrictInputSerializer):
    payment_method = serializers.ChoiceField(choices=PaymentMethod.choices)
    royalty_basis = serializers.ChoiceField(
        choices=RoyaltyBasis.choices, required=False, allow_blank=True
    )
    lump_sum_cny = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    entry_fee_cny = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    royalty_rate_percent = serializers.DecimalField(
        max_digits=7, decimal_places=4, min_value=0, max_value=100, required=False, allow_null=True
    )
    minimum_annual_royalty_cny = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    license_term_years = serializers.IntegerField(
        min_value=1, max_value=20, required=False, allow_null=True
    )
    contact_name = serializers.CharField(max_length=100)
    contact_phone = serializers.CharField(max_length=30)
    contact_email = serializers.EmailField()
    contact_address = serializers.CharField(max_length=300, required=False, allow_blank=True)
    undertaking = serializers.BooleanField(required=False, default=False)
    # Length is a rule of its own (calculation_explanation_too_long), checked by the service.
    calculation_explanation = serializers.CharField(max_length=20_000, allow_blank=True)
    other_terms = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class DeclarationCreateSerializer(TermsSerializer):
    patent = serializers.IntegerField(min_value=1)


class TermsUpdateSerializer(TermsSerializer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
        self.fields["undertaking"].default = serializers.empty


class ReasonSerializer(StrictInputSerializer):
    # Blank passes here so that the service refuses it with its own code (reason_required,
    # withdrawal_reason_required) rather than the generic invalid.
    reason = serializers.CharField(max_length=2000, allow_blank=True)


class OptionalReasonSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ConsentSerializer(StrictInputSerializer):
    purpose = serializers.ChoiceField(choices=["declaration", "withdrawal"])


class ProblemsSerializer(serializers.Serializer[Any]):
    bars = serializers.ListField(child=serializers.DictField())
    terms = serializers.ListField(child=serializers.DictField())
    missing_consents = serializers.ListField(child=serializers.DictField())
    advertising_words = serializers.ListField(child=serializers.CharField())


class RegisterEntrySerializer(serializers.ModelSerializer[Declaration]):
    """A public register entry with the gazette fields of the rules (§3)."""

    main_ipc = serializers.CharField(source="patent.main_ipc")
    patent_number = serializers.CharField(source="patent.patent_number")
    patentees = serializers.SerializerMethodField()
    title = serializers.CharField(source="patent.title")
    filing_date = serializers.DateField(source="patent.filing_date")
    grant_date = serializers.DateField(source="patent.grant_date")
    royalty = serializers.SerializerMethodField()

    class Meta:
        model = Declaration
        fields = [
            "number",
            "status",
            "main_ipc",
            "patent_number",
            "patentees",
            "title",
            "filing_date",
            "grant_date",
            "payment_method",
            "royalty_basis",
            "lump_sum_cny",
            "entry_fee_cny",
            "royalty_rate_percent",
            "minimum_annual_royalty_cny",
            "royalty",
            "license_term_years",
            "contact_name",
            "contact_phone",
            "contact_email",
            "effective_date",
            "withdrawal_date",
            "ended_date",
        ]

    def get_patentees(self, declaration: Declaration) -> list[str]:
        return [declaration.organisation.name] + [
            link.organisation.name for link in declaration.patent.co_ownerships.all()
        ]

    def get_royalty(self, declaration: Declaration) -> str:
        return royalty_text(declaration)


def royalty_text(declaration: Declaration) -> str:
    """The royalty standard in one line, as the gazette prints it, in the reader's language
    (amounts in 万元 in Chinese)."""
    method = declaration.payment_method
    basis = {"net_sales": _("net sales"), "profit": _("profit")}.get(declaration.royalty_basis, "")
    rate = (
        f"{declaration.royalty_rate_percent.normalize()}"
        if declaration.royalty_rate_percent is not None
        else ""
    )
    if method == "free":
        text = str(_("free"))
    elif method == "lump_sum":
        text = _("lump sum %(amount)s") % {"amount": cny(declaration.lump_sum_cny or 0)}
    elif method == "running_royalty":
        text = _("%(rate)s%% of %(basis)s") % {"rate": rate, "basis": basis}
    else:
        text = _("entry fee %(amount)s + %(rate)s%% of %(basis)s") % {
            "amount": cny(declaration.entry_fee_cny or 0),
            "rate": rate,
            "basis": basis,
        }
    if declaration.minimum_annual_royalty_cny:
        text += _("; minimum %(amount)s a year") % {
            "amount": cny(declaration.minimum_annual_royalty_cny)
        }
    return text
