"""Models of the core app."""

from marketplace.models.accounts import User
from marketplace.models.emails import OutboundEmail, OutboundEmailStatus
from marketplace.models.organisations import (
    EnterpriseSize,
    Invitation,
    InvitationStatus,
    Membership,
    MembershipRole,
    Organisation,
    OrganisationEvent,
    OrganisationEventVerb,
    OrganisationKind,
    SmeProfile,
)
from marketplace.models.reference import (
    Industry,
    IndustryLevel,
    ReferenceTable,
    Region,
    RegionLevel,
)

__all__ = [
    "EnterpriseSize",
    "Industry",
    "IndustryLevel",
    "Invitation",
    "InvitationStatus",
    "Membership",
    "MembershipRole",
    "Organisation",
    "OrganisationEvent",
    "OrganisationEventVerb",
    "OrganisationKind",
    "OutboundEmail",
    "OutboundEmailStatus",
    "ReferenceTable",
    "Region",
    "RegionLevel",
    "SmeProfile",
    "User",
]
