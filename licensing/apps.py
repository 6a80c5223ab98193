"""App configuration for licensing."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


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
