"""Top-level URLs: the API under /api/v1/, its schema and docs, the admin, /healthz."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from marketplace.api.views import HealthView

urlpatterns = [
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("api/v1/", include("marketplace.api.urls")),
    # The project's URL root composes the apps; marketplace code itself never imports licensing.
    path("api/v1/", include("licensing.api.urls")),
    path("api/v1/", include("matching.api.urls")),
    path("admin/", admin.site.urls),
    path("healthz", HealthView.as_view(), name="healthz"),
]

handler400 = "marketplace.api.errors.json_bad_request"
handler404 = "marketplace.api.errors.json_not_found"
handler500 = "marketplace.api.errors.json_server_error"
