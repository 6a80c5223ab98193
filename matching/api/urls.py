"""Routes of the matching API under /api/v1/."""

from django.urls import path

from marketplace.api import ids  # noqa: F401  (registers the <id:> path converter)
from matching.api import views

urlpatterns = [
    path("matches/", views.SmeMatchesView.as_view(), name="matches"),
    path("matches/feedback/", views.FeedbackView.as_view(), name="match-feedback"),
    path(
        "declarations/<id:declaration_id>/candidates/",
        views.DeclarationCandidatesView.as_view(),
        name="declaration-candidates",
    ),
]
