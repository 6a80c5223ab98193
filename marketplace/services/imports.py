"""Bulk import of a portfolio: checking the upload, then validating and upserting the rows."""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.core.files.base import File
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from marketplace import dispatch, permissions
from marketplace.bulk import copy_upsert
from marketplace.errors import InvalidInput, NotFound
from marketplace.http_cache import public_cache_invalidate
from marketplace.models import (
    ImportJob,
    ImportStatus,
    Organisation,
    Patent,
    PatentCoOwner,
    PatentEvent,
)
from marketplace.models.imports import IMPORT_JOB
from marketplace.patents import guards
from marketplace.patents.cleaning import clean_patent, iter_fields
from marketplace.patents.spreadsheets import Sheet, open_sheet
from marketplace.units import megabytes

logger = logging.getLogger(__name__)
csv.field_size_limit(2_000_000)

CHUNK = 2000
OPTIONAL_FACTS = ("legal_status", "annual_fees_paid_through")
# The stored fields a sheet column writes (besides application number and type, always
# present): a column that is absent from the sheet leaves these alone on re-import.
COLUMN_FIELDS = {
    "title": ("title", "title_tokens", "gram_tokens"),
    "abstract": ("abstract", "body_tokens", "gram_tokens"),
    "claims": ("claims", "body_tokens"),
    "main_ipc": ("main_ipc", "further_ipcs", "ipc_prefixes"),
    "further_ipcs": ("further_ipcs", "ipc_prefixes"),
    "filing_date": ("filing_date", "expiry_date"),
    "grant_date": ("grant_date",),
    "publication_numbers": ("publication_numbers",),
}
ALWAYS_UPDATED = ("patent_type", "is_pct", "updated_at")
# Derived fields: not reported as changes in the history.
DERIVED = {
    "title_tokens",
    "body_tokens",
    "gram_tokens",
    "ipc_prefixes",
    "expiry_date",
    "updated_at",
}

Progress = Callable[[ImportJob], None]


@transaction.atomic
def import_job_create(
    *,
    actor: Any,
    organisation_id: int,
    upload: IO[bytes],
    file_name: str,
    size: int,
    all_or_nothing: bool,
    enqueue: bool = True,
) -> ImportJob:
    """Check an uploaded file (size, type, encoding, columns) and queue its import."""
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        raise NotFound()
    permissions.check_import(actor, organisation.pk)
    limit = settings.IMPORT_MAX_BYTES
    if size > limit:
        raise InvalidInput(
            "import_file_too_large",
            _("The file is %(size)s MB; the limit is %(limit)s MB."),
            fields={"file": [_("Too large.")]},
            params={"size": megabytes(size), "limit": megabytes(limit)},
        )
    if size == 0:
        raise InvalidInput(
            "import_empty_file", _("The file is empty."), fields={"file": [_("Empty.")]}
        )
    sheet = open_sheet(upload, file_name)
    upload.seek(0)
    job = ImportJob(
        organisation=organisation,
        created_by=actor,
        file_name=file_name[-255:],
        file_format=sheet.file_format,
        all_or_nothing=all_or_nothing,
        ignored_columns=sheet.ignored,
    )
    job.file.save(f"{organisation.pk}-{file_name[-100:]}", File(upload), save=False)
    job.save()
    if enqueue:
        dispatch.after_commit("marketplace.tasks.import_patents", job.pk)
    return job


@dataclass
class RowPlan:
    row: int
    values: dict[str, Any]
    co_owner_refs: list[str] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)  # the cells, by field


def _error(
    job_errors: list[dict[str, Any]], row: int, column: str, code: str, message: str
) -> None:
    job_errors.append({"row": row, "column": column, "code": code, "message": message})


def _save_progress(job: ImportJob, progress: Progress | None, **values: Any) -> None:
    values["heartbeat_at"] = timezone.now()
    for name, value in values.items():
        setattr(job, name, value)
    ImportJob.objects.filter(pk=job.pk).update(**values)
    if progress:
        progress(job)


