"""Patents: creating and editing them, legal-status facts, pledges, exclusive licenses."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketplace import permissions, roles
from marketplace.errors import Conflict, InvalidInput, NotFound, Problem, problems_error
from marketplace.http_cache import public_cache_invalidate
from marketplace.models import (
    ExclusiveLicenseKind,
    LegalStatus,
    Organisation,
    Patent,
    PatentCoOwner,
    PatentEvent,
    PatentExclusiveLicense,
    PatentHindrance,
    PatentPledge,
    PatentType,
    User,
)
from marketplace.patents import guards
from marketplace.patents.cleaning import clean_patent, iter_fields
from marketplace.patents.numbers import parse_application_number

BIBLIOGRAPHIC_FIELDS = (
    "title",
    "abstract",
    "claims",
    "main_ipc",
    "further_ipcs",
    "filing_date",
    "grant_date",
    "publication_numbers",
)
LEGAL_FIELDS = (
    "legal_status",
    "annual_fees_paid_through",
    "is_suspended",
    "is_under_preservation",
    "evaluation_report_date",
    "evaluation_report_positive",
)


def _json(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


def _diff(patent: Patent, values: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    changes = {}
    for field in fields:
        if field in values and getattr(patent, field) != values[field]:
            changes[field] = [_json(getattr(patent, field)), _json(values[field])]
    return changes


def _lock_patent(*, patent_id: int, actor: User, allow_reviewer: bool) -> Patent:
    patent = (
        Patent.objects.visible_to(actor)
        .select_for_update(of=("self",))
        .filter(pk=patent_id)
        .first()
    )
    if patent is None:
        raise NotFound()
    if allow_reviewer:
        permissions.check_patent_facts(actor, patent)
    else:
        permissions.check_patent_owner(actor, patent.owner_id)
    return patent


def _co_owner_problems(owner: Organisation, ids: list[int]) -> list[Problem]:
    known = set(Organisation.objects.filter(pk__in=ids).values_list("pk", flat=True))
    problems: list[Problem] = []
    missing = [pk for pk in ids if pk not in known]
    if missing:
        problems.append(
            (
                "co_owners",
                "unknown_organisation",
                _("There is no organisation with id %(ids)s.")
                % {"ids": ", ".join(map(str, missing))},
            )
        )
    if owner.pk in known:
        problems.append(
            (
                "co_owners",
                "owner_is_co_owner",
                _("The owning organisation is not also a co-owner."),
            )
        )
    return problems


def _canonical_number(raw: Any) -> str | None:
    try:
        return parse_application_number(str(raw).strip()).canonical
    except (InvalidInput, TypeError):
        return None


def _create_problems(
    owner: Organisation, data: dict[str, Any], co_owner_ids: list[int]
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The cleaned values (None when they break a rule) and every rule broken, found in one
    round: the patent's own fields, a number already on the platform, the co-owners."""
    problems: list[Problem] = []
    values: dict[str, Any] | None = None
    try:
        values = clean_patent(data)
    except InvalidInput as error:
        problems.extend(iter_fields(error))
    number = (
        values["application_number"]
        if values
        else _canonical_number(data.get("application_number"))
    )
    if number and Patent.objects.filter(application_number=number).exists():
        problems.append(
            (
                "application_number",
                "patent_exists",
                _("Patent %(number)s is already on the platform.") % {"number": number},
            )
        )
    problems.extend(_co_owner_problems(owner, co_owner_ids))
    return values, problems


def patent_create_problems(
    *, actor: User, owner_id: int | None, data: dict[str, Any], co_owner_ids: list[int]
) -> list[Problem]:
    """The rules a new patent's values break, for a body the serializer refused in part (none
    when the actor may not add patents to that organisation: that refusal comes first)."""
    owner = Organisation.objects.filter(pk=owner_id).first() if owner_id else None
    if owner is None or not permissions.allows(permissions.check_patent_owner, actor, owner.pk):
        return []
    return _create_problems(owner, data, co_owner_ids)[1]


