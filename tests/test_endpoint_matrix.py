"""Every URL pattern × every role, and every command endpoint against hostile input.

The endpoints come from the URL configuration itself (every pattern the resolver holds: the
API, its schema and docs, the pages, the admin, /healthz), each with the HTTP methods its view
answers, so a new endpoint without a row in EXPECTED (or, for a model admin, an entry in
ADMIN_MODELS) fails `test_every_url_pattern_has_a_row`; the schema's operations must all be
among them. A pattern with a format suffix (`organisations.json`) is the same view as its base
pattern and answers as its row says. Each row names, for each of the nine roles, the exact
status the endpoint answers with; roles not named answer the row's "default". API requests
carry the role's token, pages and the admin its session. Commands are sent with an empty body
unless the row gives one: a 400 then means "allowed in, the input refused", distinct from 401
(who are you?), 403 (not yours to do) and 404 (not yours to see); and a role refused with a
valid body is refused alike with none (`test_a_role_that_may_not_act_is_refused_before_...`).

One world (organisations, a declaration, a license, a mediation case...) is built once per
module; every request runs in a savepoint rolled back after it, so each role sees the same
world. The second part sends malformed, mistyped and oversized bodies to every command and
requires a 4xx in the error format with nothing changed — never a 500.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.db import transaction
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from licensing.models import Declaration, LicensePayment
from licensing.services import licenses as license_services
from licensing.services import mediation as mediation_services
from marketplace.models import Invitation, Membership, Organisation, OrganisationEvent, User
from marketplace.models.search_terms import SynonymGroup, TermTranslation
from marketplace.services import organisations as services
from marketplace.services.imports import import_job_create
from marketplace.services.notifications import notify
from marketplace.services.saved_searches import saved_search_create
from tests.conftest import World, client_for, make_world
from tests.factories import MembershipFactory, UserFactory
from tests.mediation_helpers import licensed, open_case, supervisor
from tests.test_imports import csv_bytes, row
from tests.test_needs import _need

pytestmark = pytest.mark.django_db

# Who asks. "plain" is a verified user of no organisation; "staff" a superuser.
ROLES = (
    "anonymous",
    "plain",
    "sme_admin",
    "sme_member",
    "uni_admin",
    "uni_member",
    "reviewer",
    "mediator",
    "staff",
)


HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def _operations() -> set[tuple[str, str]]:
    """The OpenAPI schema's operations (drf-spectacular's generator, as /api/v1/schema/)."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (method, path)
        for path, item in schema["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


# ---- the endpoints, read from the URL configuration ----------------------------------------


def _regex_template(regex: str) -> str:
    """A router's regex as a path: ^licenses/(?P<pk>[0-9]{1,18})/$ -> licenses/{pk}/."""
    text = regex.removeprefix("^").removesuffix("$")
    out: list[str] = []
    index = 0
    while index < len(text):
        if text.startswith("(?P<", index):
            name_end = text.index(">", index)
            depth, cursor = 1, name_end + 1
            while depth:
                if text[cursor] == "\\":
                    cursor += 2
                    continue
                depth += {"(": 1, ")": -1}.get(text[cursor], 0)
                cursor += 1
            out.append("{" + text[index + 4 : name_end] + "}")
            index = cursor
        elif text[index] == "\\":
            out.append(text[index + 1])
            index += 2
        else:
            out.append(text[index])
            index += 1
    return "".join(out)


def _template(pattern: URLPattern | URLResolver) -> str:
    if isinstance(pattern.pattern, RegexPattern):
        return _regex_template(str(pattern.pattern))
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))


def _view_class(callback: Any) -> Any:
    return getattr(callback, "cls", None) or getattr(callback, "view_class", None)


def _allowed_methods(callback: Any) -> list[str] | None:
    """The methods a function view allows with require_http_methods (found in the closure of
    the decorator's wrapper), or None when it does not restrict them."""
    view = callback
    while view is not None:
        names = getattr(getattr(view, "__code__", None), "co_freevars", ())
        if "request_method_list" in names and view.__closure__:
            allowed = view.__closure__[names.index("request_method_list")].cell_contents
            return [method.lower() for method in allowed if method.lower() in HTTP_METHODS]
        view = getattr(view, "__wrapped__", None)
    return None


def _methods(callback: Any) -> list[str]:
    """The methods the view answers: a viewset's actions, a class view's handlers, a function
    view's require_http_methods; GET for any other function view (the admin's pages)."""
    actions = getattr(callback, "actions", None)
    if actions:
        # DRF adds "head" to a GET route's actions on its first request (ViewSetMixin.as_view).
        return sorted(method for method in actions if method in HTTP_METHODS)
    cls = _view_class(callback)
    if cls is not None:
        return [m for m in HTTP_METHODS if m in cls.http_method_names and hasattr(cls, m)]
    return _allowed_methods(callback) or ["get"]


def _id_name(callback: Any) -> str:
    """What a router's {pk} is called in the schema: the model's primary key (`id`, or
    `code` for the reference tables)."""
    queryset = getattr(_view_class(callback), "queryset", None)
    return queryset.model._meta.pk.name if queryset is not None else "id"


def _walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + _template(pattern))
        else:
            yield prefix + _template(pattern), pattern


def _is_format_suffix(path: str) -> bool:
    return "{format}" in path


def url_patterns() -> dict[tuple[str, str], URLPattern]:
    """(method, path) of every endpoint in the URL configuration, but the format-suffix
    duplicates of a pattern (the same view)."""
    found: dict[tuple[str, str], URLPattern] = {}
    for route, pattern in _walk(get_resolver().url_patterns, "/"):
        if _is_format_suffix(route):
            continue
        path = route.replace("{pk}", "{" + _id_name(pattern.callback) + "}")
        for method in _methods(pattern.callback):
            found.setdefault((method, path), pattern)
    return found


def _format_suffix_bases() -> set[str]:
    """The base path of every format-suffix pattern (`/api/v1/organisations.{format}/?` ->
    `/api/v1/organisations/`)."""
    bases = set()
    for route, pattern in _walk(get_resolver().url_patterns, "/"):
        if _is_format_suffix(route):
            base = re.sub(r"\.?\{format\}/?\??", "", route)
            base = base.replace("{pk}", "{" + _id_name(pattern.callback) + "}")
            bases.add(base if base.endswith("/") else base + "/")
    return bases


