"""Technology needs: an SME posts, edits, closes and reopens them."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketplace import permissions
from marketplace.errors import Conflict, NotFound, Problem, problems_error
from marketplace.models import (
    Industry,
    NeedStatus,
    Organisation,
    OrganisationKind,
    TechnologyNeed,
    TechnologyNeedEvent,
    User,
)
from marketplace.models.needs import NEED
from marketplace.patents.ipc import normalise_ipc_prefix

EDITABLE = (
    "title",
    "description",
    "keywords",
    "ipc_areas",
    "industries",
    "budget_min_cny",
    "budget_max_cny",
    "payment_method",
    "region",
    "expires_on",
)


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """The values normalised (IPC prefixes, industry codes, keywords); a value that is not
    an IPC prefix is left out here and reported by `_problems`."""
    cleaned = dict(values)
    if "ipc_areas" in cleaned:
        prefixes = [normalise_ipc_prefix(raw) for raw in cleaned["ipc_areas"]]
        cleaned["ipc_areas"] = list(dict.fromkeys(p for p in prefixes if p is not None))
    if "industries" in cleaned:
        codes = [
            industry.code if isinstance(industry, Industry) else industry
            for industry in cleaned["industries"]
        ]
        cleaned["industries"] = list(dict.fromkeys(codes))
    if "keywords" in cleaned:
        cleaned["keywords"] = list(
            dict.fromkeys(k.strip() for k in cleaned["keywords"] if k.strip())
        )
    return cleaned


def _problems(
    values: dict[str, Any], *, today: date, current: TechnologyNeed | None = None
) -> list[Problem]:
    """Every rule the values break, all found in one round (fields not given keep the
    current need's values for the budget range)."""
    problems: list[Problem] = []
    for raw in values.get("ipc_areas") or []:
        if normalise_ipc_prefix(raw) is None:
            problems.append(
                (
                    "ipc_areas",
                    "invalid_ipc",
                    _("%(value)s is not an IPC symbol or prefix (e.g. H01M).")
                    % {"value": str(raw)[:20]},
                )
            )
    if "expires_on" in values and values["expires_on"] <= today:
        problems.append(("expires_on", "expiry_in_past", _("A need must expire after today.")))
    low = values.get("budget_min_cny", current.budget_min_cny if current else None)
    high = values.get("budget_max_cny", current.budget_max_cny if current else None)
    if low is not None and high is not None and low > high:
        problems.append(
            (
                "budget_min_cny",
                "budget_range_inverted",
                _("The lowest budget is above the highest."),
            )
        )
    return problems


def need_create_problems(
    *, actor: User, organisation_id: int | None, values: dict[str, Any]
) -> list[Problem]:
    """The rules a new need's values break, for a body the serializer refused in part (none
    when the actor could not post for that organisation: that refusal comes first)."""
    organisation = (
        Organisation.objects.filter(pk=organisation_id).first() if organisation_id else None
    )
    if (
        organisation is None
        or organisation.kind != OrganisationKind.SME
        or not permissions.allows(permissions.check_need_owner, actor, organisation.pk)
    ):
        return []
    return _problems(values, today=timezone.localdate())


def need_update_problems(*, actor: User, need_id: int, values: dict[str, Any]) -> list[Problem]:
    """The rules an edit's values break, for a body the serializer refused in part."""
    need = TechnologyNeed.objects.filter(pk=need_id).first()
    if need is None or not permissions.allows(
        permissions.check_need_owner, actor, need.organisation_id
    ):
        return []
    return _problems(values, today=timezone.localdate(), current=need)


@transaction.atomic
def need_create(*, actor: User, organisation_id: int, values: dict[str, Any]) -> TechnologyNeed:
    """Post a technology need for an SME (its members)."""
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        raise NotFound()
    permissions.check_need_owner(actor, organisation.pk)
    if organisation.kind != OrganisationKind.SME:
        raise Conflict("not_an_sme", _("Only an SME posts technology needs."))
    problems = _problems(values, today=timezone.localdate())
    if problems:
        raise problems_error(problems)
    cleaned = _clean(values)
    need = TechnologyNeed.objects.create(organisation=organisation, created_by=actor, **cleaned)
    NEED.record(need, TechnologyNeedEvent.Verb.CREATED, actor=actor, to_status=NeedStatus.OPEN)
    return need


def _lock(actor: User, need_id: int) -> TechnologyNeed:
    need = (
        TechnologyNeed.objects.select_for_update()
        .select_related("organisation")
        .filter(pk=need_id)
        .first()
    )
    if need is None:
        raise NotFound()
    permissions.check_need_owner(actor, need.organisation_id)
    return need


@transaction.atomic
def need_update(*, actor: User, need_id: int, values: dict[str, Any]) -> TechnologyNeed:
    """Edit a need's content (its SME's members)."""
    need = _lock(actor, need_id)
    problems = _problems(values, today=timezone.localdate(), current=need)
    if problems:
        raise problems_error(problems)
    cleaned = _clean(values)
    changes = {}
    for field, value in cleaned.items():
        before = getattr(need, field)
        if before != value:
            changes[field] = [str(getattr(before, "pk", before)), str(getattr(value, "pk", value))]
            setattr(need, field, value)
    if changes:
        need.save()
        TechnologyNeedEvent.objects.create(
            need=need, actor=actor, verb=TechnologyNeedEvent.Verb.UPDATED, changes=changes
        )
    return need


def _transition(actor: User, need_id: int, current: str, new: str) -> TechnologyNeed:
    need = _lock(actor, need_id)
    if need.status != current:
        # The row is locked: this is the need's status, not a race (the code names what the
        # move needed, as the API has always answered).
        raise Conflict(
            f"need_not_{current}",
            _("This need is %(status)s already."),
            params={"status": need.get_status_display()},
        )
    NEED.transition(need, to=new, actor=actor)
    need.refresh_from_db()
    return need


@transaction.atomic
def need_close(*, actor: User, need_id: int) -> TechnologyNeed:
    """Close an open need (it stops being matched)."""
    return _transition(actor, need_id, NeedStatus.OPEN, NeedStatus.CLOSED)


@transaction.atomic
def need_reopen(*, actor: User, need_id: int) -> TechnologyNeed:
    """Reopen a closed need; one past its expiry date needs a new date first."""
    need = _lock(actor, need_id)
    if need.expires_on <= timezone.localdate():
        raise Conflict(
            "need_expired",
            _("This need expired on %(date)s; set a new expiry date before reopening it."),
            params={"date": need.expires_on.isoformat()},
        )
    return _transition(actor, need_id, NeedStatus.CLOSED, NeedStatus.OPEN)
