"""Saved searches: create, rename, pause, resume, delete; alerts when a declaration is announced
that one finds; the daily e-mail digest of those alerts.

A saved search is its owner's private setting, not a business record: no event rows (its
created_at and updated_at say enough, and only its owner ever acts on it).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from marketplace import emails
from marketplace.errors import Conflict, NotFound
from marketplace.models import Patent, SavedSearch, SavedSearchAlert, SavedSearchDigest, User
from marketplace.search.saved import query_finds_patent, stored_query
from marketplace.services.notifications import notify

logger = logging.getLogger(__name__)

# Each active saved search costs one search of one patent per announcement.
MAX_SAVED_SEARCHES = 50


def _own(user: User, saved_search_id: int, *, lock: bool = False) -> SavedSearch:
    queryset = SavedSearch.objects.visible_to(user).filter(pk=saved_search_id)
    found = (queryset.select_for_update() if lock else queryset).first()
    if found is None:
        raise NotFound()
    return found


@transaction.atomic
def saved_search_create(*, actor: User, name: str, query: dict[str, Any]) -> SavedSearch:
    """Save a search (validated search parameters) for its owner, at most MAX_SAVED_SEARCHES."""
    # The user's row is locked so that two saves at once cannot pass the limit together.
    User.objects.select_for_update().filter(pk=actor.pk).first()
    if SavedSearch.objects.filter(owner=actor).count() >= MAX_SAVED_SEARCHES:
        raise Conflict(
            "saved_search_limit",
            gettext_lazy("You can keep at most %(limit)d saved searches; delete one first."),
            params={"limit": MAX_SAVED_SEARCHES},
        )
    return SavedSearch.objects.create(owner=actor, name=name, query=stored_query(query))


@transaction.atomic
def saved_search_rename(*, actor: User, saved_search_id: int, name: str) -> SavedSearch:
    saved = _own(actor, saved_search_id, lock=True)
    saved.name = name
    saved.save(update_fields=["name", "updated_at"])
    return saved


@transaction.atomic
def saved_search_set_paused(*, actor: User, saved_search_id: int, is_paused: bool) -> SavedSearch:
    """Pause (no alerts, no digest) or resume a saved search; doing it twice changes nothing."""
    saved = _own(actor, saved_search_id, lock=True)
    if saved.is_paused != is_paused:
        saved.is_paused = is_paused
        saved.save(update_fields=["is_paused", "updated_at"])
    return saved


@transaction.atomic
def saved_search_delete(*, actor: User, saved_search_id: int) -> None:
    _own(actor, saved_search_id, lock=True).delete()


# ---- alerts --------------------------------------------------------------------------------


@transaction.atomic
def saved_search_alerts_create(*, declaration_id: int) -> list[SavedSearchAlert]:
    """Alert every active saved search that finds the patent of a newly announced declaration:
    one alert and one in-app notification per saved search, whatever the number of deliveries
    (an advisory lock per declaration, then the unique pair; the e-mail is the daily digest)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"saved_search_alerts:{declaration_id}"]
        )
    # Read through the relation licensing declares on Patent (marketplace does not import it).
    row = (
        Patent.objects.with_declaration_in_force(id=declaration_id)
        .values_list("id", "declarations__number")
        .first()
    )
    if row is None:  # gone, or no longer in force: nothing to tell
        return []
    patent_id, number = row
    done = set(
        SavedSearchAlert.objects.filter(declaration_id=declaration_id).values_list(
            "saved_search_id", flat=True
        )
    )
    candidates = (
        SavedSearch.objects.filter(is_paused=False, owner__is_active=True)
        .exclude(pk__in=done)
        .select_related("owner")
        .order_by("id")
    )
    found = [saved for saved in candidates if query_finds_patent(saved.query, patent_id)]
    alerts = SavedSearchAlert.objects.bulk_create(
        [
            SavedSearchAlert(
                saved_search=saved,
                patent_id=patent_id,
                declaration_id=declaration_id,
                declaration_number=number or "",
            )
            for saved in found
        ]
    )
    patent = Patent.objects.filter(pk=patent_id).first()
    for saved in found:

        def render(user: User, saved: SavedSearch = saved) -> tuple[str, str]:
            title = _("New match for your saved search “%(name)s”") % {"name": saved.name}
            body = _(
                "Patent %(patent)s (%(title)s) is now offered for open license under "
                "declaration %(number)s.\nGET /api/v1/patents/%(id)d/"
            ) % {
                "patent": patent.patent_number if patent else "",
                "title": patent.title if patent else "",
                "number": number or "",
                "id": patent_id,
            }
            return title[:200], body

        notify(
            users=[saved.owner],
            kind="saved_search_match",
            source=f"saved_search:{saved.pk}:declaration:{declaration_id}",
            render=render,
            data={"saved_search": saved.pk, "patent": patent_id, "declaration": declaration_id},
            send_email=False,
        )
    return alerts


# ---- the daily digest ----------------------------------------------------------------------


def _digest_message(user: User, alerts: list[SavedSearchAlert]) -> emails.Message:
    with translation.override(user.preferred_language):
        subject = ngettext(
            "Your saved searches: %(count)d new match",
            "Your saved searches: %(count)d new matches",
            len(alerts),
        ) % {"count": len(alerts)}
        lines = [
            _("%(search)s: patent %(patent)s %(title)s, declaration %(number)s")
            % {
                "search": alert.saved_search.name,
                "patent": alert.patent.patent_number,
                "title": alert.patent.title,
                "number": alert.declaration_number,
            }
            + f"\n  GET /api/v1/patents/{alert.patent_id}/"
            for alert in alerts
        ]
        body = (
            _(
                "Hello %(name)s,\n\nnewly announced open-license declarations match your "
                "saved searches:"
            )
            % {"name": user.get_short_name()}
            + "\n\n"
            + "\n".join(lines)
            + "\n\n"
            + _(
                "Pause a saved search with POST /api/v1/saved-searches/{id}/pause/, delete it "
                "with DELETE /api/v1/saved-searches/{id}/."
            )
            + "\n"
        )
    return emails.Message("saved_search_digest", user.email, subject, body)


def saved_search_digests_send(*, day: date) -> int:
    """Mail each user one digest for `day` of the alerts not yet mailed (paused searches wait);
    a second run on the same day sends none (the digest row claims the user's day)."""
    user_ids = list(
        SavedSearchAlert.objects.filter(
            digest__isnull=True, saved_search__is_paused=False, saved_search__owner__is_active=True
        )
        .order_by()
        .values_list("saved_search__owner_id", flat=True)
        .distinct()
    )
    sent = 0
    for user_id in sorted(user_ids):
        sent += _send_digest(user_id, day)
    return sent


@transaction.atomic
def _send_digest(user_id: int, day: date) -> int:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return 0
    try:
        with transaction.atomic():
            digest = SavedSearchDigest.objects.create(user=user, day=day)
    except IntegrityError:
        return 0  # today's digest is already claimed (a second delivery, or a run earlier)
    alerts = list(
        SavedSearchAlert.objects.select_for_update(of=("self",))
        .filter(saved_search__owner=user, saved_search__is_paused=False, digest__isnull=True)
        .select_related("saved_search", "patent")
        .order_by("created_at", "id")
    )
    if not alerts:
        transaction.set_rollback(True)
        return 0
    SavedSearchAlert.objects.filter(pk__in=[alert.pk for alert in alerts]).update(digest=digest)
    emails.queue(_digest_message(user, alerts))
    return 1
