"""The server-rendered page of one license, which every license mail links to: its parties,
terms, dates, payments and steps, with the contract PDF, for a member of either party."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from licensing.api.serializers import royalty_text
from licensing.models import License, LicenseEvent
from licensing.services.licenses import filing_deadline
from marketplace.units import cny


@require_GET
def license_page(request: HttpRequest, license_id: int) -> HttpResponse:
    """GET /licenses/{id}/: one license as its parties (and platform staff) see it."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), login_url=reverse("pages:login"))
    license = (
        License.objects.visible_to(request.user)
        .select_related("patent", "licensor", "licensee", "declaration")
        .filter(pk=license_id)
        .first()
    )
    if license is None:
        raise Http404
    Verb = LicenseEvent.Verb
    context = {
        "license": license,
        "royalty": royalty_text(license.declaration) if license.declaration else "",
        "due_at_acceptance": cny(license.due_at_acceptance_cny),
        "filing_deadline": filing_deadline(license) if license.is_open_license else None,
        "payments": [
            (payment, cny(payment.amount_cny))
            for payment in license.payments.order_by("paid_on", "pk")
        ],
        "steps": [
            (event.created_at, Verb.label_of(event.verb), event.reason)
            for event in license.events.order_by("created_at", "pk")
        ],
        "document_url": reverse("license-document", args=[license.pk]),
        "api_url": reverse("license-detail", args=[license.pk]),
    }
    return render(request, "licensing/license_page.html", context)