@transaction.atomic
def patent_create(
    *, actor: User, owner_id: int, data: dict[str, Any], co_owner_ids: list[int] | None = None
) -> Patent:
    """Add a patent to an organisation's portfolio (members of that organisation)."""
    owner = Organisation.objects.filter(pk=owner_id).first()
    if owner is None:
        raise NotFound()
    permissions.check_patent_owner(actor, owner.pk)
    values, problems = _create_problems(owner, data, co_owner_ids or [])
    if problems or values is None:
        raise problems_error(problems, conflicts=frozenset({"patent_exists"}))
    co_owner_order = list(dict.fromkeys(co_owner_ids or []))
    by_pk = Organisation.objects.in_bulk(co_owner_order)
    co_owners = [by_pk[pk] for pk in co_owner_order]
    try:
        with transaction.atomic():
            patent = Patent.objects.create(owner=owner, **values)
    except IntegrityError as error:
        raise Conflict(
            "patent_exists",
            _("Patent %(number)s is already on the platform."),
            params={"number": values["application_number"]},
        ) from error
    PatentCoOwner.objects.bulk_create(
        PatentCoOwner(patent=patent, organisation=organisation, position=position)
        for position, organisation in enumerate(co_owners)
    )
    PatentEvent.objects.create(
        patent=patent,
        actor=actor,
        verb=PatentEvent.Verb.CREATED,
        changes={field: [None, _json(values.get(field))] for field in BIBLIOGRAPHIC_FIELDS},
    )
    return patent


def patent_update_problems(*, actor: User, patent_id: int, data: dict[str, Any]) -> list[Problem]:
    """The rules an edit's values break, for a body the serializer refused in part."""
    patent = Patent.objects.visible_to(actor).filter(pk=patent_id).first()
    if patent is None or not permissions.allows(
        permissions.check_patent_owner, actor, patent.owner_id
    ):
        return []
    try:
        clean_patent(data, partial_of=patent)
    except InvalidInput as error:
        return list(iter_fields(error))
    return []


@transaction.atomic
def patent_update(*, actor: User, patent_id: int, data: dict[str, Any]) -> Patent:
    """Correct a patent's bibliographic data (members of the owning organisation)."""
    patent = _lock_patent(patent_id=patent_id, actor=actor, allow_reviewer=False)
    try:
        values = clean_patent(data, partial_of=patent)
    except InvalidInput as error:
        raise problems_error(list(iter_fields(error))) from error
    changes = _diff(patent, values, BIBLIOGRAPHIC_FIELDS)
    if changes:
        for field, value in values.items():
            setattr(patent, field, value)
        patent.save()
        PatentEvent.objects.create(
            patent=patent, actor=actor, verb=PatentEvent.Verb.UPDATED, changes=changes
        )
    return Patent.objects.get(pk=patent.pk)


@transaction.atomic
def patent_record_legal_status(*, actor: User, patent_id: int, facts: dict[str, Any]) -> Patent:
    """Record legal-status facts (owning organisation's members, or a reviewer)."""
    patent = _lock_patent(patent_id=patent_id, actor=actor, allow_reviewer=True)
    unknown = set(facts) - set(LEGAL_FIELDS)
    if unknown:
        raise InvalidInput(
            "field_not_editable",
            _("These fields cannot be changed here: %(fields)s."),
            params={"fields": ", ".join(sorted(unknown))},
        )
    report_given = {"evaluation_report_date", "evaluation_report_positive"} & set(facts)
    if report_given and patent.patent_type == PatentType.INVENTION:
        raise InvalidInput(
            "evaluation_report_not_applicable",
            _("Only utility models and designs have a patent right evaluation report."),
            fields={field: [_("Not for inventions.")] for field in report_given},
        )
    report_date = facts.get("evaluation_report_date", patent.evaluation_report_date)
    positive = facts.get("evaluation_report_positive", patent.evaluation_report_positive)
    if (report_date is None) != (positive is None):
        raise InvalidInput(
            "evaluation_report_incomplete",
            _("An evaluation report needs both its date and its conclusion."),
            fields={"evaluation_report_date": [_("Give the date and the conclusion together.")]},
        )
    if report_date is not None and patent.grant_date and report_date < patent.grant_date:
        raise InvalidInput(
            "evaluation_report_before_grant",
            _("An evaluation report is issued after the grant."),
            fields={"evaluation_report_date": [_("Before the grant date.")]},
        )
    years = facts.get("annual_fees_paid_through")
    if years is not None and not 1 <= years <= 20:
        raise InvalidInput(
            "invalid_patent_year",
            _("A patent year between 1 and 20."),
            fields={"annual_fees_paid_through": [_("Between 1 and 20.")]},
        )
    if facts.get("legal_status") not in (None, *LegalStatus.values):
        raise InvalidInput("invalid_legal_status", _("Unknown legal status."))
    is_reviewer = roles.has(actor, roles.RECORD_LEGAL_STATUS)
    if (
        facts.get("legal_status") == LegalStatus.TERMINATED
        and patent.legal_status != LegalStatus.TERMINATED
        and not is_reviewer
    ):
        # A patentee setting "terminated" is abandoning the patent.
        guards.check(patent, "abandon")
    changes = _diff(patent, facts, LEGAL_FIELDS)
    if changes:
        for field, value in facts.items():
            setattr(patent, field, value)
        patent.save(update_fields=[*facts.keys(), "updated_at"])
        PatentEvent.objects.create(
            patent=patent, actor=actor, verb=PatentEvent.Verb.LEGAL_STATUS, changes=changes
        )
        guards.facts_changed([patent.pk])
    return patent


