"""API-level exceptions that DRF does not define."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import APIException

from marketplace.units import megabytes


class PayloadTooLarge(APIException):
    status_code = 413
    default_code = "request_too_large"
    default_detail = _("The request body is larger than the limit of %(limit)s MB.")

    def __init__(self, limit: int) -> None:
        super().__init__(detail=str(self.default_detail) % {"limit": megabytes(limit)})
