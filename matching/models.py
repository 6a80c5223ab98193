"""Matching: the IPC↔industry concordance, text vectors, match runs and matches, feedback."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from matching.querysets import MatchQuerySet


class IpcIndustry(models.Model):
    """How strongly patents under an IPC prefix belong to a GB/T 4754 industry."""

    ipc_prefix = models.CharField(_("IPC prefix"), max_length=12)  # compact: H01, H01M, H01M10
    industry_code = models.CharField(_("industry code"), max_length=5)
    weight = models.DecimalField(_("weight"), max_digits=4, decimal_places=3)
    source = models.CharField(_("source"), max_length=200)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("IPC ↔ industry concordance row")
        ordering = ["ipc_prefix", "-weight"]
        constraints = [
            models.UniqueConstraint(
                fields=["ipc_prefix", "industry_code"], name="ipc_industry_once"
            ),
            models.CheckConstraint(
                condition=models.Q(weight__gt=0, weight__lte=1), name="ipc_industry_weight_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ipc_prefix} → {self.industry_code} ({self.weight})"


class TextVector(models.Model):
    """The embedding of a patent's or a need's text, for one embedder model."""

    class Kind(models.TextChoices):
        PATENT = "patent", _("patent")
        NEED = "need", _("technology need")
        SME = "sme", _("SME profile")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    object_id = models.BigIntegerField(_("object ID"))
    model = models.CharField(_("model"), max_length=60)
    text_hash = models.CharField(_("text fingerprint"), max_length=64)
    vector = models.BinaryField(_("vector"))  # float32, L2-normalised
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("text vector")
        verbose_name_plural = _("text vectors")
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id", "model"], name="text_vector_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id} ({self.model})"


class MatchRun(models.Model):
    """A full re-match (in chunks of SMEs) or an incremental one; a full run becomes visible
    all at once when its last chunk is done."""

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        COMPLETE = "complete", _("complete")
        FAILED = "failed", _("failed")

    kind = models.CharField(_("kind"), max_length=12, default="full")
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.RUNNING
    )
    is_current = models.BooleanField(_("current"), default=False)
    total_chunks = models.PositiveIntegerField(_("chunks in total"), default=0)
    done_chunks = models.PositiveIntegerField(_("chunks done"), default=0)
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("match run")
        verbose_name_plural = _("match runs")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"],
                condition=models.Q(is_current=True),
                name="match_run_one_current",
            ),
        ]

    def __str__(self) -> str:
        return str(_("run %(id)s (%(status)s)")) % {
            "id": self.pk,
            "status": self.get_status_display(),
        }


class MatchChunk(models.Model):
    """One slice of SMEs of a run; claimed and completed by compare-and-swap."""

    run = models.ForeignKey(
        MatchRun, on_delete=models.CASCADE, related_name="chunks", verbose_name=_("match run")
    )
    number = models.PositiveIntegerField(_("chunk number"))
    sme_ids = models.JSONField(_("SME IDs"))
    status = models.CharField(_("status"), max_length=8, default="pending")
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # When a worker last began it: a pending chunk begun long ago lost its worker.
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)

    class Meta:
        verbose_name = _("match chunk")
        verbose_name_plural = _("match chunks")
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="match_chunk_once")]

    def __str__(self) -> str:
        return f"chunk {self.number} of run {self.run_id}"


class Match(models.Model):
    """A declared patent proposed to an SME, with each score component and the reasons.

    A full re-match writes ~5.5 million rows, and every index costs on each (a raw COPY of
    them took 25 s into the bare table, 128 s with nine indexes): only the indexes queries
    use are kept. Run and SME are served by the unique (run, sme, declaration) index; the
    patent and need columns by none, since deleting a patent or a need is rare and may scan.
    """

    run = models.ForeignKey(
        MatchRun,
        on_delete=models.CASCADE,
        related_name="matches",
        db_index=False,
        verbose_name=_("match run"),
    )
    sme = models.ForeignKey(
        "marketplace.Organisation",
        on_delete=models.CASCADE,
        related_name="matches",
        db_index=False,
        verbose_name=_("SME"),
    )
    declaration = models.ForeignKey(
        "licensing.Declaration",
        on_delete=models.CASCADE,
        related_name="matches",
        verbose_name=_("declaration"),
    )  # indexed: a retired declaration leaves the lists of every run
    patent = models.ForeignKey(
        "marketplace.Patent",
        on_delete=models.CASCADE,
        related_name="matches",
        db_index=False,
        verbose_name=_("patent"),
    )
    need = models.ForeignKey(
        "marketplace.TechnologyNeed",
        on_delete=models.CASCADE,  # a need's list goes with it
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("technology need"),
    )
    score = models.FloatField(_("score"))
    rank = models.PositiveSmallIntegerField(_("rank"))
    components = models.JSONField(_("score components"))
    # Codes with parameters ({"code": "ipc_industry", "ipc": "H01M", "industry": "C3841"}),
    # rendered in the reader's language by matching.reasons when read.
    reasons = models.JSONField(_("reasons"), default=list)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects: ClassVar[MatchQuerySet] = MatchQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("match")
        verbose_name_plural = _("matches")
        ordering = ["sme_id", "rank"]
        constraints = [
            # One list per SME and need (need NULL: the list of the SME's profile); also the
            # index of "an SME's lists in a run".
            models.UniqueConstraint(
                fields=["run", "sme", "need", "declaration"],
                name="match_once_per_list",
                nulls_distinct=False,
            ),
        ]
        indexes = [
            # A declaration's candidate licensees, best first.
            models.Index(fields=["run", "declaration", "-score"], name="match_run_declaration"),
        ]

    def __str__(self) -> str:
        return f"{self.sme_id} ← {self.declaration_id} ({self.score:.3f})"


class ListFloor(models.Model):
    """The lowest score of an SME's full list (top K) in a full run: the bar a newly
    announced declaration must clear to enter that list, even after retired declarations
    left the list short. A slot a withdrawal opens is refilled by the next full re-match,
    not by a weaker newcomer (which the run had ranked below K); SMEs whose run list was
    short have no row and take any newcomer above the engine's minimum."""

    run = models.ForeignKey(
        MatchRun,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        verbose_name=_("match run"),
    )
    sme = models.ForeignKey(
        "marketplace.Organisation",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("SME"),
    )
    need = models.ForeignKey(
        "marketplace.TechnologyNeed",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("technology need"),
    )
    score = models.FloatField(_("score"))

    class Meta:
        verbose_name = _("list floor")
        verbose_name_plural = _("list floors")
        constraints = [
            models.UniqueConstraint(
                fields=["run", "sme", "need"], name="list_floor_once", nulls_distinct=False
            )
        ]

    def __str__(self) -> str:
        return f"{self.sme_id} in run {self.run_id}: {self.score:.3f}"


