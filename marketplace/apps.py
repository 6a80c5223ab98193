"""App configuration for the core app."""

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def sync_platform_role_groups(**kwargs: Any) -> None:
    """Create the reviewer and mediator groups and give them exactly their permissions."""
    from django.contrib.auth.models import Group, Permission

    from marketplace import roles

    using = kwargs.get("using", "default")
    for group_name, permission_names in roles.GROUP_PERMISSIONS.items():
        group, _created = Group.objects.using(using).get_or_create(name=group_name)
        wanted = []
        for dotted in permission_names:
            app_label, codename = dotted.split(".", 1)
            permission = (
                Permission.objects.using(using)
                .filter(content_type__app_label=app_label, codename=codename)
                .first()
            )
            if permission is not None:  # a later app's permission appears once it migrates
                wanted.append(permission)
        group.permissions.set(wanted)


class MarketplaceConfig(AppConfig):
    """Core app: organisations, people, reference data (later patents, needs, search)."""

    name = "marketplace"
    verbose_name = _("Marketplace")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Runs after every app's permissions exist (auth's own post_migrate handler goes first
        # because django.contrib.auth is listed before us).
        post_migrate.connect(sync_platform_role_groups, dispatch_uid="sync_platform_role_groups")
        from marketplace import models
        from marketplace.http_cache import invalidate_on_change

        # Everything the public reads show (marketplace/http_cache.py); every patent edit also
        # appends a PatentEvent.
        invalidate_on_change(
            models.Patent,
            models.PatentEvent,
            models.PatentCoOwner,
            models.PatentPledge,
            models.PatentExclusiveLicense,
            models.PatentHindrance,
            models.Organisation,
            models.Industry,
            models.Region,
            models.IpcClass,
            models.ReferenceTable,
        )
