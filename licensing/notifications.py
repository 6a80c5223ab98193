"""Who hears of each step of a declaration, a license or a mediation case, and what they read.

The event models' Verb choices name the audience (rules §3: "each reaches the parties
concerned"); these functions resolve it to users and notify them in their own language. The
notification tasks (licensing/tasks.py) run them by event id after commit.
"""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError

from licensing.models import Declaration, DeclarationEvent, LicenseEvent, MediationEvent
from marketplace import dispatch
from marketplace.models import User
from marketplace.services.notifications import notify
from marketplace.workflow import VerbChoices

logger = logging.getLogger(__name__)

DeclarationVerb = DeclarationEvent.Verb
LicenseVerb = LicenseEvent.Verb
MediationVerb = MediationEvent.Verb


def _audience(verbs: type[VerbChoices], verb: str) -> tuple[str, ...]:
    """Who hears of a stored verb (a code no longer declared: nobody)."""
    try:
        return verbs(verb).audience
    except ValueError:
        return ()


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
    for audience in _audience(DeclarationVerb, verb):
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


def declaration_event_notify(event_id: int) -> int:
    """Tell the parties about one timeline step; safe to run twice (one row per source)."""
    event = (
        DeclarationEvent.objects.select_related("declaration__patent", "declaration__organisation")
        .filter(pk=event_id)
        .first()
    )
    if event is None:
        return 0
    request_statistics_refresh()
    if not _audience(DeclarationVerb, event.verb):
        return 0
    declaration = event.declaration

    def render(user: User) -> tuple[str, str]:
        label = declaration.number or _("draft %(id)d") % {"id": declaration.pk}
        step = DeclarationVerb.label_of(event.verb)
        title = _("Open-license declaration %(label)s: %(step)s") % {"label": label, "step": step}
        body = _("Patent %(patent)s (%(title)s) by %(patentee)s.\nStep: %(step)s.\n%(reason)s") % {
            "patent": declaration.patent.patent_number,
            "title": declaration.patent.title,
            "patentee": declaration.organisation.name,
            "step": step,
            # System reasons are catalogue entries (gettext_noop); a person's words are not.
            "reason": (_("Reason: %(reason)s") % {"reason": _(event.reason)})
            if event.reason
            else "",
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


def license_event_notify(event_id: int) -> int:
    """A new license on my patent, filing, royalties, a contested payment: tell the parties."""
    event = (
        LicenseEvent.objects.select_related(
            "license__patent", "license__licensee", "license__licensor"
        )
        .filter(pk=event_id)
        .first()
    )
    if event is None:
        return 0
    request_statistics_refresh()
    audiences = _audience(LicenseVerb, event.verb)
    if not audiences:
        return 0
    license = event.license
    users: list[User] = []
    for audience in audiences:
        organisation_id = license.licensor_id if audience == "licensor" else license.licensee_id
        users += User.objects.filter(memberships__organisation_id=organisation_id)

    def render(user: User) -> tuple[str, str]:
        title = _("License %(id)d on %(patent)s: %(step)s") % {
            "id": license.pk,
            "patent": license.patent.patent_number,
            "step": LicenseVerb.label_of(event.verb),
        }
        body = _("Licensee: %(licensee)s. Patentee: %(licensor)s.\n%(reason)s") % {
            "licensee": license.licensee.name,
            "licensor": license.licensor.name,
            # System reasons are catalogue entries (gettext_noop); a person's words are not.
            "reason": (_("Reason: %(reason)s") % {"reason": _(event.reason)})
            if event.reason
            else "",
        }
        link = _("The license: %(url)s") % {"url": license.page_url()}
        return title, f"{body.rstrip()}\n{link}"

    return len(
        notify(
            users=users,
            kind=f"license_{event.verb}",
            source=f"license_event:{event.pk}",
            render=render,
            data={"license": license.pk, "event": event.pk},
        )
    )


def mediation_event_notify(event: MediationEvent) -> int:
    """Tell the parties, the mediator or the supervisors about a step in a case (the caller
    records, for a case not accepted, that the applicant has been told). Safe to run twice."""
    audiences = _audience(MediationVerb, event.verb)
    if not audiences:
        return 0
    case = event.case
    users: list[User] = []
    for audience in audiences:
        if audience in ("applicant", "respondent"):
            users += User.objects.filter(
                memberships__organisation_id=case.organisation_of(audience)
            )
        elif audience == "mediator" and case.mediator_id:
            users += User.objects.filter(pk=case.mediator_id)
        elif audience == "supervisors":
            users += User.objects.filter(
                groups__permissions__codename="supervise_mediation", is_active=True
            ).distinct()

    def render(user: User) -> tuple[str, str]:
        step = MediationVerb.label_of(event.verb)
        title = _("Mediation case %(number)s: %(step)s") % {"number": case.number, "step": step}
        body = _("Case %(number)s, status %(status)s.\n%(reason)s") % {
            "number": case.number,
            "status": case.get_status_display(),
            # System reasons are catalogue entries (gettext_noop); a person's words are not.
            "reason": (_("Reason: %(reason)s") % {"reason": _(event.reason)})
            if event.reason
            else "",
        }
        if case.session_at and event.verb == "accepted":
            body += "\n" + _("Session: %(when)s, %(place)s") % {
                "when": case.session_at.strftime("%Y-%m-%d %H:%M"),
                "place": case.session_place,
            }
        if event.verb == "not_accepted":
            body += "\n" + _(
                "The case was not accepted for mediation. Mediation is voluntary: you may "
                "still take the dispute to court."
            )
        if event.verb in ("agents_named", "agent_revoked"):
            side = event.data.get("side")
            line = (
                _("Agents with power of attorney for the %(side)s: %(names)s")
                if event.verb == "agents_named"
                else _("Power of attorney revoked for the %(side)s: %(names)s")
            )
            body += "\n" + line % {
                "side": _("applicant") if side == "applicant" else _("respondent"),
                "names": ", ".join(event.data.get("agents", [])),
            }
        return title, body

    created = notify(
        users=users,
        kind=f"mediation_{event.verb}",
        source=f"mediation_event:{event.pk}",
        render=render,
        data={"case": case.pk, "event": event.pk},
    )
    return len(created)


# Events come in bursts (an import, a busy day): the first in five minutes schedules one
# refresh (at pilot scale a refresh takes seconds of CPU; see BENCHMARKS.md).
STATISTICS_REFRESH_DELAY_SECONDS = 300
STATISTICS_REFRESH_PENDING = "open-statistics-refresh-pending"


def request_statistics_refresh() -> None:
    """Refresh the open statistics five minutes from now, unless a refresh is already due."""
    if not cache.add(STATISTICS_REFRESH_PENDING, 1, timeout=STATISTICS_REFRESH_DELAY_SECONDS):
        return
    try:
        dispatch.task("licensing.tasks.refresh_open_statistics").apply_async(
            countdown=STATISTICS_REFRESH_DELAY_SECONDS
        )
    except OperationalError:
        # The hourly beat run catches up; a notification must not fail for the statistics.
        logger.exception("the broker could not be reached: open statistics not refreshed")