@dataclass
class MatrixWorld:
    """The conftest world (a university, an SME, a reviewer, a mediator) and more: an SME
    member, a user of no organisation, a superuser, and one of each thing the API reads."""

    world: World
    users: dict[str, User | None]
    ids: dict[str, Any]
    sessions: dict[str, APIClient]

    def client(self, role: str, path: str = "/api/v1/") -> APIClient:
        """The API with the role's token; the pages and the admin with its session."""
        if path.startswith("/api/v1/"):
            return client_for(self.users[role])
        return self.sessions[role]


def _build() -> MatrixWorld:
    world = make_world()
    sme_member = MembershipFactory.create(
        organisation=world.sme, user__email="member@sme.example.com"
    ).user
    plain = UserFactory.create(email="plain@example.com")
    staff = UserFactory.create(email="root@example.com", is_staff=True, is_superuser=True)
    license = licensed(world)
    declaration = Declaration.objects.get(pk=license.declaration_id or 0)
    boss = supervisor()
    case = open_case(world, license)
    mediation_services.case_assign(actor=boss, case_id=case.pk, mediator_id=world.mediator.pk)
    filing = license_services.license_file(
        actor=world.sme_admin, license_id=license.pk, filed_on=timezone.localdate()
    )
    need = _need(world)
    invitation, _token = services.invitation_create(
        organisation_id=world.university.pk,
        actor=world.university_admin,
        email="invited@example.com",
        role="member",
    )
    data = csv_bytes([row(900)])
    job = import_job_create(
        actor=world.university_member,
        organisation_id=world.university.pk,
        upload=io.BytesIO(data),
        file_name="portfolio.csv",
        size=len(data),
        all_or_nothing=False,
        enqueue=False,
    )
    (notification,) = notify(
        users=[world.sme_admin],
        kind="filing_due",
        source="matrix",
        render=lambda user: ("title", "body"),
        send_email=False,
    )
    saved = saved_search_create(actor=world.sme_admin, name="电池", query={"q": "锂离子电池"})
    # The search vocabulary is loaded by migration, but an earlier transactional test may have
    # flushed it: one row of each, so its admin pages have an object to show either way.
    SynonymGroup.objects.get_or_create(
        key="matrix", defaults={"terms": ["矩阵", "matrix"], "source": "test"}
    )
    TermTranslation.objects.get_or_create(
        term_en="matrix", term_zh="矩阵", defaults={"sources": "test"}
    )
    users: dict[str, User | None] = {
        "anonymous": None,
        "plain": plain,
        "sme_admin": world.sme_admin,
        "sme_member": sme_member,
        "uni_admin": world.university_admin,
        "uni_member": world.university_member,
        "reviewer": world.reviewer,
        "mediator": world.mediator,
        "staff": staff,
    }
    sessions: dict[str, APIClient] = {}
    for role, user in users.items():
        sessions[role] = APIClient()
        if user is not None:
            client_for(user)  # its token, made once
            sessions[role].force_login(user)
    ids = {
        "uni": world.university.pk,
        "sme": world.sme.pk,
        "patent": declaration.patent_id,
        "declaration": declaration.pk,
        "number": declaration.number,
        "license": license.pk,
        "payment": LicensePayment.objects.get(license=license).pk,
        "filing": filing.pk,
        "case": case.pk,
        "need": need.pk,
        "invitation": invitation.pk,
        "membership": Membership.objects.get(user=world.university_member).pk,
        "job": job.pk,
        "notification": notification.pk,
        "saved_search": saved.pk,
        "missing": 999999,
        "staff_user": staff.pk,
        # One row of each model with an admin, where the world has one (ADMIN_MODELS).
        **{
            f"admin:{_admin_label(model)}": model._default_manager.order_by("pk")
            .values_list("pk", flat=True)
            .first()
            for model in admin.site._registry
        },
    }
    return MatrixWorld(world=world, users=users, ids=ids, sessions=sessions)


def _admin_label(model: Any) -> str:
    return f"{model._meta.app_label}/{model._meta.model_name}"


@pytest.fixture(scope="module")
def matrix(django_db_setup: None, django_db_blocker: Any) -> Iterator[MatrixWorld]:
    """Built once in a transaction that is rolled back when the module is done; each test's
    own transaction is a savepoint inside it."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield _build()
        transaction.set_rollback(True)


Params = dict[str, str]


@dataclass(frozen=True)
class Row:
    """The expected status per role ("default" for the roles not named), the body sent, and
    which world ids fill the path's parameters where the prefix's default is not meant."""

    expected: dict[str, int]
    body: dict[str, Any] | str | Callable[[MatrixWorld], dict[str, Any]] | None = None
    params: Params | None = None
    query: str = ""


# The object a path's {id} names, by the path's first segment.
ID_BY_PREFIX = {
    "organisations": "uni",
    "declarations": "declaration",
    "licenses": "license",
    "mediation-cases": "case",
    "needs": "need",
    "notifications": "notification",
    "patent-imports": "job",
    "patents": "patent",
    "saved-searches": "saved_search",
}
# Every other parameter's default value (a world id, or a literal).
PARAMS: dict[str, str] = {
    "declaration_id": "declaration",
    "patent_id": "patent",
    "organisation_id": "uni",
    "filing_id": "filing",
    "decision": "=accept",
    "payment_id": "payment",
    "agent_id": "missing",
    "evidence_id": "missing",
    "invitation_id": "invitation",
    "membership_id": "membership",
    "license_id": "missing",
    "hindrance_id": "missing",
    "pledge_id": "missing",
    "code": "=C38",
    "symbol": "=H01M",
    "number": "number",
    "dimension": "=ipc-class",
}


def _url(matrix: MatrixWorld, path: str, row: Row) -> str:
    prefix = path.removeprefix("/api/v1/").split("/")[0]
    for name, value in (row.params or {}).items():
        if not value.startswith("=") and matrix.ids.get(value) is None:
            raise AssertionError(f"the matrix world has no {value} for {path}'s {name}")
    values = {"id": ID_BY_PREFIX.get(prefix, "missing"), **PARAMS, **(row.params or {})}
    url = path
    for name, value in values.items():
        if "{" + name + "}" in url:
            filled = value[1:] if value.startswith("=") else str(matrix.ids[value])
            url = url.replace("{" + name + "}", filled)
    assert "{" not in url, url
    return url + row.query


# API paths whose answers are not the API's JSON.
NOT_JSON = frozenset({"/api/v1/docs/", "/api/v1/redoc/"})


def _ask(matrix: MatrixWorld, method: str, path: str, row: Row) -> dict[str, int]:
    """Each role's status, every request in a savepoint rolled back after it."""
    url = _url(matrix, path, row)
    body = row.body(matrix) if callable(row.body) else row.body or {}
    # A JSON text is sent as it is (a body that is not an object); anything else as JSON.
    sent: dict[str, Any] = (
        {"data": body, "content_type": "application/json"}
        if isinstance(body, str)
        else {"data": body, "format": "json"}
    )
    answers: dict[str, int] = {}
    is_api = path.startswith("/api/v1/") and path not in NOT_JSON
    for role in ROLES:
        with transaction.atomic():
            response = getattr(matrix.client(role, path), method)(url, **sent)
            transaction.set_rollback(True)
        answers[role] = response.status_code
        if response.status_code >= 400 and is_api:
            assert set(response.json()) == {"code", "detail", "fields"}, (role, url)
    return answers


