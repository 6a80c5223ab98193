"""Reference tables shipped with the project: GB/T 4754 industries, GB/T 2260 regions."""

from __future__ import annotations

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class ReferenceTable(models.Model):
    """One loaded reference table, with the standard, edition and source it came from."""

    key = models.SlugField(_("key"), max_length=40, unique=True)
    standard = models.CharField(_("standard"), max_length=60)
    title_zh = models.CharField(_("title (Chinese)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200)
    version = models.TextField(_("version"))
    source = models.TextField(_("source"))
    notes = models.TextField(_("notes (English)"), blank=True)
    notes_zh = models.TextField(_("notes (Chinese)"), blank=True)
    row_count = models.PositiveIntegerField(_("rows"))
    checksum = models.CharField(_("SHA-256 of the loaded file"), max_length=64)
    loaded_at = models.DateTimeField(_("loaded at"))

    class Meta:
        verbose_name = _("reference table")
        verbose_name_plural = _("reference tables")
        ordering = ["key"]

    def __str__(self) -> str:
        return self.standard  # the version is a sentence in English; the admin shows it as a field


class IndustryLevel(models.TextChoices):
    SECTION = "section", _("section (门类)")
    DIVISION = "division", _("division (大类)")
    GROUP = "group", _("group (中类)")
    CLASS = "class", _("class (小类)")


class Industry(models.Model):
    """A GB/T 4754-2017 industry: section letter plus 2, 3 or 4 digits (C, C38, C384, C3841)."""

    code = models.CharField(_("code"), max_length=5, primary_key=True)
    level = models.CharField(_("level"), max_length=10, choices=IndustryLevel.choices)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent"),
    )
    name_zh = models.CharField(_("name (Chinese)"), max_length=120)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("industry (GB/T 4754)")
        verbose_name_plural = _("industries (GB/T 4754)")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(code__regex=r"^[A-T]([0-9]{2}([0-9]([0-9])?)?)?$"),
                name="industry_code_format",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh}"

    def localized_name(self, language: str | None = None) -> str:
        """The name in the active (or given) language, falling back to Chinese."""
        language = language or get_language() or "zh-hans"
        if language.startswith("en") and self.name_en:
            return self.name_en
        return self.name_zh


class RegionLevel(models.TextChoices):
    PROVINCE = "province", _("province")
    PREFECTURE = "prefecture", _("prefecture")
    COUNTY = "county", _("county")


class Region(models.Model):
    """A GB/T 2260 administrative division: six digits (320000 Jiangsu, 320102 Xuanwu)."""

    code = models.CharField(_("code"), max_length=6, primary_key=True)
    level = models.CharField(_("level"), max_length=10, choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent"),
    )
    name_zh = models.CharField(_("name (Chinese)"), max_length=80)

    class Meta:
        verbose_name = _("region (GB/T 2260)")
        verbose_name_plural = _("regions (GB/T 2260)")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(code__regex=r"^[1-8][0-9]{5}$"), name="region_code_format"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh}"

    @property
    def province_code(self) -> str:
        return self.code[:2] + "0000"


__all__ = ["Industry", "IndustryLevel", "ReferenceTable", "Region", "RegionLevel"]


class IpcLevel(models.TextChoices):
    SECTION = "section", _("section")
    CLASS = "class", _("class")
    SUBCLASS = "subclass", _("subclass")


class IpcClass(models.Model):
    """An IPC section, class or subclass with its English and Chinese title (facet labels)."""

    symbol = models.CharField(_("symbol"), max_length=4, primary_key=True)
    level = models.CharField(_("level"), max_length=10, choices=IpcLevel.choices)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent"),
    )
    title_en = models.TextField(_("title (English)"))
    title_zh = models.TextField(_("title (Chinese)"))

    class Meta:
        verbose_name = _("IPC class")
        verbose_name_plural = _("IPC classes")
        ordering = ["symbol"]

    def __str__(self) -> str:
        return f"{self.symbol} {self.title_zh}"

    def localized_title(self, language: str | None = None) -> str:
        language = language or get_language() or "zh-hans"
        return self.title_en if language.startswith("en") else self.title_zh
