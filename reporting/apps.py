"""App configuration for reporting."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportingConfig(AppConfig):
    """Reports across licensing and matching: the reviewers' register funnel."""

    name = "reporting"
    verbose_name = _("Reporting")
