"""Routes of the matching API under /api/v1/."""

from django.urls import path

from matching.api import views

urlpatterns = [
    path("matches/", views.SmeMatchesView.as_view(), name="matches"),
    path("matches/feedback/", views.FeedbackView.as_view(), name="match-feedback"),
    path(
        "declarations/<int:declaration_id>/candidates/",
        views.DeclarationCandidatesView.as_view(),
        name="declaration-candidates",
    ),
]
