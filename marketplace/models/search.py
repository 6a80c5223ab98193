"""Search by meaning: one sentence-embedding vector per patent (title and abstract), and one of
its title by the re-ranking model."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class PatentVector(models.Model):
    """The search embedding of one patent's title and abstract, from one model.

    A row whose model or text hash differs from the current ones is stale and is recomputed by
    the `index` queue; the shared index file that web workers search is built from these rows.
    """

    patent = models.OneToOneField(
        "marketplace.Patent",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="semantic_vector",
        verbose_name=_("patent"),
    )
    model = models.CharField(_("model"), max_length=64)
    text_hash = models.CharField(_("text fingerprint"), max_length=64)
    vector = models.BinaryField(
        _("vector")
    )  # float16, L2-normalised (512 dimensions: 1 KB a patent)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("patent vector")
        verbose_name_plural = _("patent vectors")

    def __str__(self) -> str:
        return f"{self.patent_id} ({self.model})"


class PatentRerankVector(models.Model):
    """The re-ranker's embedding of one patent's short text (its title), from one model.

    Beside PatentVector (the fast model's, over title and abstract, searched as an index): these
    are read only for the best candidates of a search, to re-order them by a stronger model
    (marketplace/search/rerank.py). A patent without a current one keeps its place.
    """

    patent = models.OneToOneField(
        "marketplace.Patent",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="rerank_vector",
        verbose_name=_("patent"),
    )
    model = models.CharField(_("model"), max_length=64)
    text_hash = models.CharField(_("text fingerprint"), max_length=64)
    vector = models.BinaryField(_("vector"))  # float16, L2-normalised (384 dimensions: 768 B)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("patent re-ranking vector")
        verbose_name_plural = _("patent re-ranking vectors")

    def __str__(self) -> str:
        return f"{self.patent_id} ({self.model})"
