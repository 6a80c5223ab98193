"""App configuration for matching."""

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _

from matching import dispatch

RETIRING = {"withdrawn", "terminated", "revoked", "expired", "superseded"}


def _declaration_event(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """Declaration timeline → incremental matching (matching reads licensing, never the
    reverse): announced ones are matched, ended ones leave every list."""
    if not created:
        return
    declaration_id = instance.declaration_id
    if instance.verb == "announced":
        dispatch.after_commit(dispatch.MATCH_DECLARATION, declaration_id)
    elif instance.verb in RETIRING:
        dispatch.after_commit(dispatch.RETIRE_DECLARATION, declaration_id)


def _text_changed(kind: str) -> Any:
    def receiver(sender: Any, instance: Any, **kwargs: Any) -> None:
        dispatch.after_commit(dispatch.INDEX_VECTORS, kind, [instance.pk])

    return receiver


def _profile_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    dispatch.after_commit(dispatch.INDEX_VECTORS, "sme", [instance.organisation_id])


def _lists_changed(field: str) -> Any:
    """A saved row changes an SME's lists (feedback given, a license taken): they are
    recomputed on the `match` queue after commit."""

    def receiver(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
        if field == "licensee_id" and not created:
            return  # a license leaves the lists when taken; later saves change nothing here
        dispatch.after_commit(dispatch.REFRESH_LISTS, [getattr(instance, field)])

    return receiver


class MatchingConfig(AppConfig):
    """Supply-demand matching engine."""

    name = "matching"
    verbose_name = _("Matching")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The tasks registered in every process (matching.dispatch sends them by name).
        import matching.tasks  # noqa: F401
        from marketplace.search.query import register_industry_resolver
        from matching.services import ipc_prefixes_for_industry

        register_industry_resolver(ipc_prefixes_for_industry)

        from marketplace.models import register_message_kinds

        register_message_kinds(
            {
                "new_match": _("a newly declared patent matches your needs"),
                "match_digest": _("weekly digest of new matches"),
            }
        )
        post_save.connect(
            _profile_saved,
            sender="marketplace.SmeProfile",
            dispatch_uid="matching_sme_profile_text",
        )
        post_save.connect(
            _declaration_event,
            sender="licensing.DeclarationEvent",
            dispatch_uid="matching_declaration_event",
        )
        post_save.connect(
            _lists_changed("sme_id"),
            sender="matching.MatchFeedback",
            dispatch_uid="matching_feedback_lists",
            weak=False,
        )
        post_save.connect(
            _lists_changed("licensee_id"),
            sender="licensing.License",
            dispatch_uid="matching_license_lists",
            weak=False,
        )
        post_save.connect(
            _text_changed("need"),
            sender="marketplace.TechnologyNeed",
            dispatch_uid="matching_need_text",
            weak=False,
        )
