"""Celery tasks of reporting."""

from __future__ import annotations

from celery import shared_task


@shared_task
def refresh_register_funnel() -> int:
    """Recompute the whole register's funnel for the reviewers (Celery beat, every ten
    minutes: the page-view counters are flushed every minute, so events would not make it
    any fresher). Returns the milliseconds it took."""
    from reporting.register_funnel import register_funnel_refresh

    return register_funnel_refresh().took_ms
