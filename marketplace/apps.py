"""App configuration for the core app."""

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate, post_save
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


def _patent_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A patent created or changed: its search vector is refreshed on the `index` queue after
    commit (an unchanged title and abstract cost a hash, not an embedding)."""
    from marketplace import dispatch

    dispatch.after_commit("marketplace.tasks.index_patent_vectors", [instance.pk])


def _patents_written(patent_ids: list[int]) -> None:
    """Patents written in bulk (an import): their vectors in tasks of 2,000, sent together."""
    from marketplace import dispatch

    batches = [
        (list(patent_ids[start : start + 2000]),) for start in range(0, len(patent_ids), 2000)
    ]
    dispatch.each_after_commit("marketplace.tasks.index_patent_vectors", batches)


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
            models.SynonymGroup,
            models.TermTranslation,
        )
        from marketplace.search.vocabulary import watch_vocabulary

        watch_vocabulary(models.SynonymGroup, models.TermTranslation)
        from marketplace.reference import count_edited_rows

        count_edited_rows(models.SynonymGroup, models.TermTranslation)

        from marketplace.patents import guards

        guards.register_listener(_patents_written)
        post_save.connect(
            _patent_saved, sender="marketplace.Patent", dispatch_uid="search_patent_vector"
        )
