"""Celery tasks of the core app. They take ids, re-fetch, and are safe to run twice."""

from __future__ import annotations

import contextlib
import logging
import smtplib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db.models import F, Q
from django.utils import timezone

from marketplace.emails import send_in_batches
from marketplace.models import OutboundEmail, OutboundEmailStatus
from marketplace.models.emails import OUTBOUND_EMAIL

logger = logging.getLogger(__name__)

TRANSIENT_MAIL_ERRORS = (smtplib.SMTPException, ConnectionError, TimeoutError, OSError)


def _claim(email_id: int) -> bool:
    """Compare-and-swap queued → sending: a second delivery of a send task finds it taken."""
    return OUTBOUND_EMAIL.claim(
        email_id,
        from_status=OutboundEmailStatus.QUEUED,
        to=OutboundEmailStatus.SENDING,
        attempts=F("attempts") + 1,
        claimed_at=timezone.now(),
    )


def _release(email_id: int, to: str, error: BaseException) -> None:
    """A claimed e-mail back to the queue (a transient error) or failed for good."""
    OUTBOUND_EMAIL.claim(
        email_id,
        from_status=OutboundEmailStatus.SENDING,
        to=to,
        last_error=repr(error)[:2000],
    )


def _mark_sent(email_id: int) -> None:
    values: dict[str, Any] = {"sent_at": timezone.now(), "last_error": ""}
    sent = OutboundEmailStatus.SENT
    if not OUTBOUND_EMAIL.claim(
        email_id, from_status=OutboundEmailStatus.SENDING, to=sent, **values
    ):
        # The stale sweep queued it again while this worker was sending: it went out, so the
        # rerun must find it sent and skip it.
        OUTBOUND_EMAIL.claim(email_id, from_status=OutboundEmailStatus.QUEUED, to=sent, **values)


def _message(email: OutboundEmail, connection: Any = None) -> EmailMessage:
    return EmailMessage(
        subject=email.subject, body=email.body, to=[email.to_email], connection=connection
    )


@shared_task(bind=True, max_retries=6, default_retry_delay=30)
def send_email(self: Task, email_id: int) -> str:
    """Send one queued e-mail; a second delivery of the task finds it claimed and stops."""
    if not _claim(email_id):
        return "skipped"
    email = OutboundEmail.objects.get(pk=email_id)
    try:
        _message(email).send()
    except TRANSIENT_MAIL_ERRORS as error:
        final = self.request.retries >= (self.max_retries or 0)
        _release(
            email_id, OutboundEmailStatus.FAILED if final else OutboundEmailStatus.QUEUED, error
        )
        if final:
            logger.error("giving up on e-mail %s: %r", email_id, error)
            return "failed"
        raise self.retry(exc=error, countdown=30 * 2**self.request.retries) from error
    _mark_sent(email_id)
    return "sent"


@shared_task
def send_emails(email_ids: list[int]) -> dict[str, int]:
    """Send a batch of queued e-mails over one SMTP connection (a notification to hundreds
    of users is a few messages on the broker, not one per e-mail).

    Each e-mail is claimed as in send_email, so a second delivery sends none twice. One that
    meets a transient error goes back to the queue and on to send_email's own retries.
    """
    claimed = [email_id for email_id in email_ids if _claim(email_id)]
    skipped = len(email_ids) - len(claimed)
    if not claimed:
        return {"sent": 0, "retried": 0, "skipped": skipped}

    def retry_alone(email_id: int, error: BaseException) -> None:
        _release(email_id, OutboundEmailStatus.QUEUED, error)
        send_email.apply_async((email_id,), countdown=30)

    connection = get_connection()
    try:
        connection.open()
    except TRANSIENT_MAIL_ERRORS as error:
        for email_id in claimed:
            retry_alone(email_id, error)
        return {"sent": 0, "retried": len(claimed), "skipped": skipped}
    sent = retried = 0
    try:
        for email in OutboundEmail.objects.filter(pk__in=claimed).order_by("pk"):
            try:
                _message(email, connection).send()
            except TRANSIENT_MAIL_ERRORS as error:
                retry_alone(email.pk, error)
                retried += 1
                continue
            _mark_sent(email.pk)
            sent += 1
    finally:
        with contextlib.suppress(*TRANSIENT_MAIL_ERRORS):
            connection.close()
    return {"sent": sent, "retried": retried, "skipped": skipped}


