"""Who sees which rows: every `visible_to(user)` queryset (and the named, narrower scopes the
API starts from) for every role of the endpoint matrix, asserted row by row.

The matrix world (a university and an SME with a license, a mediation case, a need, an
import, a notification, a saved search) gets a second of each thing that none of the nine
roles is party to (another university licensing another SME), and a draft, an unlisted
patent and a closed need, so that each scope has rows to leave out. Rows are named; each
test asserts exactly the set of names a role sees.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Set
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import models, transaction

from licensing.models import Declaration, License, MediationCase
from licensing.services import declarations as declaration_services
from marketplace.models import (
    ImportJob,
    Membership,
    MembershipRole,
    Notification,
    Organisation,
    OrganisationKind,
    Patent,
    SavedSearch,
    TechnologyNeed,
)
from marketplace.services.imports import import_job_create
from marketplace.services.needs import need_close
from marketplace.services.notifications import notify
from marketplace.services.saved_searches import saved_search_create
from matching.models import Match, MatchRun
from tests.declarations_helpers import announced, declarable_patent, service_terms
from tests.factories import MembershipFactory, OrganisationFactory, SmeProfileFactory
from tests.mediation_helpers import license_on, open_case
from tests.test_endpoint_matrix import ROLES, MatrixWorld, _build
from tests.test_imports import csv_bytes, row

pytestmark = pytest.mark.django_db


# Every membership of the world: (organisation, role, e-mail).
MEMBERSHIPS = [
    ("uni", "admin", "admin@uni.example.com"),
    ("uni", "member", "member@uni.example.com"),
    ("sme", "admin", "admin@sme.example.com"),
    ("sme", "member", "member@sme.example.com"),
    ("other_uni", "admin", "admin@other.example.com"),
    ("other_sme", "admin", "admin@sme2.example.com"),
]


@dataclass
class VisibilityWorld:
    matrix: MatrixWorld
    rows: dict[str, dict[str, int]]  # model label → row name → pk


def _match(run: MatchRun, sme: Organisation, declaration: Declaration) -> Match:
    return Match.objects.create(
        run=run,
        sme=sme,
        declaration=declaration,
        patent_id=declaration.patent_id,
        score=0.8,
        rank=1,
        components={},
        reasons=[{"code": "ipc_industry"}],
    )


def _build_more(matrix: MatrixWorld) -> dict[str, dict[str, int]]:
    world = matrix.world
    ids = matrix.ids
    plain = matrix.users["plain"]
    assert plain is not None
    # Another university licensing another SME: nobody of the nine roles is a party.
    other_uni = OrganisationFactory.create(name="另一所大学", kind=OrganisationKind.UNIVERSITY)
    other_admin = MembershipFactory.create(
        organisation=other_uni, role=MembershipRole.ADMIN, user__email="admin@other.example.com"
    ).user
    other_sme = SmeProfileFactory.create(organisation__name="另一家企业").organisation
    other_sme_admin = MembershipFactory.create(
        organisation=other_sme, role=MembershipRole.ADMIN, user__email="admin@sme2.example.com"
    ).user
    other_declaration = announced(declarable_patent(other_uni, 2), other_admin, world.reviewer)
    other_license = license_on(
        other_declaration, actor=other_sme_admin, licensee=other_sme, reference="R2"
    )
    other_case = open_case(
        world,
        other_license,
        actor=other_sme_admin,
        applicant_id=other_sme.pk,
        respondent_id=other_uni.pk,
        agents=[],
    )
    # The university's draft on an unlisted patent.
    unlisted = declarable_patent(world.university, 3)
    draft = declaration_services.declaration_create(
        actor=world.university_admin, patent_id=unlisted.pk, terms=service_terms()
    )
    # Another SME's closed need.
    other_need = TechnologyNeed.objects.get(pk=ids["need"])
    other_need.pk = None
    other_need.organisation = other_sme
    other_need.save()
    need_close(actor=other_sme_admin, need_id=other_need.pk)
    data = csv_bytes([row(901)])
    other_job = import_job_create(
        actor=other_admin,
        organisation_id=other_uni.pk,
        upload=io.BytesIO(data),
        file_name="other.csv",
        size=len(data),
        all_or_nothing=False,
        enqueue=False,
    )
    (plain_notification,) = notify(
        users=[plain],
        kind="filing_due",
        source="visibility",
        render=lambda user: ("title", "body"),
        send_email=False,
    )
    plain_search = saved_search_create(actor=plain, name="显示", query={"q": "显示面板"})
    organisation_ids = {
        "uni": world.university.pk,
        "sme": world.sme.pk,
        "other_uni": other_uni.pk,
        "other_sme": other_sme.pk,
    }
    run = MatchRun.objects.create(status="complete", is_current=True)
    declaration = Declaration.objects.get(pk=ids["declaration"])
    ours = _match(run, world.sme, declaration)
    theirs = _match(run, other_sme, other_declaration)
    return {
        "Organisation": organisation_ids,
        "Patent": {
            "licensed": ids["patent"],
            "unlisted": unlisted.pk,
            "other": other_declaration.patent_id,
        },
        "Declaration": {
            "announced": ids["declaration"],
            "draft": draft.pk,
            "other": other_declaration.pk,
        },
        "License": {"ours": ids["license"], "theirs": other_license.pk},
        "MediationCase": {"ours": ids["case"], "theirs": other_case.pk},
        "TechnologyNeed": {"open": ids["need"], "closed": other_need.pk},
        "ImportJob": {"ours": ids["job"], "theirs": other_job.pk},
        "Notification": {"sme_admin": ids["notification"], "plain": plain_notification.pk},
        "SavedSearch": {"sme_admin": ids["saved_search"], "plain": plain_search.pk},
        "Match": {"ours": ours.pk, "theirs": theirs.pk},
        "Membership": {
            f"{organisation}/{role}": Membership.objects.get(
                organisation_id=organisation_ids[organisation], user__email=email
            ).pk
            for organisation, role, email in MEMBERSHIPS
        },
    }


@pytest.fixture(scope="module")
def scene(django_db_setup: None, django_db_blocker: Any) -> Iterator[VisibilityWorld]:
    with django_db_blocker.unblock(), transaction.atomic():
        matrix = _build()
        yield VisibilityWorld(matrix=matrix, rows=_build_more(matrix))
        transaction.set_rollback(True)


MODELS: dict[str, type[models.Model]] = {
    "Organisation": Organisation,
    "Patent": Patent,
    "Declaration": Declaration,
    "License": License,
    "MediationCase": MediationCase,
    "TechnologyNeed": TechnologyNeed,
    "ImportJob": ImportJob,
    "Notification": Notification,
    "SavedSearch": SavedSearch,
    "Match": Match,
    "Membership": Membership,
}

EVERYONE = frozenset(ROLES)
STAFF = frozenset({"reviewer", "mediator", "staff"})  # platform staff (the superuser too)
REVIEWERS = frozenset({"reviewer", "staff"})
SME = frozenset({"sme_admin", "sme_member"})
UNI = frozenset({"uni_admin", "uni_member"})
SIGNED_IN = EVERYONE - {"anonymous"}


def _sees(**names: Set[str]) -> dict[str, set[str]]:
    """role → the row names it sees, from row name → the roles that see it."""
    return {role: {name for name, who in names.items() if role in who} for role in ROLES}


# (model, scope) → role → the names of the rows it sees.
EXPECTED: dict[tuple[str, str], dict[str, set[str]]] = {
    ("Organisation", "visible_to"): _sees(
        uni=EVERYONE, sme=EVERYONE, other_uni=EVERYONE, other_sme=EVERYONE
    ),
    ("Organisation", "private_visible_to"): _sees(
        uni=UNI | STAFF, sme=SME | STAFF, other_uni=STAFF, other_sme=STAFF
    ),
    ("Organisation", "records_visible_to"): _sees(
        uni=UNI | REVIEWERS, sme=SME | REVIEWERS, other_uni=REVIEWERS, other_sme=REVIEWERS
    ),
    ("Organisation", "audit_visible_to"): _sees(
        uni={"uni_admin"} | REVIEWERS,
        sme={"sme_admin"} | REVIEWERS,
        other_uni=REVIEWERS,
        other_sme=REVIEWERS,
    ),
    ("Patent", "visible_to"): _sees(licensed=EVERYONE, unlisted=UNI | STAFF, other=EVERYONE),
    ("Patent", "records_visible_to"): _sees(
        licensed=UNI | REVIEWERS, unlisted=UNI | REVIEWERS, other=REVIEWERS
    ),
    ("Declaration", "visible_to"): _sees(announced=EVERYONE, draft=UNI, other=EVERYONE),
    ("Declaration", "records_visible_to"): _sees(
        announced=UNI | REVIEWERS, draft=UNI | REVIEWERS, other=REVIEWERS
    ),
    ("License", "visible_to"): _sees(ours=SME | UNI | STAFF, theirs=STAFF),
    # The supervisor sees every case; of our roles only the superuser holds that permission.
    ("MediationCase", "visible_to"): _sees(
        ours=SME | UNI | {"mediator", "staff"}, theirs={"staff"}
    ),
    ("MediationCase", "for_mediator"): _sees(ours={"mediator", "staff"}, theirs={"staff"}),
    ("MediationCase", "for_party"): _sees(ours=SME | UNI, theirs=frozenset()),
    ("TechnologyNeed", "visible_to"): _sees(open=SIGNED_IN, closed=STAFF),
    ("ImportJob", "visible_to"): _sees(ours=UNI | REVIEWERS, theirs=REVIEWERS),
    ("Notification", "visible_to"): _sees(sme_admin={"sme_admin"}, plain={"plain"}),
    ("SavedSearch", "visible_to"): _sees(sme_admin={"sme_admin"}, plain={"plain"}),
    ("Match", "visible_to"): _sees(ours=SME | UNI | STAFF, theirs=STAFF),
    ("Match", "for_sme"): _sees(ours=SME | STAFF, theirs=STAFF),
    ("Match", "for_patentee"): _sees(ours=UNI | REVIEWERS, theirs=REVIEWERS),
    ("Membership", "visible_to"): _sees(
        **{
            "uni/admin": UNI | STAFF,
            "uni/member": UNI | STAFF,
            "sme/admin": SME | STAFF,
            "sme/member": SME | STAFF,
            "other_uni/admin": STAFF,
            "other_sme/admin": STAFF,
        }
    ),
}


def test_every_model_the_api_reads_has_visible_to() -> None:
    for label, model in MODELS.items():
        assert callable(getattr(model._default_manager, "visible_to", None)), label
    assert {model for model, _scope in EXPECTED} == set(MODELS)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("model", "scope"), sorted(EXPECTED), ids=[f"{m}.{s}" for m, s in sorted(EXPECTED)]
)
def test_each_role_sees_exactly_its_rows(
    scene: VisibilityWorld, model: str, scope: str, role: str
) -> None:
    user = scene.matrix.users[role] or AnonymousUser()
    names = scene.rows[model]
    by_pk = {pk: name for name, pk in names.items()}
    queryset = getattr(MODELS[model]._default_manager, scope)(user).filter(pk__in=list(by_pk))
    assert {by_pk[pk] for pk in queryset.values_list("pk", flat=True)} == EXPECTED[(model, scope)][
        role
    ]
