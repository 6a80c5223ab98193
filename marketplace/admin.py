"""Admin for platform staff: users and roles, organisations, reference data, outgoing mail.

Business records are read-only here: changes go through the services (and the API), which
record who did what; the admin is where staff look things up and grant platform roles.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from marketplace import roles
from marketplace.models import (
    ImportJob,
    Industry,
    Invitation,
    Membership,
    Notification,
    Organisation,
    OrganisationEvent,
    OutboundEmail,
    Patent,
    PatentDailyCount,
    PatentVector,
    ReferenceTable,
    Region,
    SavedSearch,
    SavedSearchAlert,
    SavedSearchDigest,
    SmeProfile,
    SynonymGroup,
    TechnologyNeed,
    TermTranslation,
    UnsentTask,
    User,
)

admin.site.site_header = _("Open-license patent marketplace")
admin.site.site_title = _("Marketplace admin")
admin.site.index_title = _("Administration")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Look, do not touch: the services own these rows."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class VisibleToAdmin(ReadOnlyAdmin):
    """Read-only, and its list starts from the model's `visible_to(user)`, as the API's does
    (the staff who reach these pages see every row today; the rule stays in one place).
    Notifications and declarations keep the admin's wider scope: staff look up anyone's
    notifications, and reviewers see drafts here that the API shows only to the patentee."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).visible_to(request.user)  # type: ignore[attr-defined]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MembershipInline(ReadOnlyInline):
    model = Membership
    fields = ("organisation", "user", "role", "created_at")
    readonly_fields = fields


class UserCreationForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class PlatformRoleFilter(admin.SimpleListFilter):
    """The platform roles (groups) by their name in the reader's language."""

    title = _("platform role")
    parameter_name = "role"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(name, label) for name, label in roles.LABELS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        if self.value() in roles.LABELS:
            return queryset.filter(groups__name=self.value())
        return queryset


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_staff", "email_verified_at"]
    list_filter = ["is_active", "is_staff", "is_superuser", PlatformRoleFilter]
    search_fields = ["email", "full_name"]
    readonly_fields = ["last_login", "date_joined", "email_verified_at"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("full_name", "preferred_language")}),
        (
            _("Platform roles and permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined", "email_verified_at")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),
    )
    inlines = [MembershipInline]


class OrganisationEventInline(ReadOnlyInline):
    model = OrganisationEvent
    fields = ("created_at", "verb", "actor", "subject_user", "data")
    readonly_fields = fields
    ordering = ["-created_at"]


@admin.register(Organisation)
class OrganisationAdmin(VisibleToAdmin):
    list_display = ["name", "kind", "region", "credit_code", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "name_en", "credit_code"]
    list_select_related = ["region"]
    inlines = [MembershipInline, OrganisationEventInline]


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["email", "organisation", "role", "status", "created_at", "expires_at"]
    list_filter = ["status", "role"]
    search_fields = ["email", "organisation__name"]
    exclude = ["token_hash"]


@admin.register(SmeProfile)
class SmeProfileAdmin(ReadOnlyAdmin):
    list_display = ["organisation", "industry", "region", "size", "updated_at"]
    list_filter = ["size"]
    search_fields = ["organisation__name", "industry__code", "industry__name_zh"]
    list_select_related = ["organisation", "industry", "region"]


@admin.register(OrganisationEvent)
class OrganisationEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "organisation", "verb", "actor", "subject_user"]
    list_filter = ["verb"]
    search_fields = ["organisation__name", "actor__email"]
    list_select_related = ["organisation", "actor", "subject_user"]


@admin.register(ReferenceTable)
class ReferenceTableAdmin(ReadOnlyAdmin):
    # The table's title in the reader's language, not its key (an identifier such as
    # search_terms, which the API uses in /reference/tables/).
    list_display = ["table_title", "standard", "version", "row_count", "loaded_at"]
    search_fields = ["key", "title_zh", "title_en", "standard"]

    @admin.display(description=_("table"), ordering="key")
    def table_title(self, table: ReferenceTable) -> str:
        return table.title_en if get_language() == "en" else table.title_zh


