"""Routes of the core app's API under /api/v1/."""

from functools import lru_cache
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, include, path, reverse
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import APIRootView, DefaultRouter

from marketplace.api import imports, needs, patents, saved_searches, views, vocabulary
from marketplace.api.ids import IdRouterMixin

API_PREFIX = "api/v1/"


def _route(pattern: Any) -> str | None:
    """A pattern's fixed path, or None when it has parameters (ids, format suffixes)."""
    text = str(pattern.pattern)
    if text.startswith("^"):  # a router's regex: ^organisations/$
        text = text[1:].removesuffix("$")
        if any(char in text for char in "()[]?*+\\"):
            return None
    return None if "<" in text else text


def _walk(patterns: list[Any], prefix: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for pattern in patterns:
        route = _route(pattern)
        if route is None:
            continue
        if isinstance(pattern, URLResolver):
            found += _walk(pattern.url_patterns, prefix + route)
        elif isinstance(pattern, URLPattern) and pattern.name:
            found.append((prefix + route, pattern.name))
    return found


@lru_cache(maxsize=1)
def api_endpoints() -> dict[str, str]:
    """Every endpoint under /api/v1/ without path parameters, by its path (`auth/token`),
    read from the URL configuration so that a new family is listed as soon as it is routed."""
    endpoints: dict[str, str] = {}
    for route, name in _walk(get_resolver().url_patterns, ""):
        key = route.removeprefix(API_PREFIX).strip("/")
        if route.startswith(API_PREFIX) and key and key not in endpoints:
            endpoints[key] = name
    return dict(sorted(endpoints.items()))


class PublicAPIRootView(APIRootView):
    """Every endpoint of the API that needs no id, with its address; anyone may read it."""

    permission_classes = [AllowAny]
    # What the browsable API and OPTIONS show in place of the docstring, in the reader's
    # language (DRF's description function prefers a `description` attribute).
    description = _(
        "Every endpoint of the API that needs no id, with its address; anyone may read it. "
        "Log in with POST auth/token/ and send the header Authorization: Token <key>; the "
        "documentation is at docs/ (Swagger UI) and redoc/."
    )

    def get_view_name(self) -> str:
        return str(_("API root"))

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(
            {
                key: request.build_absolute_uri(reverse(name))
                for key, name in api_endpoints().items()
            }
        )


class Router(IdRouterMixin, DefaultRouter):
    """Detail routes take ASCII-digit ids unless a viewset sets its own lookup_value_regex."""

    APIRootView = PublicAPIRootView


router = Router()
router.register("organisations", views.OrganisationViewSet, basename="organisation")
router.register("reference/industries", views.IndustryViewSet, basename="industry")
router.register("reference/regions", views.RegionViewSet, basename="region")
router.register("reference/tables", views.ReferenceTableViewSet, basename="reference-table")
router.register("reference/ipc", views.IpcClassViewSet, basename="ipc-class")
router.register("reference/synonyms", vocabulary.SynonymGroupViewSet, basename="synonym-group")
router.register(
    "reference/search-terms", vocabulary.TermTranslationViewSet, basename="term-translation"
)
router.register("patents", patents.PatentViewSet, basename="patent")
router.register("needs", needs.TechnologyNeedViewSet, basename="need")
router.register("notifications", views.NotificationViewSet, basename="notification")
router.register("patent-imports", imports.ImportJobViewSet, basename="patent-import")
router.register("saved-searches", saved_searches.SavedSearchViewSet, basename="saved-search")

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="auth-register"),
    path("auth/verify-email/", views.VerifyEmailView.as_view(), name="auth-verify-email"),
    path(
        "auth/resend-verification/",
        views.ResendVerificationView.as_view(),
        name="auth-resend-verification",
    ),
    path("auth/password-reset/", views.PasswordResetView.as_view(), name="auth-password-reset"),
    path(
        "auth/password-reset/confirm/",
        views.PasswordResetConfirmView.as_view(),
        name="auth-password-reset-confirm",
    ),
    path("auth/token/", views.LoginView.as_view(), name="auth-token"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("me/", views.MeView.as_view(), name="me"),
    path("invitations/accept/", views.InvitationAcceptView.as_view(), name="invitation-accept"),
    path("search/patents/", patents.PatentSearchView.as_view(), name="patent-search"),
    path("", include(router.urls)),
]