def _validate(
    job: ImportJob, sheet: Sheet, errors: list[dict[str, Any]], progress: Progress | None
) -> list[RowPlan]:
    plans: list[RowPlan] = []
    seen: dict[str, int] = {}
    total = 0
    for number, record in sheet.records():
        total += 1
        references = [
            part.strip()
            for part in str(record.pop("co_owners", "") or "").replace("；", ";").split(";")
            if part.strip()
        ]
        try:
            values = clean_patent(record)
        except InvalidInput as error:
            for field_name, code, message in iter_fields(error):
                _error(errors, number, sheet.header_for(field_name), code, message)
        else:
            number_text = values["application_number"]
            if number_text in seen:
                _error(
                    errors,
                    number,
                    sheet.header_for("application_number"),
                    "duplicate_in_file",
                    gettext("Row %(row)d already has this application number.")
                    % {"row": seen[number_text]},
                )
            else:
                seen[number_text] = number
                plans.append(RowPlan(number, values, references, record))
        if total % 5000 == 0:
            _save_progress(job, progress, processed_rows=total)
    _save_progress(job, progress, total_rows=total, processed_rows=total)
    return plans


def _resolve(
    job: ImportJob, sheet: Sheet, plans: list[RowPlan], errors: list[dict[str, Any]]
) -> tuple[list[RowPlan], dict[str, int], dict[str, int]]:
    """Drop rows that name unknown co-owners or another organisation's patents."""
    references = {ref for plan in plans for ref in plan.co_owner_refs}
    by_reference: dict[str, int] = {}
    if references:
        for pk, name in Organisation.objects.filter(name__in=references).values_list("pk", "name"):
            by_reference[name] = pk
        for pk, code in Organisation.objects.filter(credit_code__in=references).values_list(
            "pk", "credit_code"
        ):
            by_reference[code] = pk
    existing: dict[str, int] = {}
    numbers = [plan.values["application_number"] for plan in plans]
    for start in range(0, len(numbers), 10_000):
        existing.update(
            Patent.objects.filter(
                application_number__in=numbers[start : start + 10_000]
            ).values_list("application_number", "owner_id")
        )
    kept = []
    for plan in plans:
        number = plan.values["application_number"]
        owner_id = existing.get(number)
        unknown = [ref for ref in plan.co_owner_refs if ref not in by_reference]
        if owner_id is not None and owner_id != job.organisation_id:
            _error(
                errors,
                plan.row,
                sheet.header_for("application_number"),
                "patent_owned_by_another_organisation",
                gettext("Patent %(number)s is maintained by another organisation.")
                % {"number": number},
            )
        elif unknown:
            _error(
                errors,
                plan.row,
                sheet.header_for("co_owners"),
                "unknown_co_owner",
                gettext("No registered organisation has the name or code %(refs)s.")
                % {"refs": "; ".join(unknown)},
            )
        elif any(by_reference[ref] == job.organisation_id for ref in plan.co_owner_refs):
            _error(
                errors,
                plan.row,
                sheet.header_for("co_owners"),
                "owner_is_co_owner",
                gettext("The importing organisation is not also a co-owner."),
            )
        else:
            kept.append(plan)
    existing_numbers = dict.fromkeys(existing, 1)
    return kept, by_reference, existing_numbers


def _present_fields(columns: set[str]) -> list[str]:
    """The fields an upsert may update: those the sheet's columns write, plus the facts."""
    names = list(ALWAYS_UPDATED)
    for column in COLUMN_FIELDS:
        if column in columns:
            names.extend(name for name in COLUMN_FIELDS[column] if name not in names)
    return names


