"""Admin views of the matching engine: runs and their progress, the concordance."""

from django.contrib import admin

from marketplace.admin import VisibleToAdmin
from matching.models import IpcIndustry, Match, MatchRun

# Reviewers find the licensing funnel (matching/funnel_pages.py) at the top of the admin index.
admin.site.index_template = "admin/index_with_funnel.html"


@admin.register(MatchRun)
class MatchRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "status",
        "is_current",
        "done_chunks",
        "total_chunks",
        "started_at",
        "finished_at",
    ]
    readonly_fields = [
        "kind",
        "status",
        "is_current",
        "done_chunks",
        "total_chunks",
        "started_at",
        "finished_at",
    ]


@admin.register(IpcIndustry)
class IpcIndustryAdmin(admin.ModelAdmin):
    list_display = ["ipc_prefix", "industry_code", "weight", "source"]
    search_fields = ["ipc_prefix", "industry_code"]
    list_filter = ["source"]


@admin.register(Match)
class MatchAdmin(VisibleToAdmin):
    list_display = ["sme", "declaration", "need", "score", "rank", "run"]
    search_fields = ["sme__name", "declaration__number"]
    list_select_related = ["sme", "declaration", "need", "run"]