def _expected(row: Row) -> dict[str, int]:
    return {role: row.expected.get(role) or row.expected["default"] for role in ROLES}


TODAY = timezone.localdate()
REASON = {"reason": "矩阵测试的理由"}
CONSENT = {"purpose": "declaration"}
PAYMENT = {"amount_cny": "50000.00", "reference": "M1", "paid_on": TODAY.isoformat()}
FILING = {"filed_on": TODAY.isoformat()}
REPORT = {
    "period_start": TODAY.isoformat(),
    "period_end": (TODAY + timedelta(days=89)).isoformat(),
    "basis_amount_cny": "1000.00",
}
RESPOND = {"agree": True}
RECUSAL = {"reasons": "与一方有利害关系"}
RECUSAL_DECISION = {"grant": False}
ACCEPT_CASE = {"session_at": (timezone.now() + timedelta(days=3)).isoformat(), "place": "南京"}
SESSION = {
    "held_at": timezone.now().isoformat(),
    "place": "南京",
    "applicant_present": True,
    "respondent_present": True,
    "notes": "双方到场",
}
PLEDGE = {"pledgee": "某银行", "registered_on": "2024-01-10", "pledgee_consents": False}
EXCLUSIVE = {
    "kind": "exclusive",
    "licensee": "某公司",
    "starts_on": "2024-01-01",
    "ends_on": "2025-01-01",
}
AGREEMENT = {"text": "双方同意按期付款。"}


def _assign(matrix: MatrixWorld) -> dict[str, Any]:
    return {"mediator": matrix.world.mediator.pk}


