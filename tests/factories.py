"""factory_boy factories for the core app."""

from __future__ import annotations

from typing import Any

import factory
from django.utils import timezone

from marketplace.models import (
    Industry,
    Membership,
    MembershipRole,
    Organisation,
    OrganisationKind,
    Region,
    SmeProfile,
    User,
)
from marketplace.validators import credit_code_check_character

PASSWORD = "correct-horse-battery-staple"


def _credit_code(n: int) -> str:
    first17 = f"91320000MA{n:07d}"
    return first17 + credit_code_check_character(first17)


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Sequence(lambda n: f"用户{n}")
    preferred_language = "en"
    email_verified_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def password(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        obj.set_password(extracted or PASSWORD)
        if create:
            obj.save(update_fields=["password"])


class OrganisationFactory(factory.django.DjangoModelFactory[Organisation]):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"示范机构{n}")
    kind = OrganisationKind.UNIVERSITY
    credit_code = factory.Sequence(_credit_code)
    region = factory.LazyFunction(lambda: Region.objects.get(code="320102"))


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    organisation = factory.SubFactory(OrganisationFactory)
    user = factory.SubFactory(UserFactory)
    role = MembershipRole.MEMBER


class SmeProfileFactory(factory.django.DjangoModelFactory[SmeProfile]):
    class Meta:
        model = SmeProfile

    organisation = factory.SubFactory(OrganisationFactory, kind=OrganisationKind.SME)
    industry = factory.LazyFunction(lambda: Industry.objects.get(code="C3841"))
    region = factory.LazyFunction(lambda: Region.objects.get(code="320505"))
    size = "small"


def application_number(year: int, type_digit: str, serial: int) -> str:
    """A valid long-form application number (check digit computed)."""
    from marketplace.patents.numbers import check_digit

    digits = f"{year}{type_digit}{serial:07d}"
    return f"{digits}.{check_digit(digits)}"


def patent_values(serial: int, **overrides: Any) -> dict[str, Any]:
    """Clean model values for a granted 2021 invention, through the real cleaning rules."""
    from marketplace.patents.cleaning import clean_patent

    data: dict[str, Any] = {
        "application_number": application_number(2021, "1", serial),
        "title": "一种锂离子电池正极材料及其制备方法",
        "abstract": "本发明公开了一种锂离子电池正极材料，包括三元材料和包覆层，提高循环寿命。",
        "main_ipc": "H01M 4/525",
        "further_ipcs": ["H01M 10/0525"],
        "filing_date": "2021-03-15",
        "grant_date": "2023-06-20",
    }
    data.update(overrides)
    return clean_patent(data)


def make_patent(
    owner: Organisation, serial: int, *, is_listed: bool = False, **overrides: Any
) -> Any:
    """A patent saved directly (the API tests go through the service instead)."""
    from marketplace.models import Patent

    values = patent_values(serial, **overrides)
    return Patent.objects.create(owner=owner, is_listed=is_listed, **values)