def _jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _write_chunk(
    job: ImportJob, chunk: list[RowPlan], by_reference: dict[str, int], columns: set[str]
) -> None:
    now = timezone.now()
    numbers = [plan.values["application_number"] for plan in chunk]
    before = {
        patent.application_number: patent
        for patent in Patent.objects.filter(application_number__in=numbers)
    }
    update_fields = _present_fields(columns) + [
        name for name in OPTIONAL_FACTS if any(name in plan.values for plan in chunk)
    ]
    values_by_number: dict[str, dict[str, Any]] = {}
    for plan in chunk:
        number = plan.values["application_number"]
        values = plan.values
        existing = before.get(number)
        if existing is not None and set(COLUMN_FIELDS) - columns:
            # A column the sheet lacks keeps the stored value: clean the row again over the
            # stored patent, so the derived fields (tokens, IPC prefixes) agree with it.
            try:
                values = clean_patent(plan.record, partial_of=existing)
            except InvalidInput:
                values = plan.values
        values_by_number[number] = values
    patents = [
        Patent(owner_id=job.organisation_id, created_at=now, updated_at=now, **values)
        for values in values_by_number.values()
    ]
    copy_upsert(Patent, patents, unique_fields=["application_number"], update_fields=update_fields)
    public_cache_invalidate()  # COPY sends no post_save
    ids = dict(
        Patent.objects.filter(application_number__in=numbers).values_list(
            "application_number", "pk"
        )
    )
    if "co_owners" in columns:  # an absent column leaves the co-owners alone
        PatentCoOwner.objects.filter(patent_id__in=ids.values()).delete()
    PatentCoOwner.objects.bulk_create(
        PatentCoOwner(
            patent_id=ids[plan.values["application_number"]],
            organisation_id=by_reference[ref],
            position=position,
        )
        for plan in chunk
        for position, ref in enumerate(dict.fromkeys(plan.co_owner_refs))
    )
    # Re-imported facts (legal status, fees) may raise or clear a declaration bar.
    guards.facts_changed(list(ids.values()))
    reported = [name for name in update_fields if name not in DERIVED]
    events = []
    for plan in chunk:
        number = plan.values["application_number"]
        changes: dict[str, Any] = {"import_job": job.pk, "row": plan.row, "file": job.file_name}
        existing = before.get(number)
        if existing is None:
            changes["created"] = True
        else:
            values = values_by_number[number]
            changes["changed"] = {
                name: {"old": _jsonable(getattr(existing, name)), "new": _jsonable(values[name])}
                for name in reported
                if name in values and getattr(existing, name) != values[name]
            }
        events.append(
            PatentEvent(
                patent_id=ids[number],
                actor_id=job.created_by_id,
                verb=PatentEvent.Verb.IMPORTED,
                changes=changes,
            )
        )
    PatentEvent.objects.bulk_create(events)


def import_run(*, job_id: int, progress: Progress | None = None) -> ImportJob:
    """Run a queued import: validate every row, then upsert the good ones in chunks.

    Claimed with a compare-and-swap on the status, so a second delivery of the task does
    nothing. With all_or_nothing, any bad row means nothing is written.
    """
    now = timezone.now()
    claimed = IMPORT_JOB.claim(
        job_id,
        from_status=ImportStatus.QUEUED,
        to=ImportStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        phase="reading",
        attempts=F("attempts") + 1,
    )
    job = ImportJob.objects.select_related("organisation", "created_by").get(pk=job_id)
    if not claimed:
        return job
    # Row errors and the failure are stored as text: in the language of who imported.
    with translation.override(job.created_by.preferred_language):
        return _run_claimed(job, progress)


