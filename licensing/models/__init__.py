"""Models of the licensing app."""

from licensing.models.declarations import (
    Declaration,
    DeclarationConsent,
    DeclarationEvent,
    DeclarationStatus,
    PaymentMethod,
    RoyaltyBasis,
)

__all__ = [
    "Declaration",
    "DeclarationConsent",
    "DeclarationEvent",
    "DeclarationStatus",
    "PaymentMethod",
    "RoyaltyBasis",
]
