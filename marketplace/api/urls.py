"""Routes of the core app's API under /api/v1/."""

from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.routers import APIRootView, DefaultRouter

from marketplace.api import imports, needs, patents, views
from marketplace.api.ids import IdRouterMixin


class PublicAPIRootView(APIRootView):
    """The API root lists the endpoints; anyone may read it."""

    permission_classes = [AllowAny]


class Router(IdRouterMixin, DefaultRouter):
    """Detail routes take ASCII-digit ids unless a viewset sets its own lookup_value_regex."""

    APIRootView = PublicAPIRootView


router = Router()
router.register("organisations", views.OrganisationViewSet, basename="organisation")
router.register("reference/industries", views.IndustryViewSet, basename="industry")
router.register("reference/regions", views.RegionViewSet, basename="region")
router.register("reference/tables", views.ReferenceTableViewSet, basename="reference-table")
router.register("reference/ipc", views.IpcClassViewSet, basename="ipc-class")
router.register("patents", patents.PatentViewSet, basename="patent")
router.register("needs", needs.TechnologyNeedViewSet, basename="need")
router.register("notifications", views.NotificationViewSet, basename="notification")
router.register("patent-imports", imports.ImportJobViewSet, basename="patent-import")

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
    path("search/patents/", patents.PatentSearchView.as_view(), name="patent-search"),
    path("", include(router.urls)),
]
