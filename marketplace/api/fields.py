"""Serializer fields for reference codes and identifiers, with stable error codes."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from marketplace.errors import InvalidInput
from marketplace.models import Industry, IndustryLevel, Region
from marketplace.validators import normalise_credit_code


@extend_schema_field({"type": "string", "pattern": "^[A-T]?[0-9]{0,4}$", "example": "C3841"})
class IndustryField(serializers.Field):
    """A GB/T 4754-2017 code, given as C3841 or 3841; read back as the code."""

    default_error_messages = {
        "invalid": _("Enter a GB/T 4754-2017 industry code such as C3841 or 3841."),
        "unknown_industry": _("There is no GB/T 4754-2017 industry with code %(code)s."),
        "too_broad": _("Choose at least a division (大类, e.g. C38), not only a section."),
    }

    def __init__(self, *, allow_section: bool = False, **kwargs: Any) -> None:
        self.allow_section = allow_section
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Industry:
        if not isinstance(data, str) or len(data) > 10:
            self.fail("invalid")
        code = data.strip().upper()
        if re.fullmatch(r"[0-9]{2,4}", code):
            # Division numbers are unique across sections, so the digits alone identify it.
            industry = Industry.objects.filter(code__regex=rf"^[A-T]{code}$").first()
        elif re.fullmatch(r"[A-T]([0-9]{2,4})?", code):
            industry = Industry.objects.filter(code=code).first()
        else:
            self.fail("invalid")
        if industry is None:
            raise serializers.ValidationError(
                str(self.error_messages["unknown_industry"]) % {"code": code},
                code="unknown_industry",
            )
        if industry.level == IndustryLevel.SECTION and not self.allow_section:
            self.fail("too_broad")
        return industry

    def to_representation(self, value: Any) -> str:
        return value.code if isinstance(value, Industry) else str(value)


@extend_schema_field({"type": "string", "pattern": "^[0-9]{6}$", "example": "320102"})
class RegionField(serializers.Field):
    """A six-digit GB/T 2260 administrative division code; read back as the code."""

    default_error_messages = {
        "invalid": _("Enter a six-digit GB/T 2260 region code such as 320102."),
        "unknown_region": _("There is no GB/T 2260 region with code %(code)s."),
    }

    def to_internal_value(self, data: Any) -> Region:
        if isinstance(data, int) and not isinstance(data, bool):
            data = str(data)
        if not isinstance(data, str) or not re.fullmatch(r"[0-9]{6}", data.strip()):
            self.fail("invalid")
        code = data.strip()
        region = Region.objects.filter(code=code).first()
        if region is None:
            raise serializers.ValidationError(
                str(self.error_messages["unknown_region"]) % {"code": code},
                code="unknown_region",
            )
        return region

    def to_representation(self, value: Any) -> str:
        return value.code if isinstance(value, Region) else str(value)


class CreditCodeField(serializers.CharField):
    """A unified social credit code (GB 32100-2015), check character verified."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 30)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            return normalise_credit_code(value)
        except InvalidInput as error:
            raise serializers.ValidationError(error.render_message(), code=error.code) from error
