"""Patents: bibliographic data, legal-status facts, co-owners, history, the search vector."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Value
from django.db.models.expressions import Func
from django.utils.translation import gettext_lazy as _

from marketplace.querysets import PatentQuerySet


class PatentType(models.TextChoices):
    INVENTION = "invention", _("invention (发明)")
    UTILITY_MODEL = "utility_model", _("utility model (实用新型)")
    DESIGN = "design", _("design (外观设计)")


class LegalStatus(models.TextChoices):
    IN_FORCE = "in_force", _("in force")
    TERMINATED = "terminated", _("terminated (fees unpaid or abandoned)")
    EXPIRED = "expired", _("expired (term ended)")
    INVALIDATED = "invalidated", _("wholly invalidated")


class _ToTsvector(Func):
    function = "to_tsvector"
    output_field = SearchVectorField()


class _SetWeight(Func):
    function = "setweight"
    output_field = SearchVectorField()


class _Strip(Func):
    function = "strip"
    output_field = SearchVectorField()


class _Concat(Func):
    arg_joiner = " || "
    template = "(%(expressions)s)"
    output_field = SearchVectorField()


class _SearchTags(Func):
    """Every search filter of a patent as one tag array, for one GIN index.

    The IPC prefixes, then `type:<patent type>`, `prov:<2 digits>`, `city:<4 digits>` and
    `region:<6 digits>` of the owner's region. With the province kept on the organisation,
    PostgreSQL applied it after visiting the heap page of every text match: 1M patents, API
    p95 378 ms (BENCHMARKS.md). As tags, the index finds only real matches.
    """

    output_field = ArrayField(models.TextField())

    def __init__(self) -> None:
        super().__init__(
            models.F("ipc_prefixes"), models.F("patent_type"), models.F("owner_region")
        )

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, **extra_context: Any
    ) -> tuple[str, list[Any]]:
        (ipc, _p1), (kind, _p2), (region, _p3) = (
            compiler.compile(expression) for expression in self.get_source_expressions()
        )
        sql = (
            f"({ipc}::text[] || ARRAY['type:' || {kind}, 'prov:' || left({region}, 2), "
            f"'city:' || left({region}, 4), 'region:' || {region}]::text[])"
        )
        return sql, []


def _weighted(column: str, weight: str) -> _SetWeight:
    # 'simple'::regconfig keeps the expression immutable, as a generated column requires.
    return _SetWeight(
        _ToTsvector(Value("simple", output_field=models.CharField()), models.F(column)),
        Value(weight),
    )


def _grams(column: str) -> _Strip:
    # Positions and weights stripped: the channel asks only which bigrams a patent has.
    return _Strip(_ToTsvector(Value("simple", output_field=models.CharField()), models.F(column)))


class Patent(models.Model):
    """A Chinese patent (or application) in an organisation's portfolio."""

    application_number = models.CharField(_("application number"), max_length=14, unique=True)
    patent_type = models.CharField(_("type"), max_length=16, choices=PatentType.choices)
    is_pct = models.BooleanField(_("PCT national phase"), default=False)
    title = models.CharField(_("title"), max_length=500)
    abstract = models.TextField(_("abstract"), blank=True)
    claims = models.TextField(_("claims"), blank=True)
    main_ipc = models.CharField(_("main IPC"), max_length=20)
    further_ipcs = ArrayField(
        models.CharField(max_length=20), verbose_name=_("further IPCs"), default=list, blank=True
    )
    # Every level of every IPC as a compact prefix (H, H01, H01M, H01M10, H01M10/052).
    ipc_prefixes = ArrayField(
        models.CharField(max_length=20),
        default=list,
        editable=False,
        verbose_name=_("IPC prefixes"),
    )
    filing_date = models.DateField(_("filing date"))
    grant_date = models.DateField(_("grant announcement date"), null=True, blank=True)
    expiry_date = models.DateField(_("expiry date (last day in force)"))
    publication_numbers = ArrayField(
        models.CharField(max_length=20),
        verbose_name=_("publication numbers"),
        default=list,
        blank=True,
    )
    owner = models.ForeignKey(
        "marketplace.Organisation",
        on_delete=models.PROTECT,
        related_name="patents",
        verbose_name=_("owner"),
    )
    # The owner's region code, kept by database triggers (migration 0007) whenever the owner
    # or the owner's region changes, so the region filter can be part of search_tags.
    owner_region = models.CharField(_("owner region"), max_length=6, default="", editable=False)
    co_owners: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        "marketplace.Organisation",
        through="PatentCoOwner",
        related_name="co_owned_patents",
        blank=True,
        verbose_name=_("co-owners"),
    )

    # Legal-status facts (the declaration bars read these).
    legal_status = models.CharField(
        _("legal status"), max_length=12, choices=LegalStatus.choices, default=LegalStatus.IN_FORCE
    )
    annual_fees_paid_through = models.PositiveSmallIntegerField(
        _("annual fees paid through patent year"), null=True, blank=True
    )
    is_suspended = models.BooleanField(_("suspended for an ownership dispute"), default=False)
    is_under_preservation = models.BooleanField(_("under court preservation"), default=False)
    evaluation_report_date = models.DateField(
        _("patent right evaluation report date"), null=True, blank=True
    )
    evaluation_report_positive = models.BooleanField(
        _("evaluation report conclusion positive"), null=True, blank=True
    )

    # Segmented text (jieba) that the generated search vector is built from.
    title_tokens = models.TextField(_("title words"), default="", editable=False)
    body_tokens = models.TextField(_("body words"), default="", editable=False)
    search_vector = models.GeneratedField(
        expression=_Concat(_weighted("title_tokens", "A"), _weighted("body_tokens", "B")),
        output_field=SearchVectorField(),
        db_persist=True,
        verbose_name=_("search vector"),
    )
    # Character bigrams of the title and abstract (marketplace/search/segment.py `grams`): the
    # search's second, lower-weighted channel for words jieba cuts differently.
    gram_tokens = models.TextField(_("title and abstract bigrams"), default="", editable=False)
    gram_vector = models.GeneratedField(
        expression=_grams("gram_tokens"),
        output_field=SearchVectorField(),
        db_persist=True,
        verbose_name=_("bigram vector"),
    )
    search_tags = models.GeneratedField(
        expression=_SearchTags(),
        output_field=ArrayField(models.TextField()),
        db_persist=True,
        verbose_name=_("search tags"),
    )
    # Set by licensing while the patent has an announced declaration: public search shows it,
    # filtered and sorted on these copies of the declaration's terms.
    is_listed = models.BooleanField(_("listed in public search"), default=False)
    listed_payment_method = models.CharField(
        _("listed payment method"), max_length=24, blank=True, editable=False
    )
    # What is due at acceptance: the lump sum or the entry fee (0 when none).
    listed_upfront_cny = models.DecimalField(
        _("listed upfront payment (CNY)"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        editable=False,
    )
    listed_royalty_rate = models.DecimalField(
        _("listed royalty rate"),
        max_digits=7,
        decimal_places=4,
        null=True,
        blank=True,
        editable=False,
    )

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects: ClassVar[PatentQuerySet] = PatentQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("patent")
        verbose_name_plural = _("patents")
        ordering = ["-created_at", "-id"]
        indexes = [
            # Words and filters in one multicolumn GIN index: one scan intersects both. With an
            # index each, the planner trusted its estimate of a few rows for a 5-word query and
            # filtered the tags on the heap (1M patents: 194 ms → 29 ms, BENCHMARKS.md).
            GinIndex(fields=["search_vector", "search_tags"], name="patent_search"),
            # The bigram channel (marketplace/search/query.py `_gram_candidates`), filters alike.
            GinIndex(fields=["gram_vector", "search_tags"], name="patent_gram_search"),
            # IPC prefix filter: ipc_prefixes @> ARRAY['H01M'].
            GinIndex(fields=["ipc_prefixes"], name="patent_ipc_prefixes"),
            # Search by publication number: publication_numbers @> ARRAY['CN112345678A'].
            GinIndex(fields=["publication_numbers"], name="patent_publication_numbers"),
            # Public search only ever reads listed patents; owners read by owner.
            models.Index(
                fields=["expiry_date"],
                name="patent_listed_expiry",
                condition=models.Q(is_listed=True),
            ),
            models.Index(fields=["owner", "-created_at"], name="patent_owner_created"),
            # The anonymous patent list: WHERE is_listed ORDER BY created_at DESC (cursor
            # pagination), read backwards; without it every page sorted every listed patent.
            models.Index(
                fields=["created_at", "id"],
                name="patent_listed_created",
                condition=models.Q(is_listed=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(patent_type__in=PatentType.values), name="patent_type_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(legal_status__in=LegalStatus.values),
                name="patent_legal_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(grant_date__isnull=True)
                | models.Q(grant_date__gte=models.F("filing_date")),
                name="patent_grant_not_before_filing",
            ),
            models.CheckConstraint(
                condition=models.Q(expiry_date__gt=models.F("filing_date")),
                name="patent_expiry_after_filing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application_number} {self.title[:40]}"

    @property
    def patent_number(self) -> str:
        return f"ZL{self.application_number}"


class PatentCoOwner(models.Model):
    """A further patentee of a co-owned patent (the owner maintains it on the platform)."""

    patent = models.ForeignKey(
        Patent, on_delete=models.CASCADE, related_name="co_ownerships", verbose_name=_("patent")
    )
    organisation = models.ForeignKey(
        "marketplace.Organisation",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("organisation"),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("patent co-owner")
        verbose_name_plural = _("patent co-owners")
        ordering = ["patent_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["patent", "organisation"], name="patent_co_owner_once"),
        ]

    def __str__(self) -> str:
        return f"{self.organisation_id} co-owns {self.patent_id}"


class PatentPledge(models.Model):
    """A registered pledge (质押); open licensing needs the pledgee's consent."""

    patent = models.ForeignKey(
        Patent, on_delete=models.CASCADE, related_name="pledges", verbose_name=_("patent")
    )
    pledgee = models.CharField(_("pledgee"), max_length=200)
    registered_on = models.DateField(_("registered on"))
    pledgee_consents = models.BooleanField(_("pledgee consents to open licensing"))
    released_on = models.DateField(_("released on"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("patent pledge")
        verbose_name_plural = _("patent pledges")
        ordering = ["patent_id", "registered_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(released_on__isnull=True)
                | models.Q(released_on__gte=models.F("registered_on")),
                name="pledge_released_after_registered",
            ),
        ]

    def __str__(self) -> str:
        return f"pledge of {self.patent_id} to {self.pledgee}"


class ExclusiveLicenseKind(models.TextChoices):
    EXCLUSIVE = "exclusive", _("exclusive license (独占许可)")
    SOLE = "sole", _("sole license (排他许可)")


class PatentExclusiveLicense(models.Model):
    """An exclusive or sole license recorded against the patent (bars open licensing)."""

    patent = models.ForeignKey(
        Patent,
        on_delete=models.CASCADE,
        related_name="exclusive_licenses",
        verbose_name=_("patent"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=ExclusiveLicenseKind.choices)
    licensee = models.CharField(_("licensee"), max_length=200)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("exclusive license of a patent")
        verbose_name_plural = _("exclusive licenses of patents")
        ordering = ["patent_id", "starts_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="exclusive_license_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} license of {self.patent_id} to {self.licensee}"


class PatentEvent(models.Model):
    """One change to a patent: who, when, what, and each field's before and after."""

    class Verb(models.TextChoices):
        CREATED = "created", _("created")
        UPDATED = "updated", _("updated")
        IMPORTED = "imported", _("imported")
        LEGAL_STATUS = "legal_status", _("legal-status facts recorded")
        PLEDGE_RECORDED = "pledge_recorded", _("pledge recorded")
        PLEDGE_RELEASED = "pledge_released", _("pledge released")
        EXCLUSIVE_LICENSE_RECORDED = "exclusive_license_recorded", _("exclusive license recorded")
        EXCLUSIVE_LICENSE_ENDED = "exclusive_license_ended", _("exclusive license ended")
        HINDRANCE_RECORDED = "hindrance_recorded", _("hindrance recorded by a reviewer")
        HINDRANCE_RESOLVED = "hindrance_resolved", _("hindrance resolved")

    patent = models.ForeignKey(
        Patent, on_delete=models.CASCADE, related_name="events", verbose_name=_("patent")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    verb = models.CharField(_("step"), max_length=30, choices=Verb.choices)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("patent event")
        verbose_name_plural = _("patent events")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patent", "-created_at"], name="patent_event_patent")]

    def __str__(self) -> str:
        return f"{self.verb} {self.patent_id} at {self.created_at:%Y-%m-%d %H:%M}"


class PatentHindrance(models.Model):
    """Any other hindrance to open licensing recorded by a reviewer (bar 9 of the rules)."""

    patent = models.ForeignKey(
        Patent, on_delete=models.CASCADE, related_name="hindrances", verbose_name=_("patent")
    )
    reason = models.TextField(_("reason"), max_length=2000)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )

    class Meta:
        verbose_name = _("patent hindrance")
        verbose_name_plural = _("patent hindrances")
        ordering = ["patent_id", "recorded_at", "id"]

    def __str__(self) -> str:
        return f"hindrance on {self.patent_id}: {self.reason[:40]}"