@admin.register(SynonymGroup)
class SynonymGroupAdmin(admin.ModelAdmin):
    """Maintained by staff: a change reaches every search within a second (no restart)."""

    list_display = ["key", "terms", "source", "updated_at"]
    search_fields = ["key", "terms", "source"]
    readonly_fields = ["key", "updated_at"]


@admin.register(TermTranslation)
class TermTranslationAdmin(admin.ModelAdmin):
    """Maintained by staff: a change reaches every search within a second (no restart)."""

    list_display = ["term_en", "term_zh", "sources", "updated_at"]
    search_fields = ["term_en", "term_zh", "sources"]
    readonly_fields = ["updated_at"]


@admin.register(Industry)
class IndustryAdmin(ReadOnlyAdmin):
    list_display = ["code", "level", "name_zh", "name_en"]
    list_filter = ["level"]
    search_fields = ["code", "name_zh", "name_en"]


@admin.register(Region)
class RegionAdmin(ReadOnlyAdmin):
    list_display = ["code", "level", "name_zh", "parent"]
    list_filter = ["level"]
    search_fields = ["code", "name_zh"]


@admin.register(OutboundEmail)
class OutboundEmailAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "to_email", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind"]
    search_fields = ["to_email", "subject"]


@admin.register(Patent)
class PatentAdmin(VisibleToAdmin):
    list_display = [
        "application_number",
        "title",
        "patent_type",
        "owner",
        "legal_status",
        "is_listed",
        "expiry_date",
    ]
    list_filter = ["patent_type", "legal_status", "is_listed"]
    search_fields = ["application_number", "patent_number", "title", "owner__name"]
    list_select_related = ["owner"]
    # The search columns are derived for the engine, not read by people.
    exclude = ["title_tokens", "body_tokens", "gram_tokens"]


@admin.register(TechnologyNeed)
class TechnologyNeedAdmin(VisibleToAdmin):
    list_display = ["title", "organisation", "status", "payment_method", "expires_on"]
    list_filter = ["status", "payment_method"]
    search_fields = ["title", "organisation__name"]
    list_select_related = ["organisation"]


@admin.register(ImportJob)
class ImportJobAdmin(VisibleToAdmin):
    list_display = [
        "file_name",
        "organisation",
        "status",
        "total_rows",
        "created_count",
        "updated_count",
        "error_count",
        "created_at",
    ]
    list_filter = ["status", "all_or_nothing"]
    search_fields = ["file_name", "organisation__name"]
    list_select_related = ["organisation"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "user", "kind", "title", "read_at"]
    list_filter = ["kind"]
    search_fields = ["user__email", "title"]
    list_select_related = ["user"]


@admin.register(UnsentTask)
class UnsentTaskAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "target", "attempts"]


@admin.register(PatentVector)
class PatentVectorAdmin(ReadOnlyAdmin):
    list_display = ["patent", "model", "updated_at"]
    list_select_related = ["patent"]
    exclude = ["vector"]


class SavedSearchAlertInline(ReadOnlyInline):
    model = SavedSearchAlert
    fields = ("created_at", "patent", "declaration_number", "digest")
    readonly_fields = fields


@admin.register(SavedSearch)
class SavedSearchAdmin(ReadOnlyAdmin):
    """A user's saved searches, to answer "why did (not) I get an alert"."""

    list_display = ["name", "owner", "is_paused", "created_at"]
    list_filter = ["is_paused"]
    search_fields = ["name", "owner__email"]
    list_select_related = ["owner"]
    inlines = [SavedSearchAlertInline]


@admin.register(SavedSearchAlert)
class SavedSearchAlertAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "saved_search", "patent", "declaration_number", "digest"]
    search_fields = ["declaration_number", "patent__application_number", "saved_search__name"]
    list_select_related = ["saved_search", "patent", "digest"]


@admin.register(SavedSearchDigest)
class SavedSearchDigestAdmin(ReadOnlyAdmin):
    list_display = ["day", "user", "created_at"]
    search_fields = ["user__email"]
    date_hierarchy = "day"
    list_select_related = ["user"]


@admin.register(PatentDailyCount)
class PatentDailyCountAdmin(ReadOnlyAdmin):
    list_display = ["day", "patent", "views", "search_impressions"]
    search_fields = ["patent__application_number", "patent__title"]
    date_hierarchy = "day"
    list_select_related = ["patent"]
