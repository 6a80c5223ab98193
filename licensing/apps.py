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
