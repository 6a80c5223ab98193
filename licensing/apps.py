"""App configuration for licensing."""

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _


def _announced(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """A declaration announced: the saved searches that find its patent are alerted on the
    notifications' (default) queue after commit (the patent is listed with its terms by then)."""
    if not created or instance.verb != "announced":
        return
    from marketplace import dispatch

    dispatch.after_commit("marketplace.tasks.alert_saved_searches", instance.declaration_id)


def message_kinds() -> dict[str, str | Promise]:
    """Every kind of notification (and its e-mail) licensing sends, with its label: a step of
    a declaration, a license or a case that somebody is told of (`<subject>_<verb>`, the
    models' Verb choices) or a reminder."""
    from licensing.models import DeclarationEvent, LicenseEvent, MediationEvent

    kinds: dict[str, str | Promise] = {}
    for prefix, subject, verbs in (
        ("declaration", _("open-license declaration"), DeclarationEvent.Verb),
        ("license", _("license"), LicenseEvent.Verb),
        ("mediation", _("mediation case"), MediationEvent.Verb),
    ):
        for verb in verbs:
            if verb.audience:
                kinds[f"{prefix}_{verb.value}"] = format_lazy(
                    _("{subject}: {step}"), subject=subject, step=verb.label
                )
    kinds.update(
        {
            "filing_due": _("license filing due"),
            "royalty_report_due": _("royalty report due"),
            "payment_overdue": _("payment overdue"),
            "mediation_deadline": _("mediation deadline"),
        }
    )
    return kinds


class LicensingConfig(AppConfig):
    """Declarations, licenses, fees, royalties and mediation."""

    name = "licensing"
    verbose_name = _("Licensing")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # marketplace cannot import licensing; it asks these hooks instead (patents/guards.py).
        from licensing.services.declarations import declarations_recheck, patent_guard
        from marketplace.patents import guards

        guards.register_guard(patent_guard)
        guards.register_listener(declarations_recheck)

        from marketplace.models import register_message_kinds

        register_message_kinds(message_kinds())

        from licensing import models
        from marketplace.http_cache import invalidate_on_change

        # Every status change appends a DeclarationEvent (workflow.transition updates the row
        # with a compare-and-swap, which sends no post_save); licenses change the hit counts
        # (their status changes append a LicenseEvent too).
        invalidate_on_change(
            models.Declaration,
            models.DeclarationEvent,
            models.License,
            models.LicenseEvent,
            models.RoyaltyStatistic,
        )
        post_save.connect(
            _announced, sender=models.DeclarationEvent, dispatch_uid="saved_search_alerts"
        )
