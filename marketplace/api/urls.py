"""Routes of the core app's API under /api/v1/."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from marketplace.api import views

router = DefaultRouter()
router.register("organisations", views.OrganisationViewSet, basename="organisation")
router.register("reference/industries", views.IndustryViewSet, basename="industry")
router.register("reference/regions", views.RegionViewSet, basename="region")
router.register("reference/tables", views.ReferenceTableViewSet, basename="reference-table")

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="auth-register"),
    path("auth/verify-email/", views.VerifyEmailView.as_view(), name="auth-verify-email"),
    path(
        "auth/resend-verification/",
        views.ResendVerificationView.as_view(),
        name="auth-resend-verification",
    ),
    path("auth/token/", views.LoginView.as_view(), name="auth-token"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("me/", views.MeView.as_view(), name="me"),
    path("invitations/accept/", views.InvitationAcceptView.as_view(), name="invitation-accept"),
    path("", include(router.urls)),
]
