"""Platform roles: granting and revoking reviewer and mediator membership."""

from __future__ import annotations

import logging

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from marketplace import roles
from marketplace.errors import InvalidInput
from marketplace.models import User

logger = logging.getLogger("marketplace.audit")


def _group(role: str) -> Group:
    if role not in roles.GROUP_PERMISSIONS:
        raise InvalidInput(
            "unknown_role", _("There is no platform role %(role)s."), params={"role": role}
        )
    group, _created = Group.objects.get_or_create(name=role)
    return group


@transaction.atomic
def platform_role_grant(*, user: User, role: str, actor: User | None) -> None:
    """Put the user in the role's group; staff status lets them into the admin."""
    user.groups.add(_group(role))
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    logger.info("platform role %s granted to %s by %s", role, user.email, actor or "command line")


@transaction.atomic
def platform_role_revoke(*, user: User, role: str, actor: User | None) -> None:
    """Take the user out of the role's group."""
    user.groups.remove(_group(role))
    logger.info("platform role %s revoked from %s by %s", role, user.email, actor or "command line")