class MatchFeedback(models.Model):
    """An SME's verdict on a match; it raises or lowers similar results for that SME."""

    class Verdict(models.TextChoices):
        INTERESTED = "interested", _("interested")
        NOT_RELEVANT = "not_relevant", _("not relevant")

    class Reason(models.TextChoices):
        """IN-PART's kinds of "not for us" (and too_far, kept from before); what each does to
        similar declarations is engine.FEEDBACK_EFFECTS."""

        TOO_EARLY = "too_early", _("too early stage")
        BENEFIT_UNCLEAR = "benefit_unclear", _("benefit unclear")
        WRONG_FIELD = "wrong_field", _("wrong technical field")
        TOO_EXPENSIVE = "too_expensive", _("too expensive")
        TOO_FAR = "too_far", _("too far away")
        ALREADY_HAVE = "already_have", _("already have this technology")
        OTHER = "other", _("other")

    sme = models.ForeignKey(
        "marketplace.Organisation",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("SME"),
    )
    declaration = models.ForeignKey(
        "licensing.Declaration",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("declaration"),
    )
    verdict = models.CharField(_("verdict"), max_length=14, choices=Verdict.choices)
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices, blank=True)
    given_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("given by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(
        _("updated at"), auto_now=True
    )  # a verdict changed in place moves it

    class Meta:
        verbose_name = _("match feedback")
        verbose_name_plural = _("match feedback")
        constraints = [
            models.UniqueConstraint(fields=["sme", "declaration"], name="match_feedback_once")
        ]

    def __str__(self) -> str:
        return f"{self.sme_id} on {self.declaration_id}: {self.verdict}"
