"""Models of the core app."""

from marketplace.models.accounts import User
from marketplace.models.counters import PatentDailyCount
from marketplace.models.emails import OutboundEmail, OutboundEmailStatus
from marketplace.models.imports import ImportJob, ImportPhase, ImportStatus
from marketplace.models.needs import (
    NeedStatus,
    PaymentMethodPreference,
    TechnologyNeed,
    TechnologyNeedEvent,
)
from marketplace.models.notifications import (
    MessageKind,
    Notification,
    message_kind_label,
    register_message_kinds,
)
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
from marketplace.models.patents import (
    ExclusiveLicenseKind,
    LegalStatus,
    Patent,
    PatentCoOwner,
    PatentEvent,
    PatentExclusiveLicense,
    PatentHindrance,
    PatentPledge,
    PatentType,
)
from marketplace.models.reference import (
    Industry,
    IndustryLevel,
    IpcClass,
    IpcLevel,
    ReferenceTable,
    Region,
    RegionLevel,
)
from marketplace.models.saved_searches import SavedSearch, SavedSearchAlert, SavedSearchDigest
from marketplace.models.search import PatentRerankVector, PatentVector
from marketplace.models.search_terms import SynonymGroup, TermTranslation
from marketplace.models.tasks import UnsentTask

__all__ = [
    "EnterpriseSize",
    "ExclusiveLicenseKind",
    "ImportJob",
    "ImportPhase",
    "ImportStatus",
    "Industry",
    "IndustryLevel",
    "Invitation",
    "InvitationStatus",
    "IpcClass",
    "IpcLevel",
    "LegalStatus",
    "Membership",
    "MembershipRole",
    "MessageKind",
    "NeedStatus",
    "Notification",
    "Organisation",
    "OrganisationEvent",
    "OrganisationEventVerb",
    "OrganisationKind",
    "OutboundEmail",
    "OutboundEmailStatus",
    "Patent",
    "PatentCoOwner",
    "PatentDailyCount",
    "PatentEvent",
    "PatentExclusiveLicense",
    "PatentHindrance",
    "PatentPledge",
    "PatentRerankVector",
    "PatentType",
    "PatentVector",
    "PaymentMethodPreference",
    "ReferenceTable",
    "Region",
    "RegionLevel",
    "SavedSearch",
    "SavedSearchAlert",
    "SavedSearchDigest",
    "SmeProfile",
    "SynonymGroup",
    "TechnologyNeed",
    "TechnologyNeedEvent",
    "TermTranslation",
    "UnsentTask",
    "User",
    "message_kind_label",
    "register_message_kinds",
]