def _run_claimed(job: ImportJob, progress: Progress | None) -> ImportJob:
    errors: list[dict[str, Any]] = []
    try:
        with job.file.open("rb") as stream:
            sheet = open_sheet(stream, job.file_name)
            _save_progress(job, progress, phase="validating")
            plans = _validate(job, sheet, errors, progress)
            columns = set(sheet.field_by_index.values())
        kept, by_reference, existing = _resolve(job, sheet, plans, errors)
        errors.sort(key=lambda item: (item["row"], item["column"]))
        if errors and job.all_or_nothing:
            return _finish(job, ImportStatus.FAILED, errors, 0, 0, progress)
        _save_progress(job, progress, phase="writing", processed_rows=0)
        created = sum(1 for plan in kept if plan.values["application_number"] not in existing)
        updated = len(kept) - created
        if job.all_or_nothing:
            with transaction.atomic():
                for start in range(0, len(kept), CHUNK):
                    _write_chunk(job, kept[start : start + CHUNK], by_reference, columns)
            _save_progress(job, progress, processed_rows=job.total_rows)
        else:
            for start in range(0, len(kept), CHUNK):
                with transaction.atomic():
                    _write_chunk(job, kept[start : start + CHUNK], by_reference, columns)
                _save_progress(
                    job, progress, processed_rows=min(start + CHUNK, len(kept)) + len(errors)
                )
        status = ImportStatus.SUCCEEDED_WITH_ERRORS if errors else ImportStatus.SUCCEEDED
        return _finish(job, status, errors, created, updated, progress)
    except (InvalidInput, csv.Error, UnicodeDecodeError, OSError) as error:
        message = error.render_message() if isinstance(error, InvalidInput) else str(error)
        _end(
            job,
            ImportStatus.FAILED,
            failure=message[:2000],
            finished_at=timezone.now(),
            phase="done",
        )
        job.refresh_from_db()
        return job


def _end(job: ImportJob, status: str, **values: Any) -> None:
    """Record the import's outcome: from running, or from queued when the stale sweep had
    queued it again while this worker was still at it."""
    if not IMPORT_JOB.move(job, to=status, **values):
        IMPORT_JOB.claim(job.pk, from_status=ImportStatus.QUEUED, to=status, **values)
        for name, value in {"status": status, **values}.items():
            setattr(job, name, value)


def _finish(
    job: ImportJob,
    status: str,
    errors: list[dict[str, Any]],
    created: int,
    updated: int,
    progress: Progress | None,
) -> ImportJob:
    _end(
        job,
        status,
        heartbeat_at=timezone.now(),
        phase="done",
        errors=errors[: settings.IMPORT_MAX_REPORTED_ERRORS],
        error_count=len(errors),
        created_count=created,
        updated_count=updated,
        processed_rows=job.total_rows,
        finished_at=timezone.now(),
    )
    if progress:
        progress(job)
    return job


def _enqueue(job_id: int) -> None:
    """Kept for calls an older release left in the outbox (UnsentTask target
    "marketplace.services.imports:_enqueue"); new calls go through dispatch by task name."""
    dispatch.task("marketplace.tasks.import_patents").delay(job_id)


def imports_resume_stale() -> dict[str, int]:
    """Queue again the running imports whose worker was lost (no heartbeat for
    IMPORT_STALE_MINUTES); fail those that already ran IMPORT_MAX_ATTEMPTS times.

    A rerun is safe: the patents are upserted by application number, and an all-or-nothing
    import wrote nothing before its transaction was lost. A rerun of a partly written import
    counts the rows written by the lost run as updated.
    """
    stale = timezone.now() - timedelta(minutes=settings.IMPORT_STALE_MINUTES)
    running = ImportJob.objects.filter(status=ImportStatus.RUNNING, heartbeat_at__lt=stale)
    failed = IMPORT_JOB.move_all(
        running.filter(attempts__gte=settings.IMPORT_MAX_ATTEMPTS),
        from_status=ImportStatus.RUNNING,
        to=ImportStatus.FAILED,
        phase="done",
        finished_at=timezone.now(),
        failure=gettext(
            "The import stopped %(attempts)d times without finishing (its worker was lost). "
            "Upload the file again or contact the platform."
        )
        % {"attempts": settings.IMPORT_MAX_ATTEMPTS},
    )
    requeued = 0
    for job_id in running.filter(attempts__lt=settings.IMPORT_MAX_ATTEMPTS).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            # Compare-and-swap: a job that moved on meanwhile is left alone.
            if IMPORT_JOB.claim(
                job_id,
                from_status=ImportStatus.RUNNING,
                to=ImportStatus.QUEUED,
                where={"heartbeat_at__lt": stale},
                phase="queued",
                processed_rows=0,
            ):
                dispatch.after_commit("marketplace.tasks.import_patents", job_id)
                requeued += 1
    if failed or requeued:
        logger.warning("stale imports: %d queued again, %d failed", requeued, failed)
    return {"requeued": requeued, "failed": failed}
