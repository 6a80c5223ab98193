"""Shared fixtures: API clients per role, a small world of organisations, Redis hygiene."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import translation
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from marketplace import roles
from marketplace.models import MembershipRole, Organisation, OrganisationKind, User
from marketplace.services.platform import platform_role_grant
from tests.factories import MembershipFactory, OrganisationFactory, SmeProfileFactory, UserFactory

pytest_plugins = ["tests.live"]

# The six roles every endpoint is tested for. "other_member" belongs to another organisation.
ROLES = ("anonymous", "other_member", "member", "org_admin", "reviewer", "mediator")


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    """Throttle counters live in the Redis cache; every test starts with none."""
    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Every test starts in LANGUAGE_CODE: a request's language stays active in the thread
    after the answer (Django's middleware does not reset it), and would reach the next test's
    messages rendered outside a request."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _no_search_vector_index(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test starts without a published search vector index (one that an eager vector
    task of an earlier test wrote would add hits by meaning to a words-only search)."""
    settings.SEARCH_VECTOR_DIR = str(tmp_path_factory.mktemp("vectors"))


@pytest.fixture
def vector_dir(settings: Any, tmp_path: Path) -> Iterator[Path]:
    """A search vector index directory of the test's own, with the hashing embedder (fast);
    the embedder's and the query vectors' caches are cleared before and after."""
    from marketplace.search import vectors

    settings.SEARCH_VECTOR_DIR = str(tmp_path / "vectors")
    settings.SEARCH_EMBEDDER = "matching.embedders.HashingNgramEmbedder"
    vectors.search_embedder.cache_clear()
    vectors.query_vector.cache_clear()
    yield tmp_path / "vectors"
    vectors.search_embedder.cache_clear()
    vectors.query_vector.cache_clear()


def client_for(user: User | None, language: str = "en") -> APIClient:
    """An API client authenticated with the user's real token (or anonymous)."""
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    if user is not None:
        token, _created = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@dataclass
class World:
    """A university (admin + member), an SME (admin, profile), a reviewer and a mediator."""

    university: Organisation
    university_admin: User
    university_member: User
    sme: Organisation
    sme_admin: User
    reviewer: User
    mediator: User

    def user(self, role: str) -> User | None:
        return {
            "anonymous": None,
            "other_member": self.sme_admin,
            "member": self.university_member,
            "org_admin": self.university_admin,
            "reviewer": self.reviewer,
            "mediator": self.mediator,
        }[role]

    def client(self, role: str, language: str = "en") -> APIClient:
        return client_for(self.user(role), language)


@pytest.fixture
def world(db: None) -> World:
    return make_world()


def make_world() -> World:
    university = OrganisationFactory.create(name="华东示范大学", kind=OrganisationKind.UNIVERSITY)
    university_admin = MembershipFactory.create(
        organisation=university, role=MembershipRole.ADMIN, user__email="admin@uni.example.com"
    ).user
    university_member = MembershipFactory.create(
        organisation=university, role=MembershipRole.MEMBER, user__email="member@uni.example.com"
    ).user
    sme_profile = SmeProfileFactory.create(organisation__name="苏州锂途新能源科技有限公司")
    sme_admin = MembershipFactory.create(
        organisation=sme_profile.organisation,
        role=MembershipRole.ADMIN,
        user__email="admin@sme.example.com",
    ).user
    reviewer = UserFactory.create(email="reviewer@example.com")
    platform_role_grant(user=reviewer, role=roles.REVIEWER, actor=None)
    mediator = UserFactory.create(email="mediator@example.com")
    platform_role_grant(user=mediator, role=roles.MEDIATOR, actor=None)
    return World(
        university=university,
        university_admin=university_admin,
        university_member=university_member,
        sme=sme_profile.organisation,
        sme_admin=sme_admin,
        reviewer=reviewer,
        mediator=mediator,
    )


def broker_messages(callbacks: list[Any]) -> list[Any]:
    """The on-commit callbacks that send a broker message: all but the public cache's
    generation bump (marketplace.http_cache), which sends none."""
    from marketplace import http_cache

    return [c for c in callbacks if c is not http_cache._bump]
