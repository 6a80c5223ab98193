"""Top-level URLs: the API under /api/v1/, its schema and docs, the admin, /healthz, and the
pages the mails link to."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from licensing import pages as licensing_pages
from marketplace import pages
from marketplace.api.views import HealthView
from matching import funnel_pages
from reporting import pages as reporting_pages

page_patterns = [
    path("", pages.landing, name="landing"),
    path("login/", pages.login_page, name="login"),
    path("logout/", pages.logout_page, name="logout"),
    path("verify-email", pages.verify_email, name="verify-email"),
    path("invitations/accept", pages.accept_invitation, name="accept-invitation"),
    path("forgot-password", pages.forgot_password, name="forgot-password"),
    path("reset-password", pages.reset_password, name="reset-password"),
]
# The browsable API's log-in and log-out links name these (any verified user, not only staff).
browsable_api_patterns = [
    path("login/", pages.login_page, name="login"),
    path("logout/", pages.logout_page, name="logout"),
]

urlpatterns = [
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("api/v1/", include("marketplace.api.urls")),
    # The project's URL root composes the apps; marketplace code itself never imports licensing.
    path("api/v1/", include("licensing.api.urls")),
    path("api/v1/", include("matching.api.urls")),
    # The reviewers' funnel pages (issue 18) live under the admin, before its catch-all; the
    # whole register's is read from its snapshot (reporting).
    path("admin/funnel/", include(reporting_pages.admin_urls)),
    path("admin/", admin.site.urls),
    path("healthz", HealthView.as_view(), name="healthz"),
    path(
        "organisations/<id:organisation_id>/funnel/",
        funnel_pages.organisation_funnel_page,
        name="organisation-funnel-page",
    ),
    # What the license mails link to (a page of the licensing app, composed here).
    path("licenses/<id:license_id>/", licensing_pages.license_page, name="license-page"),
    path("", include((page_patterns, "pages"))),
    path("", include((browsable_api_patterns, "rest_framework"))),
]

handler400 = "marketplace.api.errors.json_bad_request"
handler404 = "marketplace.api.errors.json_not_found"
handler500 = "marketplace.api.errors.json_server_error"
