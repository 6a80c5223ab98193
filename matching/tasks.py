"""Celery tasks of the matching engine (the `match` and `index` queues)."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.signals import celeryd_after_setup, worker_process_init
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from marketplace.models import Industry, SmeProfile, TechnologyNeed, User
from marketplace.services.notifications import notify
from matching import services
from matching.models import Match

logger = logging.getLogger(__name__)

# Set in the worker's main process when it consumes the `match` queue; its pool processes
# (forked after) inherit it and warm their caches at start.
_WARM_AT_START = [False]


@celeryd_after_setup.connect
def _note_match_queue(sender: Any, instance: Any, **kwargs: Any) -> None:
    queues = instance.app.amqp.queues.consume_from
    _WARM_AT_START[0] = settings.MATCHING_WARM_WORKER and "match" in queues


@worker_process_init.connect
def _warm_pool_process(**kwargs: Any) -> None:
    """A `match` pool process fills its caches in a thread at start (worker_process_init must
    return within seconds or the pool restarts the process); a trigger arriving meanwhile
    waits for the same caches rather than reading them a second time."""
    if _WARM_AT_START[0]:
        threading.Thread(target=_warm, name="matching-warm", daemon=True).start()


def _warm() -> None:
    try:
        logger.info("matching caches warmed: %s", services.worker_warm())
    except Exception:  # a cold first trigger is slower, not wrong
        logger.exception("matching warm-up failed")
    finally:
        connection.close()


@shared_task(acks_late=True)
def match_chunk(chunk_id: int) -> str:
    """Score one chunk of SMEs; safe to redeliver after a worker died mid-way."""
    return services.chunk_run(chunk_id)


@shared_task
def full_rematch() -> int:
    """Nightly: a full re-match, swapped in atomically when its last chunk is done."""
    return services.run_start().pk


@shared_task
def index_vectors(kind: str, ids: list[int]) -> int:
    """Recompute the text vectors of changed needs or SME profiles with the search's embedder
    (the `index` queue); a text whose hash is unchanged keeps its vector. Patents have the
    search's vectors (marketplace.tasks.index_patent_vectors), which matching reads."""
    if kind == "sme":
        names = dict(Industry.objects.values_list("code", "name_zh"))
        texts = {
            p.organisation_id: services.sme_text(p, names)
            for p in SmeProfile.objects.filter(organisation_id__in=ids)
        }
    else:
        needs = list(TechnologyNeed.objects.filter(pk__in=ids))
        texts = {n.pk: services.need_text(n) for n in needs}
    count = len(services.vectors_for(kind, texts))
    # A profile or a need saved (created, edited, closed, reopened): the SME's lists follow on
    # the `match` queue, after the vector is stored, so they are scored with the new text.
    if kind == "sme":
        refresh_lists.delay(sorted(ids))
    elif kind == "need":
        refresh_lists.delay(sorted({n.organisation_id for n in needs}))
    return count


@shared_task
def refresh_lists(sme_ids: list[int]) -> int:
    """Recompute every list of these SMEs now (need, profile, feedback or license changed)."""
    return services.lists_refresh(sme_ids)


@shared_task
def match_declaration(declaration_id: int) -> int:
    """A declaration was announced: match it against every SME and tell the SMEs it reached."""
    gained = services.declaration_matched(declaration_id)
    users = list(User.objects.filter(memberships__organisation_id__in=gained, is_active=True))

    def render(user: User) -> tuple[str, str]:
        return (
            _("A newly declared patent matches your needs"),
            _("See your matches: GET /api/v1/matches/ (declaration %(id)d).")
            % {"id": declaration_id},
        )

    notify(users=users, kind="new_match", source=f"new_match:{declaration_id}", render=render)
    services.live_context_warm()  # the lists are written: the supply of SME triggers follows now
    return len(gained)


@shared_task
def retire_declaration(declaration_id: int) -> int:
    deleted = services.declaration_retired(declaration_id)
    services.live_context_warm()
    return deleted


@shared_task
def weekly_digest() -> int:
    """Each SME hears once a week about the matches it gained in the last seven days."""
    since = timezone.now() - timedelta(days=7)
    week = timezone.localdate().isocalendar()
    sent = 0
    counts: dict[int, int] = {}
    # A declaration in several of an SME's lists (profile and needs) counts once.
    for sme_id, _declaration in (
        Match.objects.filter(run__is_current=True, created_at__gte=since)
        .values_list("sme_id", "declaration_id")
        .distinct()
    ):
        counts[sme_id] = counts.get(sme_id, 0) + 1
    for sme_id, count in counts.items():
        users = list(User.objects.filter(memberships__organisation_id=sme_id, is_active=True))

        def render(user: User, count: int = count) -> tuple[str, str]:
            return (
                _("%(count)d new patent matches this week") % {"count": count},
                _("Open-licensed patents that fit your needs: GET /api/v1/matches/"),
            )

        sent += len(
            notify(
                users=users,
                kind="match_digest",
                source=f"digest:{sme_id}:{week.year}-{week.week}",
                render=render,
            )
        )
    return sent


@shared_task
def resume_stale_runs() -> int:
    """Beat: re-send the pending chunks of runs running for more than 30 minutes."""
    return services.runs_resume_stale()
