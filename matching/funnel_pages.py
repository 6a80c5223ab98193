"""The funnel as pictures: the reviewers' pages in the admin (every organisation, and the
whole register) and the patentee's page for its members, with SVG charts rendered here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketplace import roles
from marketplace.api import ids  # noqa: F401  (registers the <id:> path converter)
from marketplace.charts import bar_chart, line_chart
from marketplace.models import Organisation
from matching.api.funnel import funnel_data
from matching.funnel import Funnel, funnel, organisations_with_declarations

STAGE_LABELS = {
    "views": _("patent page views"),
    "search_impressions": _("search impressions"),
    "smes_reached": _("SMEs reached by matching"),
    "interested": _("SMEs interested"),
    "notices_sent": _("license notices sent"),
    "licenses_effective": _("licenses effective"),
    "licenses_filed": _("licenses filed"),
}


def charts(result: Funnel) -> dict[str, Any]:
    totals = result.totals()
    months = [month["month"] for month in result.months]

    def series(key: str) -> list[float]:
        return [float(month[key]) for month in result.months]

    return {
        "funnel_chart": bar_chart(
            [(str(label), totals[key]) for key, label in STAGE_LABELS.items()],
            title=str(_("Licensing funnel")),
        ),
        "interest_chart": line_chart(
            months,
            [
                (str(STAGE_LABELS["views"]), series("views")),
                (str(STAGE_LABELS["search_impressions"]), series("search_impressions")),
            ],
            title=str(_("Interest by month")),
        ),
        "licenses_chart": line_chart(
            months,
            [
                (str(STAGE_LABELS["notices_sent"]), series("notices_sent")),
                (str(STAGE_LABELS["licenses_effective"]), series("licenses_effective")),
            ],
            title=str(_("Notices and licenses by month")),
        ),
        "royalties_chart": line_chart(
            months,
            [(str(_("royalties received (CNY)")), series("royalties_received_cny"))],
            title=str(_("Royalties received by month")),
        ),
    }


# The whole register's funnel takes ~11 s at pilot scale (BENCHMARKS.md, "Licensing funnel"):
# the reviewers' overview keeps it for ten minutes rather than computing it on every visit.
REGISTER_CACHE_KEY = "funnel:register:v1"
REGISTER_CACHE_SECONDS = 600


def _context(organisation: Organisation | None) -> dict[str, Any]:
    today = timezone.localdate()
    if organisation is None:
        result = cache.get(REGISTER_CACHE_KEY)
        if result is None or result.as_of != today:
            result = funnel(None, today)
            cache.set(REGISTER_CACHE_KEY, result, REGISTER_CACHE_SECONDS)
    else:
        result = funnel(organisation.pk, today)
    data = funnel_data(organisation, result) if organisation else None
    return {
        "organisation": organisation,
        "totals": result.totals(),
        "rows": data["declarations"] if data else [],
        "as_of": result.as_of,
        **charts(result),
    }


def organisation_funnel_page(request: HttpRequest, organisation_id: int) -> HttpResponse:
    """GET /organisations/{id}/funnel/: the patentee's own funnel (its members; reviewers)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), login_url="/login/")
    organisation = (
        Organisation.objects.records_visible_to(request.user).filter(pk=organisation_id).first()
    )
    if organisation is None:
        raise Http404
    return render(request, "funnel/page.html", _context(organisation))


def _reviewer_only(request: HttpRequest) -> None:
    if not roles.is_reviewer(request.user):
        raise Http404


def admin_overview(request: HttpRequest) -> HttpResponse:
    """The reviewers' funnel of the whole register, and the organisations to open."""
    _reviewer_only(request)
    context = {
        **admin.site.each_context(request),
        "title": _("Licensing funnel of the register"),
        "organisations": organisations_with_declarations(),
        **_context(None),
    }
    return render(request, "admin/funnel/overview.html", context)


def admin_organisation(request: HttpRequest, organisation_id: int) -> HttpResponse:
    _reviewer_only(request)
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        raise Http404
    context = {
        **admin.site.each_context(request),
        "title": _("Licensing funnel of %(name)s") % {"name": organisation.name},
        **_context(organisation),
    }
    return render(request, "admin/funnel/organisation.html", context)


admin_urls = [
    path("", admin.site.admin_view(admin_overview), name="funnel-overview"),
    path("<id:organisation_id>/", admin.site.admin_view(admin_organisation), name="funnel-org"),
]
