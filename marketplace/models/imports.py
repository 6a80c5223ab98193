"""Bulk imports of a portfolio from CSV or XLSX, run on the `import` queue."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from marketplace.querysets import ImportJobQuerySet
from marketplace.workflow import Workflow


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    SUCCEEDED_WITH_ERRORS = "succeeded_with_errors", _("succeeded with errors")
    FAILED = "failed", _("failed")


class ImportPhase(models.TextChoices):
    """Where a running import is, for its progress bar."""

    QUEUED = "queued", _("queued")
    READING = "reading", _("reading the file")
    VALIDATING = "validating", _("checking the rows")
    WRITING = "writing", _("writing the patents")
    DONE = "done", _("done")


class ImportJob(models.Model):
    """One uploaded file and what became of its rows."""

    organisation = models.ForeignKey(
        "marketplace.Organisation",
        on_delete=models.PROTECT,
        related_name="import_jobs",
        verbose_name=_("organisation"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    file_name = models.CharField(_("file name"), max_length=255)
    file_format = models.CharField(_("file format"), max_length=4)
    all_or_nothing = models.BooleanField(_("all or nothing"), default=False)
    status = models.CharField(
        _("status"), max_length=24, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    # reading → validating → writing → done, for the progress shown to the client.
    phase = models.CharField(
        _("phase"), max_length=12, choices=ImportPhase.choices, default=ImportPhase.QUEUED
    )
    total_rows = models.PositiveIntegerField(_("rows in total"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    created_count = models.PositiveIntegerField(_("rows created"), default=0)
    updated_count = models.PositiveIntegerField(_("rows updated"), default=0)
    error_count = models.PositiveIntegerField(_("rows with errors"), default=0)
    # [{"row", "column", "code", "message"}], the first IMPORT_MAX_REPORTED_ERRORS of them.
    errors = models.JSONField(_("errors"), default=list, blank=True)
    ignored_columns = models.JSONField(_("ignored columns"), default=list, blank=True)
    failure = models.TextField(_("failure"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Set at every progress step: a running job whose heartbeat stops was lost with its worker
    # and is queued again by imports_resume_stale (at most IMPORT_MAX_ATTEMPTS runs).
    heartbeat_at = models.DateTimeField(_("last heartbeat at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)

    objects: ClassVar[ImportJobQuerySet] = ImportJobQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["heartbeat_at"],
                name="import_job_running",
                condition=models.Q(status="running"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"


Q = ImportStatus
# The import's table of moves (marketplace.workflow): claimed by a worker, finished, or queued
# again by the stale sweep when its heartbeat stopped. A worker the sweep gave up on that
# finishes after all still records its result (the queued rerun then finds nothing to claim).
IMPORT_JOB = Workflow(
    model=ImportJob,
    statuses=ImportStatus,
    moves={
        (Q.QUEUED, Q.RUNNING): "started",
        (Q.RUNNING, Q.SUCCEEDED): "succeeded",
        (Q.RUNNING, Q.SUCCEEDED_WITH_ERRORS): "succeeded_with_errors",
        (Q.RUNNING, Q.FAILED): "failed",
        (Q.RUNNING, Q.QUEUED): "requeued",
        (Q.QUEUED, Q.SUCCEEDED): "succeeded",
        (Q.QUEUED, Q.SUCCEEDED_WITH_ERRORS): "succeeded_with_errors",
        (Q.QUEUED, Q.FAILED): "failed",
    },
    not_allowed=(
        "import_transition_not_allowed",
        _("An import that is %(current)s cannot become %(new)s."),
    ),
    changed=("import_changed", _("The import changed meanwhile; reload it.")),
    stamp=None,
)
