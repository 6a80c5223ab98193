"""The reviewers' funnel pages in the admin: the whole register's read from its snapshot;
an organisation's (a few dozen declarations, computed live) as matching.funnel_pages has it."""

from __future__ import annotations

from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext_lazy as _

from marketplace import roles
from marketplace.api import ids  # noqa: F401  (registers the <id:> path converter)
from matching import funnel_pages
from reporting.register_funnel import register_funnel


def admin_overview(request: HttpRequest) -> HttpResponse:
    """The reviewers' funnel of the whole register, and the organisations to open."""
    if not roles.is_reviewer(request.user):
        raise Http404
    result = register_funnel()
    context = {
        **admin.site.each_context(request),
        "title": _("Licensing funnel of the register"),
        "organisations": result.organisations,
        "organisation": None,
        "totals": result.totals(),
        "rows": [],
        "as_of": result.as_of,
        "refreshed_at": result.refreshed_at,
        **funnel_pages.charts(result),
    }
    return render(request, "admin/funnel/overview.html", context)


admin_urls = [
    path("", admin.site.admin_view(admin_overview), name="funnel-overview"),
    path(
        "<id:organisation_id>/",
        admin.site.admin_view(funnel_pages.admin_organisation),
        name="funnel-org",
    ),
]