# (method, path): the exact status per role; unnamed roles answer "default".
EXPECTED: dict[tuple[str, str], Row] = {
    ("post", "/api/v1/auth/logout/"): Row({"anonymous": 401, "default": 204}),
    ("post", "/api/v1/auth/password-reset/"): Row({"default": 400}),
    ("post", "/api/v1/auth/password-reset/confirm/"): Row({"default": 400}),
    ("post", "/api/v1/auth/register/"): Row({"default": 400}),
    ("post", "/api/v1/auth/resend-verification/"): Row({"default": 400}),
    ("post", "/api/v1/auth/token/"): Row({"default": 400}),
    ("post", "/api/v1/auth/verify-email/"): Row({"default": 400}),
    ("get", "/api/v1/declarations/"): Row({"default": 200}),
    ("post", "/api/v1/declarations/"): Row({"anonymous": 401, "default": 400}),
    ("get", "/api/v1/declarations/review-queue/"): Row(
        {"anonymous": 401, "reviewer": 200, "staff": 200, "default": 403}
    ),
    ("get", "/api/v1/declarations/{declaration_id}/candidates/"): Row(
        {
            "anonymous": 401,
            "uni_admin": 200,
            "uni_member": 200,
            "reviewer": 200,
            "staff": 200,
            "default": 404,
        }
    ),
    ("post", "/api/v1/declarations/{declaration_id}/estimate/"): Row(
        {"anonymous": 401, "default": 400}
    ),
    ("get", "/api/v1/declarations/{id}/"): Row({"default": 200}),
    ("patch", "/api/v1/declarations/{id}/"): Row(
        {"anonymous": 401, "uni_admin": 409, "uni_member": 409, "default": 403}
    ),
    ("post", "/api/v1/declarations/{id}/announce/"): Row(
        {"anonymous": 401, "reviewer": 409, "staff": 409, "default": 403}
    ),
    ("post", "/api/v1/declarations/{id}/approve-withdrawal/"): Row(
        {"anonymous": 401, "reviewer": 409, "staff": 409, "default": 403}
    ),
    ("post", "/api/v1/declarations/{id}/consent/"): Row(
        {"anonymous": 401, "default": 403}, body=CONSENT
    ),
    ("get", "/api/v1/declarations/{id}/problems/"): Row(
        {
            "anonymous": 401,
            "uni_admin": 200,
            "uni_member": 200,
            "reviewer": 200,
            "staff": 200,
            "default": 404,
        }
    ),
    ("post", "/api/v1/declarations/{id}/refuse-withdrawal/"): Row(
        {"anonymous": 401, "reviewer": 409, "staff": 409, "default": 403}, body=REASON
    ),
    ("post", "/api/v1/declarations/{id}/refuse/"): Row(
        {"anonymous": 401, "reviewer": 409, "staff": 409, "default": 403}, body=REASON
    ),
    ("post", "/api/v1/declarations/{id}/request-withdrawal/"): Row(
        {"anonymous": 401, "uni_admin": 200, "uni_member": 200, "default": 403}, body=REASON
    ),
    ("post", "/api/v1/declarations/{id}/revoke/"): Row(
        {"anonymous": 401, "reviewer": 200, "staff": 200, "default": 403}, body=REASON
    ),
    ("post", "/api/v1/declarations/{id}/submit/"): Row(
        {"anonymous": 401, "uni_admin": 409, "uni_member": 409, "default": 403}
    ),
    ("post", "/api/v1/declarations/{id}/terminate/"): Row(
        {"anonymous": 401, "reviewer": 200, "staff": 200, "default": 403}, body=REASON
    ),
    ("get", "/api/v1/declarations/{id}/timeline/"): Row({"default": 200}),
    ("post", "/api/v1/invitations/accept/"): Row({"default": 400}),
    ("get", "/api/v1/licenses/"): Row({"anonymous": 401, "default": 200}),
    ("post", "/api/v1/licenses/"): Row({"anonymous": 401, "default": 400}),
    ("get", "/api/v1/licenses/{id}/"): Row({"anonymous": 401, "plain": 404, "default": 200}),
    ("get", "/api/v1/licenses/{id}/document/"): Row(
        {"anonymous": 401, "plain": 404, "default": 200}
    ),
    ("post", "/api/v1/licenses/{id}/filings/"): Row(
        {
            "anonymous": 401,
            "plain": 404,
            "reviewer": 403,
            "mediator": 403,
            "staff": 403,
            "default": 409,
        },
        body=FILING,
    ),
    ("post", "/api/v1/licenses/{id}/filings/{filing_id}/{decision}/"): Row(
        {"anonymous": 401, "plain": 404, "reviewer": 200, "staff": 200, "default": 403}
    ),
    ("get", "/api/v1/licenses/{id}/ledger/"): Row({"anonymous": 401, "plain": 404, "default": 200}),
    ("post", "/api/v1/licenses/{id}/pay/"): Row(
        {"anonymous": 401, "plain": 404, "sme_admin": 409, "sme_member": 409, "default": 403},
        body=PAYMENT,
    ),
    ("post", "/api/v1/licenses/{id}/payments/{payment_id}/contest/"): Row(
        {"anonymous": 401, "plain": 404, "uni_admin": 200, "uni_member": 200, "default": 403},
        body=REASON,
    ),
    # The world's payment is not contested: the patentee is let in and refused on the state.
    ("post", "/api/v1/licenses/{id}/payments/{payment_id}/withdraw-contest/"): Row(
        {"anonymous": 401, "plain": 404, "uni_admin": 409, "uni_member": 409, "default": 403},
        body=REASON,
    ),
    ("post", "/api/v1/licenses/{id}/royalty-payments/"): Row(
        {"anonymous": 401, "plain": 404, "sme_admin": 201, "sme_member": 201, "default": 403},
        body=PAYMENT,
    ),
    ("post", "/api/v1/licenses/{id}/royalty-reports/"): Row(
        {"anonymous": 401, "plain": 404, "sme_admin": 400, "sme_member": 400, "default": 403},
        body=REPORT,
    ),
    ("get", "/api/v1/licenses/{id}/timeline/"): Row(
        {"anonymous": 401, "plain": 404, "default": 200}
    ),
    ("get", "/api/v1/matches/"): Row({"anonymous": 401, "default": 200}),
    ("post", "/api/v1/matches/feedback/"): Row({"anonymous": 401, "default": 400}),
    ("get", "/api/v1/me/"): Row({"anonymous": 401, "default": 200}),
    ("get", "/api/v1/mediation-cases/"): Row({"anonymous": 401, "default": 200}),
    ("post", "/api/v1/mediation-cases/"): Row({"anonymous": 401, "default": 400}),
    ("get", "/api/v1/mediation-cases/{id}/"): Row(
        {"anonymous": 401, "plain": 404, "reviewer": 404, "default": 200}
    ),
    ("post", "/api/v1/mediation-cases/{id}/accept-agreement/"): Row(
        {
            "anonymous": 401,
            "plain": 404,
            "reviewer": 404,
            "mediator": 403,
            "staff": 403,
            "default": 409,
        }
    ),
    ("post", "/api/v1/mediation-cases/{id}/accept/"): Row(
        {
            "anonymous": 401,
            "plain": 404,
            "reviewer": 404,
            "mediator": 409,
            "staff": 409,
            "default": 403,
        },
        body=ACCEPT_CASE,
    ),
    ("post", "/api/v1/mediation-cases/{id}/agents/"): Row(
        {
            "anonymous": 401,
            "plain": 404,
            "reviewer": 404,
            "mediator": 403,
            "staff": 403,
            "default": 400,
        },
        body={"name": "王律师", "power_of_attorney": "授权委托书"},
    ),
    ("post", "/api/v1/mediation-cases/{id}/agents/{agent_id}/revoke/"): Row(
        {"anonymous": 401, "mediator": 403, "staff": 403, "default": 404}
    ),
    ("post", "/api/v1/mediation-cases/{id}/agreement/"): Row(
        {
            "anonymous": 401,
            "plain": 404,
            "reviewer": 404,
            "mediator": 409,
            "staff": 409,
            "default": 403,
        },
        body=AGREEMENT,
    ),
    ("post", "/api/v1/mediation-cases/{id}/assign/"): Row(
        {"anonymous": 401, "plain": 404, "reviewer": 404, "staff": 200, "default": 403},
        body=_assign,
    ),
    ("post", "/api/v1/mediation-cases/{id}/close/"): Row(
        {
            "anonymous": 401,
            "plain": 404,
            "reviewer": 404,
            "mediator": 409,
            "staff": 409,
            "default": 403,
        }
    ),
    ("post", "/api/v1/mediation-cases/{id}/evidence/"): Row(
        {
            "anonymous": 401,
            "plain": 404,
            "reviewer": 404,
            "mediator": 403,
            "staff": 403,
            "default": 400,
        }
    ),
    ("get", "/api/v1/mediation-cases/{id}/evidence/{evidence_id}/download/"): Row(
        {"anonymous": 401, "default": 404}
    ),
    ("post", "/api/v1/mediation-cases/{id}/recusal-decision/"): Row(
        {"anonymous": 401, "plain": 404, "reviewer": 404, "staff": 409, "default": 403},
        body=RECUSAL_DECISION,
    ),
    ("post", "/api/v1/mediation-cases/{id}/recusal/"): Row(
        {
            "anonymous": 401,
            "plain": 404,
            "reviewer": 404,
            "mediator": 403,
            "staff": 403,
            "default": 200,
        },
        body=RECUSAL,
    ),
    ("post", "/api/v1/mediation-cases/{id}/respond/"): Row(
        {
            "anonymous": 401,
            "plain": 404,
            "uni_admin": 409,
            "uni_member": 409,
            "reviewer": 404,
            "default": 403,
        },
        body=RESPOND,
    ),
    ("post", "/api/v1/mediation-cases/{id}/send-notice/"): Row(
        {
            "anonymous": 401,
            "plain": 404,
            "reviewer": 404,
            "mediator": 200,
            "staff": 200,
            "default": 403,
        }
    ),
    ("post", "/api/v1/mediation-cases/{id}/sessions/"): Row(
        {
            "anonymous": 401,
            "plain": 404,
            "reviewer": 404,
            "mediator": 409,
            "staff": 409,
            "default": 403,
        },
        body=SESSION,
    ),
    ("get", "/api/v1/mediation-cases/{id}/timeline/"): Row(
        {"anonymous": 401, "plain": 404, "reviewer": 404, "default": 200}
    ),
    ("post", "/api/v1/mediation-cases/{id}/withdraw/"): Row(
        {
            "anonymous": 401,
            "plain": 404,
            "sme_admin": 200,
            "sme_member": 200,
            "reviewer": 404,
            "default": 403,
        }
    ),
    ("get", "/api/v1/needs/"): Row({"anonymous": 401, "default": 200}),
    ("post", "/api/v1/needs/"): Row({"anonymous": 401, "default": 400}),
    ("get", "/api/v1/needs/{id}/"): Row({"anonymous": 401, "default": 200}),
    ("patch", "/api/v1/needs/{id}/"): Row(
        {"anonymous": 401, "sme_admin": 200, "sme_member": 200, "default": 403}
    ),
    ("post", "/api/v1/needs/{id}/close/"): Row(
        {"anonymous": 401, "sme_admin": 200, "sme_member": 200, "default": 403}
    ),
    ("post", "/api/v1/needs/{id}/reopen/"): Row(
        {"anonymous": 401, "sme_admin": 409, "sme_member": 409, "default": 403}
    ),
    ("get", "/api/v1/notifications/"): Row({"anonymous": 401, "default": 200}),
    ("get", "/api/v1/notifications/{id}/"): Row(
        {"anonymous": 401, "sme_admin": 200, "default": 404}
    ),
    ("post", "/api/v1/notifications/{id}/read/"): Row(
        {"anonymous": 401, "sme_admin": 200, "default": 404}
    ),
    ("post", "/api/v1/ordinary-licenses/"): Row({"anonymous": 401, "default": 400}),
    ("get", "/api/v1/organisations/"): Row({"default": 200}),
    ("get", "/api/v1/organisations/{id}/"): Row({"default": 200}),
    ("patch", "/api/v1/organisations/{id}/"): Row(
        {
            "anonymous": 401,
            "plain": 404,
            "sme_admin": 404,
            "sme_member": 404,
            "uni_admin": 200,
            "default": 403,
        },
        body={"address": "新地址"},
    ),
    ("get", "/api/v1/organisations/{id}/events/"): Row(
        {"anonymous": 401, "uni_admin": 200, "reviewer": 200, "staff": 200, "default": 404}
    ),
    ("get", "/api/v1/organisations/{id}/invitations/"): Row(
        {"anonymous": 401, "uni_admin": 200, "default": 404}
    ),
    ("post", "/api/v1/organisations/{id}/invitations/"): Row(
        {
            "anonymous": 401,
            "plain": 404,
            "sme_admin": 404,
            "sme_member": 404,
            "uni_admin": 201,
            "default": 403,
        },
        body={"email": "new@example.com"},
    ),
    ("post", "/api/v1/organisations/{id}/invitations/{invitation_id}/revoke/"): Row(
        {
            "anonymous": 401,
            "plain": 404,
            "sme_admin": 404,
            "sme_member": 404,
            "uni_admin": 200,
            "default": 403,
        }
    ),
    ("post", "/api/v1/organisations/{id}/leave/"): Row(
        {"anonymous": 401, "uni_admin": 409, "uni_member": 204, "default": 404}
    ),
    ("get", "/api/v1/organisations/{id}/members/"): Row(
        {"anonymous": 401, "plain": 404, "sme_admin": 404, "sme_member": 404, "default": 200}
    ),
    ("post", "/api/v1/organisations/{id}/members/{membership_id}/remove/"): Row(
        {
            "anonymous": 401,
            "plain": 404,
            "sme_admin": 404,
            "sme_member": 404,
            "uni_admin": 204,
            "default": 403,
        }
    ),
    ("post", "/api/v1/organisations/{id}/members/{membership_id}/role/"): Row(
        {
            "anonymous": 401,
            "plain": 404,
            "sme_admin": 404,
            "sme_member": 404,
            "uni_admin": 200,
            "default": 403,
        },
        body={"role": "admin"},
    ),
    ("get", "/api/v1/organisations/{id}/sme-profile/"): Row(
        {"anonymous": 401, "plain": 404, "uni_admin": 404, "uni_member": 404, "default": 200},
        params={"id": "sme"},
    ),
    ("put", "/api/v1/organisations/{id}/sme-profile/"): Row(
        {
            "anonymous": 401,
            "plain": 404,
            "sme_admin": 400,
            "sme_member": 403,
            "uni_admin": 404,
            "uni_member": 404,
            "default": 403,
        },
        params={"id": "sme"},
    ),
    ("get", "/api/v1/organisations/{organisation_id}/fee-totals/"): Row(
        {
            "anonymous": 401,
            "uni_admin": 200,
            "uni_member": 200,
            "reviewer": 200,
            "staff": 200,
            "default": 404,
        }
    ),
    ("get", "/api/v1/organisations/{organisation_id}/royalty-ledger/"): Row(
        {"anonymous": 401, "plain": 404, "sme_admin": 404, "sme_member": 404, "default": 200}
    ),
    ("get", "/api/v1/patent-imports/"): Row({"anonymous": 401, "default": 200}),
    # A user of no organisation is refused before the upload is read (its type, 415).
    ("post", "/api/v1/patent-imports/"): Row(
        {
            "anonymous": 401,
            "plain": 403,
            "reviewer": 403,
            "mediator": 403,
            "staff": 403,
            "default": 415,
        }
    ),
    ("get", "/api/v1/patent-imports/template/"): Row({"default": 200}),
    ("get", "/api/v1/patent-imports/{id}/"): Row(
        {
            "anonymous": 401,
            "uni_admin": 200,
            "uni_member": 200,
            "reviewer": 200,
            "staff": 200,
            "default": 404,
        }
    ),
    ("get", "/api/v1/patents/"): Row({"default": 200}),
    ("post", "/api/v1/patents/"): Row({"anonymous": 401, "default": 400}),
    ("get", "/api/v1/patents/{id}/"): Row({"default": 200}),
    ("patch", "/api/v1/patents/{id}/"): Row(
        {"anonymous": 401, "uni_admin": 200, "uni_member": 200, "default": 403}
    ),
    ("post", "/api/v1/patents/{id}/exclusive-licenses/"): Row(
        {
            "anonymous": 401,
            "uni_admin": 409,
            "uni_member": 409,
            "reviewer": 409,
            "staff": 409,
            "default": 403,
        },
        body=EXCLUSIVE,
    ),
    ("post", "/api/v1/patents/{id}/exclusive-licenses/{license_id}/end/"): Row(
        {
            "anonymous": 401,
            "plain": 403,
            "sme_admin": 403,
            "sme_member": 403,
            "mediator": 403,
            "default": 400,
        }
    ),
    ("post", "/api/v1/patents/{id}/hindrances/"): Row(
        {"anonymous": 401, "reviewer": 201, "staff": 201, "default": 403}, body=REASON
    ),
    ("post", "/api/v1/patents/{id}/hindrances/{hindrance_id}/resolve/"): Row(
        {"anonymous": 401, "reviewer": 404, "staff": 404, "default": 403}
    ),
    ("get", "/api/v1/patents/{id}/history/"): Row(
        {
            "anonymous": 401,
            "uni_admin": 200,
            "uni_member": 200,
            "reviewer": 200,
            "staff": 200,
            "default": 404,
        }
    ),
    ("post", "/api/v1/patents/{id}/legal-status/"): Row(
        {
            "anonymous": 401,
            "uni_admin": 200,
            "uni_member": 200,
            "reviewer": 200,
            "staff": 200,
            "default": 403,
        }
    ),
    ("post", "/api/v1/patents/{id}/pledges/"): Row(
        {
            "anonymous": 401,
            "uni_admin": 409,
            "uni_member": 409,
            "reviewer": 409,
            "staff": 409,
            "default": 403,
        },
        body=PLEDGE,
    ),
    ("post", "/api/v1/patents/{id}/pledges/{pledge_id}/release/"): Row(
        {
            "anonymous": 401,
            "plain": 403,
            "sme_admin": 403,
            "sme_member": 403,
            "mediator": 403,
            "default": 400,
        }
    ),
    ("get", "/api/v1/patents/{patent_id}/declarations/"): Row({"default": 200}),
    ("get", "/api/v1/patents/{patent_id}/fee-calendar/"): Row(
        {
            "anonymous": 401,
            "uni_admin": 200,
            "uni_member": 200,
            "reviewer": 200,
            "staff": 200,
            "default": 404,
        }
    ),
    ("get", "/api/v1/patents/{patent_id}/royalty-suggestion/"): Row(
        {
            "anonymous": 401,
            "uni_admin": 200,
            "uni_member": 200,
            "reviewer": 200,
            "staff": 200,
            "default": 404,
        }
    ),
    ("get", "/api/v1/reference/industries/"): Row({"default": 200}),
    ("get", "/api/v1/reference/industries/{code}/"): Row({"default": 200}),
    ("get", "/api/v1/reference/ipc/"): Row({"default": 200}),
    ("get", "/api/v1/reference/ipc/{symbol}/"): Row({"default": 200}),
    ("get", "/api/v1/reference/regions/"): Row({"default": 200}),
    ("get", "/api/v1/reference/regions/{code}/"): Row({"default": 200}, params={"code": "=320000"}),
    ("get", "/api/v1/reference/tables/"): Row({"default": 200}),
    ("get", "/api/v1/reference/synonyms/"): Row({"default": 200}),
    ("get", "/api/v1/reference/search-terms/"): Row({"default": 200}),
    ("get", "/api/v1/register/"): Row({"default": 200}),
    ("get", "/api/v1/register/export/"): Row({"default": 200}),
    ("get", "/api/v1/register/{number}/"): Row({"default": 200}),
    ("get", "/api/v1/organisations/{organisation_id}/funnel/"): Row(
        {
            "anonymous": 401,
            "uni_admin": 200,
            "uni_member": 200,
            "reviewer": 200,
            "staff": 200,
            "default": 404,
        }
    ),
    ("get", "/api/v1/saved-searches/"): Row({"anonymous": 401, "default": 200}),
    ("post", "/api/v1/saved-searches/"): Row(
        {"anonymous": 401, "default": 201}, body={"name": "显示", "query": {"q": "显示面板"}}
    ),
    ("get", "/api/v1/saved-searches/{id}/"): Row(
        {"anonymous": 401, "sme_admin": 200, "default": 404}
    ),
    ("patch", "/api/v1/saved-searches/{id}/"): Row(
        {"anonymous": 401, "sme_admin": 200, "default": 404}, body={"name": "新名字"}
    ),
    ("delete", "/api/v1/saved-searches/{id}/"): Row(
        {"anonymous": 401, "sme_admin": 204, "default": 404}
    ),
    ("post", "/api/v1/saved-searches/{id}/pause/"): Row(
        {"anonymous": 401, "sme_admin": 200, "default": 404}
    ),
    ("post", "/api/v1/saved-searches/{id}/resume/"): Row(
        {"anonymous": 401, "sme_admin": 200, "default": 404}
    ),
    ("get", "/api/v1/search/patents/"): Row({"default": 200}),
    ("get", "/api/v1/statistics/"): Row({"default": 200}),
    ("get", "/api/v1/statistics/{dimension}/"): Row({"default": 200}),
    ("get", "/healthz"): Row({"default": 503}),  # no Celery worker answers in this module
}