@transaction.atomic
def patent_pledge_record(
    *, actor: User, patent_id: int, pledgee: str, registered_on: date, pledgee_consents: bool
) -> PatentPledge:
    """Record a registered pledge and whether the pledgee consents to open licensing."""
    patent = _lock_patent(patent_id=patent_id, actor=actor, allow_reviewer=True)
    guards.check(patent, "pledge", pledgee_consents=pledgee_consents)
    pledge = PatentPledge.objects.create(
        patent=patent,
        pledgee=pledgee,
        registered_on=registered_on,
        pledgee_consents=pledgee_consents,
        recorded_by=actor,
    )
    PatentEvent.objects.create(
        patent=patent,
        actor=actor,
        verb=PatentEvent.Verb.PLEDGE_RECORDED,
        changes={
            "pledge": pledge.pk,
            "pledgee": pledgee,
            "registered_on": registered_on.isoformat(),
            "pledgee_consents": pledgee_consents,
        },
    )
    guards.facts_changed([patent.pk])
    return pledge


@transaction.atomic
def patent_pledge_release(
    *, actor: User, patent_id: int, pledge_id: int, released_on: date
) -> PatentPledge:
    """Record that a pledge was released."""
    patent = _lock_patent(patent_id=patent_id, actor=actor, allow_reviewer=True)
    pledge = PatentPledge.objects.filter(pk=pledge_id, patent=patent).first()
    if pledge is None:
        raise NotFound()
    if pledge.released_on is not None:
        raise Conflict("pledge_already_released", _("This pledge is already released."))
    if released_on < pledge.registered_on:
        raise InvalidInput(
            "released_before_registered",
            _("A pledge cannot be released before it was registered."),
            fields={"released_on": [_("Before the registration date.")]},
        )
    pledge.released_on = released_on
    pledge.save(update_fields=["released_on"])
    PatentEvent.objects.create(
        patent=patent,
        actor=actor,
        verb=PatentEvent.Verb.PLEDGE_RELEASED,
        changes={"pledge": pledge.pk, "released_on": released_on.isoformat()},
    )
    guards.facts_changed([patent.pk])
    return pledge


@transaction.atomic
def patent_exclusive_license_record(
    *,
    actor: User,
    patent_id: int,
    kind: str,
    licensee: str,
    starts_on: date,
    ends_on: date,
) -> PatentExclusiveLicense:
    """Record an exclusive or sole license granted outside the platform."""
    patent = _lock_patent(patent_id=patent_id, actor=actor, allow_reviewer=True)
    if kind not in ExclusiveLicenseKind.values:
        raise InvalidInput("invalid_license_kind", _("Exclusive or sole."))
    guards.check(patent, "exclusive_license", kind=kind)
    if ends_on == starts_on:
        raise InvalidInput(
            "empty_license_period",
            _("The license period is empty: it must end after it starts."),
            fields={"ends_on": [_("Not after the start date.")]},
        )
    if ends_on < starts_on:
        raise InvalidInput(
            "ends_before_start",
            _("The license ends before it starts."),
            fields={"ends_on": [_("Before the start date.")]},
        )
    record = PatentExclusiveLicense.objects.create(
        patent=patent,
        kind=kind,
        licensee=licensee,
        starts_on=starts_on,
        ends_on=ends_on,
        recorded_by=actor,
    )
    PatentEvent.objects.create(
        patent=patent,
        actor=actor,
        verb=PatentEvent.Verb.EXCLUSIVE_LICENSE_RECORDED,
        changes={
            "license": record.pk,
            "kind": kind,
            "licensee": licensee,
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
        },
    )
    guards.facts_changed([patent.pk])
    return record


