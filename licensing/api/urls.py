"""Routes of the licensing API under /api/v1/."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from licensing.api import estimation, fees, licenses, mediation, views

router = SimpleRouter()
router.register("declarations", views.DeclarationViewSet, basename="declaration")
router.register("register", views.RegisterViewSet, basename="register")
router.register("licenses", licenses.LicenseViewSet, basename="license")
router.register("mediation-cases", mediation.MediationCaseViewSet, basename="mediation-case")

urlpatterns = [
    path("register/export/", views.RegisterExportView.as_view(), name="register-export"),
    path(
        "patents/<int:patent_id>/declarations/",
        views.PatentDeclarationsView.as_view(),
        name="patent-declarations",
    ),
    path("ordinary-licenses/", licenses.OrdinaryLicenseView.as_view(), name="ordinary-license"),
    path(
        "organisations/<int:organisation_id>/royalty-ledger/",
        licenses.OrganisationLedgerView.as_view(),
        name="organisation-ledger",
    ),
    path(
        "patents/<int:patent_id>/fee-calendar/", fees.FeeCalendarView.as_view(), name="fee-calendar"
    ),
    path(
        "organisations/<int:organisation_id>/fee-totals/",
        fees.FeeTotalsView.as_view(),
        name="fee-totals",
    ),
    path(
        "declarations/<int:declaration_id>/estimate/",
        estimation.DeclarationEstimateView.as_view(),
        name="declaration-estimate",
    ),
    path(
        "patents/<int:patent_id>/royalty-suggestion/",
        estimation.RoyaltySuggestionView.as_view(),
        name="royalty-suggestion",
    ),
    path("", include(router.urls)),
]