# ---- outside the API: its schema and docs, the pages, the admin ------------------------------

STAFF = frozenset({"reviewer", "mediator", "staff"})  # in the admin (is_staff)
SUPERUSER = frozenset({"staff"})
REVIEWERS = frozenset({"reviewer", "staff"})
NOBODY: frozenset[str] = frozenset()
# The admin sends anyone who is not staff to its log-in page.
TO_ADMIN_LOGIN = {role: 302 for role in ROLES if role not in STAFF}

EXPECTED.update(
    {
        ("get", "/api/v1/"): Row({"default": 200}),
        ("get", "/api/v1/schema/"): Row({"default": 200}),
        ("get", "/api/v1/docs/"): Row({"default": 200}),
        ("get", "/api/v1/redoc/"): Row({"default": 200}),
        ("get", "/"): Row({"default": 200}),
        ("get", "/login/"): Row({"default": 200}),
        ("post", "/login/"): Row({"default": 200}),  # the form again, with its errors
        ("post", "/logout/"): Row({"default": 302}),
        # The mails' links, here without their token: a void link (400) for anyone.
        ("get", "/verify-email"): Row({"default": 400}),
        ("post", "/verify-email"): Row({"default": 200}),
        ("get", "/invitations/accept"): Row({"default": 400}),
        ("post", "/invitations/accept"): Row({"default": 400}),
        ("get", "/forgot-password"): Row({"default": 200}),
        ("post", "/forgot-password"): Row({"default": 200}),
        ("get", "/reset-password"): Row({"default": 400}),
        ("post", "/reset-password"): Row({"default": 200}),
        # The patentee's funnel page: its members and reviewers; a 404 for anyone else.
        ("get", "/organisations/{organisation_id}/funnel/"): Row(
            {
                "anonymous": 302,
                "uni_admin": 200,
                "uni_member": 200,
                "reviewer": 200,
                "staff": 200,
                "default": 404,
            }
        ),
        # A license's page (the license mails' link): whoever sees the license in the API.
        ("get", "/licenses/{license_id}/"): Row(
            {"anonymous": 302, "plain": 404, "default": 200}, params={"license_id": "license"}
        ),
        ("get", "/admin/"): Row({**TO_ADMIN_LOGIN, "default": 200}),
        ("get", "/admin/login/"): Row({"default": 200, **dict.fromkeys(STAFF, 302)}),
        ("get", "/admin/logout/"): Row({**TO_ADMIN_LOGIN, "default": 405}),  # POST only
        ("get", "/admin/password_change/"): Row({**TO_ADMIN_LOGIN, "default": 200}),
        ("get", "/admin/password_change/done/"): Row({**TO_ADMIN_LOGIN, "default": 200}),
        ("get", "/admin/autocomplete/"): Row({**TO_ADMIN_LOGIN, "default": 403}),
        ("get", "/admin/jsi18n/"): Row({**TO_ADMIN_LOGIN, "default": 200}),
        ("get", "/admin/r/{content_type_id}/{object_id}/"): Row(
            {**TO_ADMIN_LOGIN, "default": 404},
            params={"content_type_id": "missing", "object_id": "missing"},
        ),
        ("get", "/admin/{app_label}/"): Row(
            {**TO_ADMIN_LOGIN, "default": 200}, params={"app_label": "=licensing"}
        ),
        ("get", "/admin/{url}"): Row(
            {**TO_ADMIN_LOGIN, "default": 404}, params={"url": "=nowhere/"}
        ),
        # The reviewers' funnel of the whole register, and of one organisation.
        ("get", "/admin/funnel/"): Row({**TO_ADMIN_LOGIN, "mediator": 404, "default": 200}),
        ("get", "/admin/funnel/{organisation_id}/"): Row(
            {**TO_ADMIN_LOGIN, "mediator": 404, "default": 200}
        ),
        ("get", "/admin/marketplace/user/{id}/password/"): Row(
            {**TO_ADMIN_LOGIN, "reviewer": 403, "mediator": 403, "default": 200},
            params={"id": "staff_user"},
        ),
        # A step is taken by POST from the case's page; any other request is a 404.
        ("get", "/admin/licensing/mediationcase/{case_id}/act/{step}/"): Row(
            {**TO_ADMIN_LOGIN, "default": 404}, params={"case_id": "case", "step": "=send_notice"}
        ),
        ("get", "/admin/licensing/mediationcase/{case_id}/evidence/{evidence_id}/"): Row(
            {**TO_ADMIN_LOGIN, "default": 404}, params={"case_id": "case"}
        ),
    }
)