@shared_task
def resend_stale_emails() -> int:
    """Queue again the e-mails a lost worker left behind (Celery beat, every 10 minutes).

    Queued mail whose message was lost, and mail claimed more than EMAIL_STALE_MINUTES ago
    and never finished: sent at least once rather than never (a worker killed between the
    SMTP reply and the status update sends it twice).
    """
    stale = timezone.now() - timedelta(minutes=settings.EMAIL_STALE_MINUTES)
    lost = OutboundEmail.objects.filter(
        Q(status=OutboundEmailStatus.QUEUED, created_at__lt=stale)
        & (Q(claimed_at__isnull=True) | Q(claimed_at__lt=stale))
        | Q(status=OutboundEmailStatus.SENDING, claimed_at__lt=stale)
    )
    # Oldest first: under a backlog the mail that has waited longest goes out first (the
    # partial index outbound_email_unsent serves this order).
    ids = list(lost.order_by("created_at", "id").values_list("pk", flat=True)[:1000])
    OUTBOUND_EMAIL.move_all(
        OutboundEmail.objects.filter(pk__in=ids),
        from_status=OutboundEmailStatus.SENDING,
        to=OutboundEmailStatus.QUEUED,
    )
    send_in_batches(ids)
    if ids:
        logger.warning("re-queued %d e-mails left behind by a lost worker", len(ids))
    return len(ids)


@shared_task
def expire_invitations() -> int:
    """Mark pending invitations past their expiry as expired (Celery beat, hourly)."""
    from marketplace.services.organisations import invitations_expire

    return invitations_expire()


@shared_task
def ping() -> str:
    """A no-op round trip used by the health check and the worker integration test."""
    return "pong"


@shared_task(bind=True, acks_late=True)
def import_patents(self: Task, job_id: int) -> dict[str, int | str]:
    """Run one portfolio import (the `import` queue); the job row shows its progress."""
    from marketplace.models import ImportJob
    from marketplace.services.imports import import_run

    def progress(job: ImportJob) -> None:
        if self.request.id:
            self.update_state(
                state="PROGRESS",
                meta={"phase": job.phase, "done": job.processed_rows, "total": job.total_rows},
            )

    job = import_run(job_id=job_id, progress=progress)
    return {"status": job.status, "created": job.created_count, "errors": job.error_count}


@shared_task
def resume_stale_imports() -> dict[str, int]:
    """Queue again the imports whose worker was lost (Celery beat, every 5 minutes)."""
    from marketplace.services.imports import imports_resume_stale

    return imports_resume_stale()


@shared_task
def publish_unsent_tasks() -> int:
    """Publish the calls the broker could not take after commit (Celery beat, every minute)."""
    from marketplace.celery import publish_unsent

    return publish_unsent()


@shared_task(bind=True)
def index_patent_vectors(self: Task, patent_ids: list[int] | None = None) -> dict[str, Any]:
    """Embed the given patents (None: every patent) whose search vector is missing or stale,
    in batches with progress, then publish a new generation of the shared index file when any
    vector changed, then embed their titles for the re-ranker when it is configured (the
    `index` queue; progress names the step). Running twice embeds nothing the second time."""
    from marketplace.search.rerank import patent_rerank_vectors_compute
    from marketplace.search.vectors import patent_vectors_compute, vector_index_publish

    def progress_of(step: str) -> Callable[[int, int], None]:
        def progress(done: int, total: int) -> None:
            if self.request.id:
                meta = {"step": step, "done": done, "total": total}
                self.update_state(state="PROGRESS", meta=meta)

        return progress

    written = patent_vectors_compute(patent_ids=patent_ids, progress=progress_of("vectors"))
    result: dict[str, Any] = {"written": written}
    if written or patent_ids is None:
        result.update(vector_index_publish())
    # After the index is published: search by meaning does not wait for the slower titles.
    result["rerank_written"] = patent_rerank_vectors_compute(
        patent_ids=patent_ids, progress=progress_of("rerank")
    )
    return result


@shared_task
def alert_saved_searches(declaration_id: int) -> int:
    """A declaration was announced: alert the saved searches that find its patent (in-app);
    safe to run twice (one alert per saved search and declaration)."""
    from marketplace.services.saved_searches import saved_search_alerts_create

    return len(saved_search_alerts_create(declaration_id=declaration_id))


@shared_task
def send_saved_search_digests() -> int:
    """Beat, daily: each user's one e-mail digest of the day's new saved-search matches."""
    from marketplace.services.saved_searches import saved_search_digests_send

    return saved_search_digests_send(day=timezone.localdate())


@shared_task
def flush_patent_counters() -> int:
    """Beat, every minute: page views and search impressions from Redis into the table."""
    from marketplace.counters import counters_flush

    return counters_flush()
