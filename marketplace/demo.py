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
        member_email="sme.member@example.com",
        member_name="孙小敏",
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
    load_demo_patents()
    load_demo_needs()
    if not User.objects.filter(email=SUPERUSER_EMAIL).exists():
        User.objects.create_superuser(SUPERUSER_EMAIL, DEMO_PASSWORD, full_name="平台管理员")
    logins.append(DemoLogin(SUPERUSER_EMAIL, "superuser (admin site)"))
    return logins


DEMO_PATENTS: tuple[tuple[str, int, str, str, str, str, list[str], str, str], ...] = (
    # (owner name, serial, type digit, title, abstract, main IPC, further IPCs, filed, granted)
    (
        "华东示范大学",
        100001,
        "1",
        "一种高镍三元锂离子电池正极材料及其制备方法",
        "本发明公开了一种高镍三元正极材料，通过铝掺杂和氧化物包覆提高循环稳定性和热稳定性。",
        "H01M 4/525",
        ["H01M 10/0525"],
        "2020-04-08",
        "2022-09-13",
    ),
    (
        "华东示范大学",
        100002,
        "1",
        "一种硫化物固态电解质及全固态电池",
        "本发明提供一种高离子电导率的硫化物固态电解质，适用于全固态锂电池。",
        "H01M 10/0562",
        ["H01M 10/052"],
        "2021-02-19",
        "2023-05-30",
    ),
    (
        "华东示范大学",
        200003,
        "2",
        "一种电池包液冷散热结构",
        "一种用于电动汽车动力电池包的液冷板散热结构，结构简单，换热均匀。",
        "H01M 10/613",
        [],
        "2022-07-01",
        "2022-12-20",
    ),
    (
        "华东示范大学",
        100004,
        "1",
        "A flame retardant finishing process for cotton fabric",
        "A phosphorus-nitrogen flame retardant finishing process for cotton textiles with "
        "durable wash resistance.",
        "D06M 11/00",
        [],
        "2021-06-11",
        "2023-10-10",
    ),
    (
        "江苏先进材料示范研究院",
        100005,
        "1",
        "一种柔性OLED显示面板及其制备方法",
        "本发明涉及一种柔性有机发光显示面板，采用薄膜封装，提高弯折寿命。",
        "H10K 59/12",
        ["H10K 77/10"],
        "2021-09-23",
        "2024-01-16",
    ),
    (
        # Granted in 2014: the 85 % general reduction covered patent years 3-12 and is over,
        # so the 15 % open-license reduction shows in its fee calendar (licensing.demo).
        "华东示范大学",
        100007,
        "1",
        "一种锂电池隔膜陶瓷涂层及其涂布方法",
        "本发明公开了一种用于锂离子电池隔膜的氧化铝陶瓷涂层，提高隔膜耐热性和电解液浸润性。",
        "H01M 50/449",
        ["H01M 50/403"],
        "2012-03-01",
        "2014-06-10",
    ),
    (
        "江苏先进材料示范研究院",
        100006,
        "1",
        "一种石墨烯导热膜的制备方法",
        "本发明公开了一种高导热石墨烯膜的制备方法，用于电子器件散热。",
        "C01B 32/184",
        ["H05K 7/20"],
        "2020-11-02",
        "2022-08-19",
    ),
)


def load_demo_patents() -> int:
    """Add the demo portfolio through the patent service (skipped when already there)."""
    from marketplace.models import Membership, Patent
    from marketplace.patents.numbers import check_digit
    from marketplace.services.patents import patent_create

    created = 0
    for owner_name, serial, digit, title, abstract, main, further, filed, granted in DEMO_PATENTS:
        digits = f"{filed[:4]}{digit}{serial % 10_000_000:07d}"
        number = f"{digits}.{check_digit(digits)}"
        if Patent.objects.filter(application_number=number).exists():
            continue
        owner = Organisation.objects.get(name=owner_name)
        actor = Membership.objects.filter(organisation=owner).order_by("id").first()
        assert actor is not None
        patent_create(
            actor=actor.user,
            owner_id=owner.pk,
            data={
                "application_number": number,
                "title": title,
                "abstract": abstract,
                "main_ipc": main,
                "further_ipcs": further,
                "filing_date": filed,
                "grant_date": granted,
            },
        )
        created += 1
    return created


# Declarations for the demo: (application-number serial, terms). Loaded by licensing's hook.
DEMO_DECLARATIONS: tuple[tuple[int, dict[str, object]], ...] = (
    (
        100001,
        {
            "payment_method": "entry_fee_plus_royalty",
            "royalty_basis": "net_sales",
            "entry_fee_cny": "50000.00",
            "royalty_rate_percent": "3.0000",
            "minimum_annual_royalty_cny": "20000.00",
            "license_term_years": 5,
        },
    ),
    (100002, {"payment_method": "lump_sum", "lump_sum_cny": "300000.00", "license_term_years": 3}),
    (100004, {"payment_method": "free"}),
    (100007, {"payment_method": "lump_sum", "lump_sum_cny": "12000.00", "license_term_years": 5}),
    (
        100005,
        {
            "payment_method": "running_royalty",
            "royalty_basis": "profit",
            "royalty_rate_percent": "8.0000",
        },
    ),
)


def demo_patent_number(serial: int) -> str:
    from marketplace.models import Patent

    patent = Patent.objects.filter(application_number__contains=f"{serial % 10_000_000:07d}.")
    return patent.values_list("application_number", flat=True).get()


# Technology needs of the demo SMEs: (SME name, title, description, keywords, IPC areas).
DEMO_NEEDS: tuple[tuple[str, str, str, list[str], list[str]], ...] = (
    (
        "苏州锂途新能源科技有限公司",
        "高镍正极材料循环稳定性提升",
        "我司生产动力电池，需要提高高镍三元正极材料的循环寿命和热稳定性的包覆或掺杂技术。",
        ["高镍", "正极材料", "锂离子电池"],
        ["H01M"],
    ),
    (
        "深圳晶显光电有限公司",
        "柔性OLED薄膜封装工艺",
        "需要柔性有机发光显示面板的薄膜封装技术，提高弯折寿命。",
        ["柔性", "OLED", "薄膜封装"],
        ["H10K"],
    ),
)


def load_demo_needs() -> int:
    """Post the demo SMEs' technology needs through the needs service (once)."""
    from datetime import timedelta

    from django.utils import timezone

    from marketplace.models import Membership, TechnologyNeed
    from marketplace.services.needs import need_create

    created = 0
    for sme_name, title, description, keywords, ipc_areas in DEMO_NEEDS:
        organisation = Organisation.objects.get(name=sme_name)
        if TechnologyNeed.objects.filter(organisation=organisation, title=title).exists():
            continue
        admin = Membership.objects.filter(organisation=organisation).order_by("id").first()
        assert admin is not None
        need_create(
            actor=admin.user,
            organisation_id=organisation.pk,
            values={
                "title": title,
                "description": description,
                "keywords": keywords,
                "ipc_areas": ipc_areas,
                "expires_on": timezone.localdate() + timedelta(days=180),
            },
        )
        created += 1
    return created