@dataclass(frozen=True)
class AdminModel:
    """Which staff roles read a model's admin pages (list, change form, history), open its add
    form and delete (the other staff roles get 403), and whether the matrix world holds a row
    of it; without one, its object pages are asked for a missing id and redirect (302) whoever
    may read them. `hidden` staff roles are left out of its list (their history redirects)."""

    view: frozenset[str]
    add: frozenset[str] = NOBODY
    delete: frozenset[str] = NOBODY
    has_row: bool = True
    hidden: frozenset[str] = NOBODY


EDITABLE = AdminModel(view=SUPERUSER, add=SUPERUSER, delete=SUPERUSER)
READ_ONLY = AdminModel(view=SUPERUSER)
ADMIN_MODELS: dict[str, AdminModel] = {
    "auth/group": EDITABLE,
    "authtoken/tokenproxy": AdminModel(  # its object id is the user's, not the key
        view=SUPERUSER, add=SUPERUSER, delete=SUPERUSER, has_row=False
    ),
    "marketplace/user": EDITABLE,
    "marketplace/organisation": AdminModel(view=STAFF),
    "marketplace/invitation": READ_ONLY,
    "marketplace/smeprofile": AdminModel(view=STAFF),
    "marketplace/organisationevent": AdminModel(view=REVIEWERS),
    "marketplace/referencetable": READ_ONLY,
    "marketplace/industry": READ_ONLY,
    "marketplace/region": READ_ONLY,
    "marketplace/outboundemail": READ_ONLY,
    "marketplace/patent": READ_ONLY,
    "marketplace/technologyneed": READ_ONLY,
    # Its list starts from ImportJob.visible_to, which holds none for a mediator.
    "marketplace/importjob": AdminModel(view=SUPERUSER, hidden=frozenset({"mediator"})),
    "marketplace/notification": READ_ONLY,
    "marketplace/savedsearch": READ_ONLY,
    "marketplace/savedsearchalert": AdminModel(view=SUPERUSER, has_row=False),
    "marketplace/savedsearchdigest": AdminModel(view=SUPERUSER, has_row=False),
    "marketplace/patentdailycount": AdminModel(view=SUPERUSER, has_row=False),
    "marketplace/unsenttask": AdminModel(view=SUPERUSER, has_row=False),
    "marketplace/patentvector": AdminModel(view=SUPERUSER, has_row=False),
    "marketplace/synonymgroup": EDITABLE,
    "marketplace/termtranslation": EDITABLE,
    "licensing/mediationcase": AdminModel(
        view=frozenset({"mediator", "staff"}), hidden=frozenset({"reviewer"})
    ),
    "licensing/holidayoverride": AdminModel(
        view=SUPERUSER, add=SUPERUSER, delete=SUPERUSER, has_row=False
    ),
    "licensing/holidaycalendaryear": AdminModel(
        view=SUPERUSER, add=SUPERUSER, delete=SUPERUSER, has_row=False
    ),
    "licensing/declaration": AdminModel(view=REVIEWERS),
    "licensing/statisticscell": AdminModel(view=SUPERUSER, has_row=False),
    "licensing/license": AdminModel(view=REVIEWERS),  # reviewers settle contested payments
    "licensing/licensefiling": READ_ONLY,
    "licensing/royaltyreport": AdminModel(view=SUPERUSER, has_row=False),
    "licensing/royaltystatistic": READ_ONLY,
    "matching/matchrun": AdminModel(view=SUPERUSER, add=SUPERUSER, delete=SUPERUSER, has_row=False),
    "matching/ipcindustry": EDITABLE,
    "matching/match": AdminModel(view=SUPERUSER, has_row=False),
}


