"""Routes of the licensing API under /api/v1/."""

from django.urls import include, path, re_path

from licensing.api import estimation, fees, licenses, mediation, statistics, views
from marketplace.api.ids import IdRouter

router = IdRouter()
router.register("declarations", views.DeclarationViewSet, basename="declaration")
router.register("register", views.RegisterViewSet, basename="register")
router.register("licenses", licenses.LicenseViewSet, basename="license")
router.register("mediation-cases", mediation.MediationCaseViewSet, basename="mediation-case")

urlpatterns = [
    path("register/export/", views.RegisterExportView.as_view(), name="register-export"),
    path(
        "patents/<id:patent_id>/declarations/",
        views.PatentDeclarationsView.as_view(),
        name="patent-declarations",
    ),
    path("ordinary-licenses/", licenses.OrdinaryLicenseView.as_view(), name="ordinary-license"),
    path(
        "organisations/<id:organisation_id>/royalty-ledger/",
        licenses.OrganisationLedgerView.as_view(),
        name="organisation-ledger",
    ),
    path(
        "patents/<id:patent_id>/fee-calendar/", fees.FeeCalendarView.as_view(), name="fee-calendar"
    ),
    path(
        "organisations/<id:organisation_id>/fee-totals/",
        fees.FeeTotalsView.as_view(),
        name="fee-totals",
    ),
    path(
        "declarations/<id:declaration_id>/estimate/",
        estimation.DeclarationEstimateView.as_view(),
        name="declaration-estimate",
    ),
    path(
        "patents/<id:patent_id>/royalty-suggestion/",
        estimation.RoyaltySuggestionView.as_view(),
        name="royalty-suggestion",
    ),
    path("statistics/", statistics.StatisticsIndexView.as_view(), name="statistics"),
    re_path(
        rf"^statistics/(?P<dimension>{statistics.DIMENSION_REGEX})/$",
        statistics.StatisticsTableView.as_view(),
        name="statistics-table",
    ),
    path("", include(router.urls)),
]
