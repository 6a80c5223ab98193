"""Search vocabulary maintained as reference data: synonym groups and the bilingual term list."""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _


class SynonymGroup(models.Model):
    """Terms a query treats as one: 锂电池, 锂离子电池, lithium-ion battery; OLED, 有机发光二极管
    and the like.

    A query word of the group also finds every other term of it (search and matching); the
    index keeps each patent's own words. Seeded from marketplace/search/synonyms.tsv.
    """

    # The group's first term, lower case: what an import matches a file's line on.
    key = models.CharField(_("key"), max_length=100, unique=True)
    terms = ArrayField(
        models.CharField(max_length=100),
        verbose_name=_("terms"),
        help_text=_("Every term of the group, the key first; Chinese and English may be mixed."),
    )
    source = models.CharField(_("source"), max_length=200)
    note = models.CharField(_("note"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("synonym group")
        verbose_name_plural = _("synonym groups")
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(terms__len__gte=2), name="synonym_group_two_terms"
            ),
        ]

    def __str__(self) -> str:
        return " / ".join(self.terms)

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The key follows the first term, so that an import of a file finds the group again.
        self.terms = list(dict.fromkeys(term.strip() for term in self.terms if term.strip()))
        if self.terms:
            self.key = self.terms[0].lower()[:100]
        super().save(*args, **kwargs)


class TermTranslation(models.Model):
    """An English technical term and its Chinese equivalent (battery ↔ 电池), read from the
    IPC titles and GB/T 4754 names the project ships; an English query also looks for the
    Chinese term, and a Chinese query for the English one."""

    term_en = models.CharField(_("term (English)"), max_length=120)
    term_zh = models.CharField(_("term (Chinese)"), max_length=60)
    sources = models.CharField(
        _("sources"),
        max_length=300,
        help_text=_("The shipped rows that hold both terms, e.g. IPC H01M; GB/T 4754 C38."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("term translation")
        verbose_name_plural = _("term translations")
        ordering = ["term_en", "term_zh"]
        constraints = [
            models.UniqueConstraint(fields=["term_en", "term_zh"], name="term_translation_once"),
        ]

    def __str__(self) -> str:
        return f"{self.term_en} ↔ {self.term_zh}"
