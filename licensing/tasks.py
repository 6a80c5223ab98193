"""Celery tasks of the licensing app: notifications after commit, daily expiry."""

from __future__ import annotations

from celery import shared_task
from django.utils.translation import gettext as _

from licensing.models import Declaration, DeclarationEvent
from marketplace.models import User

# Who hears about which step (rules §3; issue: "each reaches the parties concerned").
AUDIENCE = {
    "submitted": ("patentee", "reviewers"),
    "announced": ("patentee", "co_owners"),
    "not_announced": ("patentee", "co_owners"),
    "withdrawal_requested": ("patentee", "reviewers"),
    "withdrawn": ("patentee", "co_owners", "licensees"),
    "withdrawal_refused": ("patentee",),
    "terminated": ("patentee", "co_owners", "licensees"),
    "revoked": ("patentee", "co_owners", "licensees"),
    "expired": ("patentee", "co_owners"),
    "superseded": ("patentee",),
}


def licensee_users(declaration: Declaration) -> list[User]:
    """Members of every organisation holding a license granted under the declaration."""
    licenses = getattr(declaration, "licenses", None)
    if licenses is None:
        return []
    return list(
        User.objects.filter(
            memberships__organisation__in=licenses.values("licensee_id"), is_active=True
        ).distinct()
    )


def recipients(declaration: Declaration, verb: str) -> list[User]:
    users: list[User] = []
    for audience in AUDIENCE.get(verb, ()):
        if audience == "patentee":
            users += User.objects.filter(memberships__organisation=declaration.organisation_id)
        elif audience == "co_owners":
            users += User.objects.filter(
                memberships__organisation__in=declaration.patent.co_owners.all()
            )
        elif audience == "reviewers":
            users += User.objects.reviewers()
        elif audience == "licensees":
            users += licensee_users(declaration)
    return users


@shared_task
def notify_declaration_event(event_id: int) -> int:
    """Tell the parties about one timeline step; safe to run twice (one row per source)."""
    from marketplace.services.notifications import notify

    event = (
        DeclarationEvent.objects.select_related("declaration__patent", "declaration__organisation")
        .filter(pk=event_id)
        .first()
    )
    if event is None or event.verb not in AUDIENCE:
        return 0
    declaration = event.declaration

    def render(user: User) -> tuple[str, str]:
        label = declaration.number or _("draft %(id)d") % {"id": declaration.pk}
        title = _("Open-license declaration %(label)s: %(step)s") % {
            "label": label,
            "step": _(event.verb.replace("_", " ")),
        }
        body = _("Patent %(patent)s (%(title)s) by %(patentee)s.\nStep: %(step)s.\n%(reason)s") % {
            "patent": declaration.patent.patent_number,
            "title": declaration.patent.title,
            "patentee": declaration.organisation.name,
            "step": _(event.verb.replace("_", " ")),
            "reason": (_("Reason: %(reason)s") % {"reason": event.reason}) if event.reason else "",
        }
        return title, body

    created = notify(
        users=recipients(declaration, event.verb),
        kind=f"declaration_{event.verb}",
        source=f"declaration_event:{event.pk}",
        render=render,
        data={"declaration": declaration.pk, "event": event.pk},
    )
    return len(created)


@shared_task
def expire_declarations() -> int:
    """End declarations whose patent has expired (Celery beat, daily)."""
    from licensing.services.declarations import declarations_expire

    return declarations_expire()
