"""Routes of the matching API under /api/v1/."""

from django.urls import path

from marketplace.api import ids  # noqa: F401  (registers the <id:> path converter)
from matching.api import funnel, views

urlpatterns = [
    path(
        "organisations/<id:organisation_id>/funnel/",
        funnel.OrganisationFunnelView.as_view(),
        name="organisation-funnel",
    ),
    path("matches/", views.SmeMatchesView.as_view(), name="matches"),
    path("matches/feedback/", views.FeedbackView.as_view(), name="match-feedback"),
    path(
        "declarations/<id:declaration_id>/candidates/",
        views.DeclarationCandidatesView.as_view(),
        name="declaration-candidates",
    ),
]
