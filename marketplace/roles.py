"""Platform roles (reviewer, mediator) as groups with permissions, and the checks on them."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

REVIEWER = "reviewer"
MEDIATOR = "mediator"
MEDIATION_SUPERVISOR = "mediation supervisor"

# The group names are codes; people read these labels.
LABELS = {
    REVIEWER: _("reviewer"),
    MEDIATOR: _("mediator"),
    MEDIATION_SUPERVISOR: _("mediation supervisor"),
}

# Custom permissions live on Organisation's Meta (app label "marketplace"); later apps add
# their own model permissions to these groups here.
REVIEW_DECLARATIONS = "marketplace.review_declarations"
REVIEW_WITHDRAWALS = "marketplace.review_withdrawals"
REVIEW_FILINGS = "marketplace.review_filings"
RECORD_LEGAL_STATUS = "marketplace.record_legal_status"
MEDIATE = "marketplace.mediate_disputes"
SUPERVISE_MEDIATION = "marketplace.supervise_mediation"

GROUP_PERMISSIONS: dict[str, list[str]] = {
    REVIEWER: [
        REVIEW_DECLARATIONS,
        REVIEW_WITHDRAWALS,
        REVIEW_FILINGS,
        RECORD_LEGAL_STATUS,
        "marketplace.view_organisation",
        "marketplace.view_membership",
        "marketplace.view_smeprofile",
        "marketplace.view_organisationevent",
    ],
    MEDIATOR: [
        MEDIATE,
        "marketplace.view_organisation",
        "marketplace.view_smeprofile",
    ],
    MEDIATION_SUPERVISOR: [
        MEDIATE,
        SUPERVISE_MEDIATION,
        "marketplace.view_organisation",
        "marketplace.view_smeprofile",
    ],
}


def has(user: Any, permission: str) -> bool:
    """The user is active and holds the permission (through a platform group)."""
    return bool(user.is_authenticated and user.is_active and user.has_perm(permission))


def is_reviewer(user: Any) -> bool:
    return has(user, REVIEW_DECLARATIONS)


def is_mediator(user: Any) -> bool:
    return has(user, MEDIATE)


def is_platform_staff(user: Any) -> bool:
    """Reviewers and mediators read every organisation's private card; superusers too."""
    return is_reviewer(user) or is_mediator(user)