def _staff(allowed: frozenset[str], yes: int, no: int = 403) -> dict[str, int]:
    return {**TO_ADMIN_LOGIN, **{role: yes if role in allowed else no for role in STAFF}}


def _admin_rows(label: str, spec: AdminModel) -> dict[tuple[str, str], Row]:
    """A model admin's pages, each role's answer from its AdminModel."""
    base = f"/admin/{label}/"
    on_row = {"object_id": f"admin:{label}" if spec.has_row else "missing"}
    found = 200 if spec.has_row else 302  # a missing object redirects to the index
    history = {
        **_staff(spec.view, found),
        **dict.fromkeys(spec.hidden, 302),  # not in their list: "does not exist"
    }
    if not spec.has_row:
        history = {**TO_ADMIN_LOGIN, **dict.fromkeys(STAFF, 302)}
    rows = {
        ("get", base): Row(_staff(spec.view, 200)),
        ("get", base + "add/"): Row(_staff(spec.add, 200)),
        ("get", base + "{object_id}/change/"): Row(_staff(spec.view, found), params=on_row),
        ("get", base + "{object_id}/delete/"): Row(_staff(spec.delete, found), params=on_row),
        ("get", base + "{object_id}/history/"): Row(history, params=on_row),
    }
    # The bare object address redirects to its change form, for anyone and any method.
    for method in HTTP_METHODS:
        rows[(method, base + "{object_id}/")] = Row({"default": 302}, params=on_row)
    return rows


