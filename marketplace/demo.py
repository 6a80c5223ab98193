"""The demo data set for `make run` and `docker compose up`: loading it twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from marketplace import roles
from marketplace.models import (
    Industry,
    Organisation,
    OrganisationKind,
    Region,
    User,
)
from marketplace.services import accounts, organisations, platform
from marketplace.validators import credit_code_check_character

DEMO_PASSWORD = "OpenLicense-2026"


def _credit_code(first17: str) -> str:
    return first17 + credit_code_check_character(first17)


@dataclass(frozen=True)
class DemoOrganisation:
    name: str
    name_en: str
    kind: str
    region: str
    credit_code_base: str
    admin_email: str
    admin_name: str
    member_email: str | None = None
    member_name: str = ""
    industry: str | None = None
    size: str | None = None


ORGANISATIONS = (
    DemoOrganisation(
        "华东示范大学",
        "East China Demonstration University",
        OrganisationKind.UNIVERSITY,
        "320102",
        "12320000466000001",
        "university.admin@example.com",
        "王晓明",
        member_email="university.member@example.com",
        member_name="李静",
    ),
    DemoOrganisation(
        "江苏先进材料示范研究院",
        "Jiangsu Demonstration Institute of Advanced Materials",
        OrganisationKind.RESEARCH_INSTITUTE,
        "320505",
        "12320500MB0000012",
        "institute.admin@example.com",
        "陈思远",
    ),
    DemoOrganisation(
        "苏州锂途新能源科技有限公司",
        "Suzhou Litu New Energy Technology Co., Ltd.",
        OrganisationKind.SME,
        "320505",
        "91320505MA0000031",
        "sme.battery@example.com",
        "赵磊",
        industry="C3841",
        size="small",
    ),
    DemoOrganisation(
        "深圳晶显光电有限公司",
        "Shenzhen Jingxian Optoelectronics Co., Ltd.",
        OrganisationKind.SME,
        "440305",
        "91440300MA0000042",
        "sme.display@example.com",
        "刘芳",
        industry="C39",
        size="micro",
    ),
)

PLATFORM_STAFF = (
    ("reviewer@example.com", "周审查", roles.REVIEWER),
    ("mediator@example.com", "吴调解", roles.MEDIATOR),
    ("supervisor@example.com", "郑主任", roles.MEDIATION_SUPERVISOR),
)
SUPERUSER_EMAIL = "admin@example.com"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str


def _verified(user: User) -> None:
    if user.email_verified_at is None:
        accounts.user_verify_email(token=accounts.email_verification_token(user))


def _ensure_organisation(spec: DemoOrganisation) -> tuple[Organisation, list[DemoLogin]]:
    logins = [DemoLogin(spec.admin_email, f"organisation admin, {spec.name}")]
    organisation = Organisation.objects.filter(name=spec.name).first()
    if organisation is None:
        profile = None
        if spec.industry and spec.size:
            profile = accounts.SmeProfileInput(
                industry=Industry.objects.get(code=spec.industry),
                region=Region.objects.get(code=spec.region),
                size=spec.size,
            )
        organisation, _admin = accounts.organisation_register(
            name=spec.name,
            name_en=spec.name_en,
            kind=spec.kind,
            region=Region.objects.get(code=spec.region),
            credit_code=_credit_code(spec.credit_code_base),
            admin_email=spec.admin_email,
            admin_password=DEMO_PASSWORD,
            admin_full_name=spec.admin_name,
            sme_profile=profile,
        )
    admin = User.objects.get(email=spec.admin_email)
    _verified(admin)
    if spec.member_email:
        logins.append(DemoLogin(spec.member_email, f"member, {spec.name}"))
        if not User.objects.filter(email=spec.member_email).exists():
            _invitation, token = organisations.invitation_create(
                organisation_id=organisation.pk, actor=admin, email=spec.member_email, role="member"
            )
            organisations.invitation_accept(
                token=token, actor=None, full_name=spec.member_name, password=DEMO_PASSWORD
            )
    return organisation, logins


def _ensure_staff(email: str, name: str, role: str) -> None:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email, DEMO_PASSWORD, full_name=name)
    _verified(user)
    if not user.groups.filter(name=role).exists():
        platform.platform_role_grant(user=user, role=role, actor=None)


@transaction.atomic
def load_demo() -> list[DemoLogin]:
    """Create whatever part of the demo is missing; returns the log-ins to print."""
    logins: list[DemoLogin] = []
    for spec in ORGANISATIONS:
        _organisation, organisation_logins = _ensure_organisation(spec)
        logins.extend(organisation_logins)
    for email, name, role in PLATFORM_STAFF:
        _ensure_staff(email, name, role)
        logins.append(DemoLogin(email, role))
    if not User.objects.filter(email=SUPERUSER_EMAIL).exists():
        User.objects.create_superuser(SUPERUSER_EMAIL, DEMO_PASSWORD, full_name="平台管理员")
    logins.append(DemoLogin(SUPERUSER_EMAIL, "superuser (admin site)"))
    return logins
