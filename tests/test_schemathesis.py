"""Schemathesis over the whole OpenAPI schema, in-process, anonymous and as every role.

Every operation is called with generated requests (valid ones and, for input, invalid ones)
and once with the ids of real objects (so answers that are not 404 are checked too), each
request sent by every role. Checked: no 5xx, every status code and content type documented,
every JSON body and documented header matching its schema. A fixed seed and a few examples
per operation keep the run short and the same on every machine; README's "Schemathesis"
section says which checks are not run and why. `-m "not schemathesis"` skips it.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from licensing.models import Declaration
from licensing.services import mediation as mediation_services
from marketplace.errors import DomainError
from marketplace.models import Membership, Notification, User
from marketplace.services import organisations as organisation_services
from marketplace.services import patents as patent_services
from tests.conftest import ROLES, World
from tests.factories import UserFactory
from tests.mediation_helpers import licensed, open_case, supervisor

pytestmark = [pytest.mark.django_db, pytest.mark.schemathesis]

# Generated requests per operation and mode, each sent by the next role in turn; one request
# per operation with real ids is sent by every role.
POSITIVE_EXAMPLES = 2
NEGATIVE_EXAMPLES = 1
SEED = 20261207
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
ALL_ROLES = (*ROLES, "supervisor")
# /healthz answers its documented 503 whenever no Celery worker answers a ping, as in this
# test (a 5xx by design, tested with a real worker in test_celery_worker.py), and waits for it.
SKIPPED_PATHS = frozenset({"/healthz"})
# SCHEMATHESIS_ONLY="POST /api/v1/declarations" runs the operations whose label matches.
ONLY = os.environ.get("SCHEMATHESIS_ONLY", "")


def _optional(make: Callable[[], Any]) -> Any:
    """An object for the real-id pass; None (ids fall back to 1) if a rule refuses it today."""
    try:
        with transaction.atomic():
            return make()
    except DomainError:
        return None


def _real_ids(world: World) -> dict[str, Any]:
    """Objects of every kind the paths name, visible to some of the roles."""
    license = licensed(world)
    assert license.declaration_id is not None
    declaration = Declaration.objects.get(pk=license.declaration_id)
    patent = declaration.patent
    case = open_case(world, license)
    evidence = mediation_services.case_add_evidence(
        actor=world.sme_admin,
        case_id=case.pk,
        upload=SimpleUploadedFile("receipt.pdf", b"%PDF-1.7 receipt"),
        name="receipt.pdf",
        size=16,
    )
    invitation, _token = organisation_services.invitation_create(
        organisation_id=world.university.pk,
        actor=world.university_admin,
        email="invited@example.com",
        role="member",
    )
    pledge = _optional(
        lambda: patent_services.patent_pledge_record(
            actor=world.university_admin,
            patent_id=patent.pk,
            pledgee="某银行",
            registered_on=date.today(),
            pledgee_consents=True,
        )
    )
    hindrance = _optional(
        lambda: patent_services.patent_hindrance_record(
            actor=world.reviewer, patent_id=patent.pk, reason="权属纠纷"
        )
    )
    notification = Notification.objects.order_by("id").first()
    payment = license.payments.order_by("id").first()
    return {
        "declarations": declaration.pk,
        "licenses": license.pk,
        "mediation-cases": case.pk,
        "notifications": notification.pk if notification else 1,
        "organisations": world.university.pk,
        "patents": patent.pk,
        "declaration_id": declaration.pk,
        "patent_id": patent.pk,
        "organisation_id": world.university.pk,
        "membership_id": Membership.objects.get(user=world.university_member).pk,
        "invitation_id": invitation.pk,
        "evidence_id": evidence.pk,
        "payment_id": payment.pk if payment else 1,
        "pledge_id": pledge.pk if pledge else 1,
        "hindrance_id": hindrance.pk if hindrance else 1,
        "number": declaration.number,
        "decision": "accept",
        "industries": "C3841",
        "regions": "320000",
        "symbol": "H01M",
    }


def _path_parameters(path: str, ids: dict[str, Any]) -> dict[str, Any]:
    parts = path.removeprefix("/api/v1/").split("/")
    values: dict[str, Any] = {}
    for index, part in enumerate(parts):
        if not (part.startswith("{") and part.endswith("}")):
            continue
        name = part[1:-1]
        if name in ("id", "code"):
            values[name] = ids.get(parts[index - 1], 1)
        else:
            values[name] = ids.get(name, 1)
    return values


def _can_be_invalid(operation: Any) -> bool:
    """Whether a negative case exists: with no body or query and only string path parameters
    (a code, a symbol: every string is one) or none, Hypothesis searches for one in vain for
    seconds. A path the routes do not match is the router's 404, tested in test_bad_input.py."""
    if len(operation.query) or len(operation.body):
        return True
    return any(
        (parameter.definition.get("schema") or {}).get("type") != "string"
        for parameter in operation.path_parameters
    )


