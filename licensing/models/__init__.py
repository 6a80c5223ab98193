"""Models of the licensing app."""

from licensing.models.declarations import (
    Declaration,
    DeclarationConsent,
    DeclarationEvent,
    DeclarationStatus,
    PaymentMethod,
    RoyaltyBasis,
)
from licensing.models.fees import AnnualFeeRate
from licensing.models.licenses import (
    ACTIVE_LICENSE_STATUSES,
    FilingStatus,
    IdempotencyRecord,
    License,
    LicenseEvent,
    LicenseFiling,
    LicensePayment,
    LicenseStatus,
    PaymentKind,
    PaymentStatus,
    RoyaltyReport,
)
from licensing.models.statistics import RoyaltyStatistic

__all__ = [
    "ACTIVE_LICENSE_STATUSES",
    "AnnualFeeRate",
    "Declaration",
    "DeclarationConsent",
    "DeclarationEvent",
    "DeclarationStatus",
    "FilingStatus",
    "IdempotencyRecord",
    "License",
    "LicenseEvent",
    "LicenseFiling",
    "LicensePayment",
    "LicenseStatus",
    "PaymentKind",
    "PaymentMethod",
    "PaymentStatus",
    "RoyaltyBasis",
    "RoyaltyReport",
    "RoyaltyStatistic",
]