for _label, _spec in ADMIN_MODELS.items():
    EXPECTED.update(_admin_rows(_label, _spec))


def test_every_url_pattern_has_a_row() -> None:
    """Every endpoint is tested for every role: a URL pattern (and method) without a row, a
    model admin without an entry in ADMIN_MODELS, fails here."""
    rows = set(EXPECTED)
    patterns = set(url_patterns())
    assert sorted(patterns - rows) == []  # new endpoints: add their row
    assert sorted(rows - patterns) == []  # rows of endpoints that are gone
    assert sorted(_admin_label(model) for model in admin.site._registry) == sorted(ADMIN_MODELS)


def test_every_schema_operation_is_a_url_pattern() -> None:
    assert sorted(_operations() - set(url_patterns())) == []


def test_every_format_suffix_pattern_is_a_tested_endpoints_twin() -> None:
    paths = {path for _method, path in EXPECTED}
    assert sorted(_format_suffix_bases() - paths) == []


@pytest.mark.parametrize(
    ("method", "path"), sorted(EXPECTED), ids=[f"{m}-{p}" for m, p in sorted(EXPECTED)]
)
def test_operation_answers_each_role_as_specified(
    matrix: MatrixWorld, method: str, path: str
) -> None:
    row = EXPECTED[(method, path)]
    assert _ask(matrix, method, path, row) == _expected(row)


# The order of refusals: 404 (not yours to see), then 403 (not yours to do), then 400 (the
# input refused). A role a command refuses with a valid body must be refused the same way with
# no body and with a body that is not even an object (every input serializer refuses that), so
# no role learns what a command would accept before it may run it.
UNSAFE_METHODS = ("post", "put", "patch", "delete")
COMMAND_ROWS = sorted(
    key for key in EXPECTED if key[0] in UNSAFE_METHODS and key[1].startswith("/api/v1/")
)
NOT_AN_OBJECT = "[]"


@pytest.mark.parametrize(
    ("method", "path"), COMMAND_ROWS, ids=[f"{m}-{p}" for m, p in COMMAND_ROWS]
)
def test_a_role_that_may_not_act_is_refused_before_its_input_is_read(
    matrix: MatrixWorld, method: str, path: str
) -> None:
    row = EXPECTED[(method, path)]
    refused = {role: code for role, code in _expected(row).items() if code in (401, 403, 404)}
    for body in (None, NOT_AN_OBJECT):
        answers = _ask(matrix, method, path, Row(row.expected, body, row.params, row.query))
        assert {role: answers[role] for role in refused} == refused, body


COMMANDS: list[tuple[str, str]] = [
    ("post", "/api/v1/auth/register/"),
    ("post", "/api/v1/auth/verify-email/"),
    ("post", "/api/v1/auth/resend-verification/"),
    ("post", "/api/v1/auth/token/"),
    ("post", "/api/v1/invitations/accept/"),
    ("patch", "/api/v1/organisations/{uni}/"),
    ("post", "/api/v1/organisations/{uni}/invitations/"),
    ("post", "/api/v1/organisations/{uni}/members/{membership}/role/"),
    ("put", "/api/v1/organisations/{sme}/sme-profile/"),
]

HOSTILE_BODIES: list[tuple[str, str]] = [
    ("malformed", '{"email": '),
    ("array", "[]"),
    ("string", '"hello"'),
    ("null", "null"),
    ("wrong-types", '{"email": 5, "role": [], "industry": {}, "region": true, "token": 1}'),
    ("nan", '{"employee_count": NaN}'),
    ("deep", "[" * 5000 + "]" * 5000),
    ("over-long", '{"email": "' + "a" * 5000 + '@example.com", "token": "' + "t" * 5000 + '"}'),
    ("nul", '{"full_name": "\\u0000", "email": "a\\u0000@example.com"}'),
]


def _state() -> tuple[int, ...]:
    return (
        User.objects.count(),
        Organisation.objects.count(),
        Membership.objects.count(),
        Invitation.objects.count(),
        OrganisationEvent.objects.count(),
    )


def _command(matrix: MatrixWorld, command: tuple[str, str]) -> tuple[APIClient, str, str]:
    method, path = command
    url = path.format(**matrix.ids)
    admin = "sme_admin" if "sme-profile" in url else "uni_admin"
    return matrix.client(admin), method, url


@pytest.mark.parametrize("command", COMMANDS, ids=[f"{m}-{p}" for m, p in COMMANDS])
@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=[name for name, _body in HOSTILE_BODIES])
def test_hostile_input_gets_a_4xx_and_changes_nothing(
    matrix: MatrixWorld, command: tuple[str, str], body: tuple[str, str]
) -> None:
    client, method, url = _command(matrix, command)
    before = _state()
    response = getattr(client, method)(url, body[1], content_type="application/json")
    assert 400 <= response.status_code < 500, (url, body[0], response.content[:300])
    assert set(response.json()) == {"code", "detail", "fields"}
    assert _state() == before


@pytest.mark.parametrize("command", COMMANDS, ids=[f"{m}-{p}" for m, p in COMMANDS])
def test_oversized_body_is_refused_on_every_command(
    matrix: MatrixWorld, command: tuple[str, str]
) -> None:
    client, method, url = _command(matrix, command)
    before = _state()
    with override_settings(API_MAX_BODY_BYTES=4096):
        response = getattr(client, method)(
            url, '{"x": "' + "y" * 10_000 + '"}', content_type="application/json"
        )
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert _state() == before