def _tokens(users: dict[str, User | None]) -> dict[str, dict[str, str]]:
    """Authorization headers per role."""
    headers: dict[str, dict[str, str]] = {}
    for role, user in users.items():
        if user is None:
            headers[role] = {}
        else:
            token, _created = Token.objects.get_or_create(user=user)
            headers[role] = {"Authorization": f"Token {token.key}"}
    return headers


def _examples(strategy: Any, examples: int, test: Callable[[Any], None]) -> None:
    """Draw `examples` cases from the strategy with the fixed seed and run `test` on each."""
    if not examples:
        return

    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=examples,
        phases=[Phase.generate],
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def run(case: Any) -> None:
        test(case)

    # Unsatisfiable: nothing to make invalid (no parameters, no body); the valid cases cover it.
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        run()


@pytest.fixture
def api_schema() -> Iterator[Any]:
    """The schema, loaded from the app, which also answers every call (no server, no socket).

    As Django's test client does, requests keep the test's database connection: closing it at
    the end of each request would end the test's transaction.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path
    yield


def test_every_operation_answers_as_its_schema_says_for_every_role(
    world: World, api_schema: Any, media: None
) -> None:
    started = time.monotonic()
    users: dict[str, User | None] = {role: world.user(role) for role in ROLES}
    users["supervisor"] = supervisor()
    UserFactory.create(email="plain@example.com")  # an address that exists, for the auth forms
    ids = _real_ids(world)
    failures: dict[str, str] = {}
    counts = {"operations": 0, "requests": 0, "turn": 0}
    seconds = {"calls": 0.0}

    def send(case: Any, label: str, roles: tuple[str, ...]) -> None:
        case.headers = {
            key: value
            for key, value in (case.headers or {}).items()
            if key.lower() not in ("authorization", "cookie")
        }
        for role in roles:
            sent = time.monotonic()
            response = case.call(headers=headers[role])
            counts["requests"] += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except (AssertionError, BaseExceptionGroup) as error:  # one per failing check
                key = f"{case.method} {case.path} as {role}"
                failures.setdefault(key, f"{label}: {str(error)[:1500]}")
            seconds["calls"] += time.monotonic() - sent

    def send_generated(label: str, case: Any) -> None:
        """Generated cases take the roles in turn (the real-id case goes to all of them)."""
        counts["turn"] += 1
        send(case, label, (ALL_ROLES[counts["turn"] % len(ALL_ROLES)],))

    headers = _tokens(users)  # a logout's deleted token comes back with the rollback
    prepared = time.monotonic() - started
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if operation.path in SKIPPED_PATHS or not re.search(ONLY, operation.label):
            continue
        counts["operations"] += 1
        with transaction.atomic():  # each operation starts from the same data
            for mode, examples in (
                (GenerationMode.POSITIVE, POSITIVE_EXAMPLES),
                (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES if _can_be_invalid(operation) else 0),
            ):
                generated = partial(send_generated, mode.value)
                _examples(operation.as_strategy(mode), examples, generated)
            before = counts["requests"]
            _examples(
                operation.as_strategy(path_parameters=_path_parameters(operation.path, ids)),
                1,
                lambda case: send(case, "real ids", ALL_ROLES),
            )
            assert counts["requests"] - before == len(ALL_ROLES), operation.label
            transaction.set_rollback(True)
        print(f"{time.monotonic() - started:6.1f} s {operation.label}", flush=True)

    elapsed = time.monotonic() - started
    print(
        f"schemathesis: {counts['operations']} operations x {len(ALL_ROLES)} roles, "
        f"{counts['requests']} requests in {elapsed:.1f} s (set-up {prepared:.1f} s, "
        f"calls and checks {seconds['calls']:.1f} s), "
        f"{len(failures)} failures"
    )
    assert failures == {}, "\n\n".join(f"{key}\n{text}" for key, text in sorted(failures.items()))