@transaction.atomic
def patent_exclusive_license_end(
    *, actor: User, patent_id: int, license_id: int, ended_on: date
) -> PatentExclusiveLicense:
    """Record that an exclusive or sole license ended early (or set its real end date)."""
    patent = _lock_patent(patent_id=patent_id, actor=actor, allow_reviewer=True)
    record = PatentExclusiveLicense.objects.filter(pk=license_id, patent=patent).first()
    if record is None:
        raise NotFound()
    if ended_on < record.starts_on:
        raise InvalidInput(
            "ends_before_start",
            _("The license ends before it starts."),
            fields={"ended_on": [_("Before the start date.")]},
        )
    before = record.ends_on
    record.ends_on = ended_on
    record.save(update_fields=["ends_on"])
    PatentEvent.objects.create(
        patent=patent,
        actor=actor,
        verb=PatentEvent.Verb.EXCLUSIVE_LICENSE_ENDED,
        changes={"license": record.pk, "ends_on": [before.isoformat(), ended_on.isoformat()]},
    )
    guards.facts_changed([patent.pk])
    return record


@transaction.atomic
def patent_hindrance_record(*, actor: User, patent_id: int, reason: str) -> PatentHindrance:
    """A reviewer records another hindrance to open licensing (bar 9)."""
    permissions.check_patent_hindrance(actor)
    patent = _lock_patent(patent_id=patent_id, actor=actor, allow_reviewer=True)
    hindrance = PatentHindrance.objects.create(patent=patent, reason=reason, recorded_by=actor)
    PatentEvent.objects.create(
        patent=patent,
        actor=actor,
        verb=PatentEvent.Verb.HINDRANCE_RECORDED,
        changes={"hindrance": hindrance.pk, "reason": reason},
    )
    guards.facts_changed([patent.pk])
    return hindrance


@transaction.atomic
def patent_hindrance_resolve(*, actor: User, patent_id: int, hindrance_id: int) -> PatentHindrance:
    """A reviewer marks a recorded hindrance as resolved."""
    permissions.check_patent_hindrance(actor)
    patent = _lock_patent(patent_id=patent_id, actor=actor, allow_reviewer=True)
    hindrance = PatentHindrance.objects.filter(pk=hindrance_id, patent=patent).first()
    if hindrance is None:
        raise NotFound()
    if hindrance.resolved_at is not None:
        raise Conflict("hindrance_already_resolved", _("This hindrance is already resolved."))
    hindrance.resolved_at = timezone.now()
    hindrance.resolved_by = actor
    hindrance.save(update_fields=["resolved_at", "resolved_by"])
    PatentEvent.objects.create(
        patent=patent,
        actor=actor,
        verb=PatentEvent.Verb.HINDRANCE_RESOLVED,
        changes={"hindrance": hindrance.pk},
    )
    guards.facts_changed([patent.pk])
    return hindrance


def patent_set_listing(
    *, patent_ids: list[int], is_listed: bool, terms: dict[str, Any] | None = None
) -> int:
    """Show patents in public search or hide them (licensing calls this as declarations move).

    `terms` (payment_method, upfront_cny, royalty_rate) are copied for search filters.
    """
    updates: dict[str, Any] = {"is_listed": is_listed, "updated_at": timezone.now()}
    public_cache_invalidate()  # an UPDATE sends no post_save
    if terms is not None:
        updates.update(
            listed_payment_method=terms["payment_method"],
            listed_upfront_cny=terms["upfront_cny"],
            listed_royalty_rate=terms["royalty_rate"],
        )
        return Patent.objects.filter(pk__in=patent_ids).update(**updates)
    return Patent.objects.filter(pk__in=patent_ids).exclude(is_listed=is_listed).update(**updates)
