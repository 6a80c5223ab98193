"""Accounts: registering an organisation with its first admin, e-mail verification, log-in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.models import Token

from marketplace import emails
from marketplace.errors import Conflict, DomainError, InvalidInput, Message, PermissionDenied
from marketplace.models import (
    EnterpriseSize,
    Industry,
    Membership,
    MembershipRole,
    Organisation,
    OrganisationEvent,
    OrganisationEventVerb,
    OrganisationKind,
    Region,
    SmeProfile,
    User,
)
from marketplace.models.accounts import UserManager

EMAIL_VERIFICATION_SALT = "marketplace.email-verification"


def check_password_strength(*, password: str, user: User | None, field: str) -> None:
    """Django's password validators, reported under `field` with code weak_password."""
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        raise InvalidInput(
            "weak_password",
            _("The password is too weak."),
            fields={field: list(error.messages)},
        ) from error


@dataclass(frozen=True)
class SmeProfileInput:
    industry: Industry
    region: Region
    size: EnterpriseSize | str
    employee_count: int | None = None
    annual_revenue_cny: Any = None
    description: str = ""


@dataclass(frozen=True)
class RegistrationProblem:
    """One reason a registration is refused, on the body's field path."""

    field: str
    code: str
    message: Message
    summary: Message
    conflict: bool = False


def organisation_register_problems(
    *,
    name: str | None,
    kind: str | None,
    admin_email: str | None,
    admin_password: str | None,
    admin_full_name: str = "",
    credit_code: str | None = "",
    has_sme_profile: bool = False,
) -> list[RegistrationProblem]:
    """Every business rule a registration breaks, all found in one round (None: not checked,
    because the field is missing or already refused by the serializer)."""
    problems: list[RegistrationProblem] = []
    email = UserManager.normalize_email(admin_email) if admin_email else ""
    if email and User.objects.filter(email=email).exists():
        problems.append(
            RegistrationProblem(
                "admin.email",
                "email_taken",
                _("This e-mail address is already registered."),
                _("An account with this e-mail address already exists; log in instead."),
                conflict=True,
            )
        )
    if name and Organisation.objects.filter(name=name).exists():
        problems.append(
            RegistrationProblem(
                "name",
                "organisation_name_taken",
                _("This name is already registered."),
                _("An organisation with this name is already registered."),
                conflict=True,
            )
        )
    if credit_code and Organisation.objects.filter(credit_code=credit_code).exists():
        problems.append(
            RegistrationProblem(
                "credit_code",
                "credit_code_taken",
                _("This code is already registered."),
                _("An organisation with this unified social credit code is already registered."),
                conflict=True,
            )
        )
    if kind == OrganisationKind.INDIVIDUAL and credit_code:
        problems.append(
            RegistrationProblem(
                "credit_code",
                "credit_code_not_allowed",
                _("Leave this empty for an individual."),
                _("An individual patentee has no unified social credit code."),
            )
        )
    if kind and kind != OrganisationKind.INDIVIDUAL and credit_code == "":
        problems.append(
            RegistrationProblem(
                "credit_code",
                "credit_code_required",
                _("Organisations other than individuals must give their code."),
                _("Organisations other than individuals must give their code."),
            )
        )
    if has_sme_profile and kind and kind != OrganisationKind.SME:
        problems.append(
            RegistrationProblem(
                "sme_profile",
                "not_an_sme",
                _("Only for organisations of kind 'sme'."),
                _("Only an SME has an SME profile."),
            )
        )
    if admin_password is not None:
        try:
            validate_password(
                admin_password, user=User(email=email, full_name=admin_full_name or "")
            )
        except ValidationError as error:
            problems.extend(
                RegistrationProblem(
                    "admin.password", "weak_password", message, _("The password is too weak.")
                )
                for message in error.messages
            )
    return problems


def registration_error(
    problems: list[RegistrationProblem],
    fields: dict[str, list[tuple[str, Message]]] | None = None,
) -> DomainError:
    """One error for all the problems: a single kind of problem keeps its own code (409 for a
    taken address, name or code), several are a 400 `invalid` listing each on its field."""
    merged: dict[str, list[tuple[str, Message]]] = {k: list(v) for k, v in (fields or {}).items()}
    for problem in problems:
        merged.setdefault(problem.field, []).append((problem.code, problem.message))
    codes = {problem.code for problem in problems}
    if not fields and len(codes) == 1:
        first = problems[0]
        error_class = Conflict if first.conflict else InvalidInput
        return error_class(
            first.code,
            first.summary,
            fields={k: [message for _code, message in v] for k, v in merged.items()},
        )
    return InvalidInput(
        "invalid", _("The input is not valid; see the fields for details."), fields=merged
    )


@transaction.atomic
def organisation_register(
    *,
    name: str,
    kind: str,
    region: Region,
    admin_email: str,
    admin_password: str,
    admin_full_name: str,
    language: str = User.Language.CHINESE,
    name_en: str = "",
    credit_code: str = "",
    address: str = "",
    contact_email: str = "",
    contact_phone: str = "",
    website: str = "",
    sme_profile: SmeProfileInput | None = None,
) -> tuple[Organisation, User]:
    """Create an organisation and its first admin (unverified) and send the verification mail."""
    email = UserManager.normalize_email(admin_email)
    user = User(email=email, full_name=admin_full_name, preferred_language=language)
    problems = organisation_register_problems(
        name=name,
        kind=kind,
        admin_email=email,
        admin_password=admin_password,
        admin_full_name=admin_full_name,
        credit_code=credit_code,
        has_sme_profile=sme_profile is not None,
    )
    if problems:
        raise registration_error(problems)
    user.set_password(admin_password)
    try:
        with transaction.atomic():
            user.save()
            organisation = Organisation.objects.create(
                name=name,
                name_en=name_en,
                kind=kind,
                region=region,
                credit_code=credit_code,
                address=address,
                contact_email=contact_email,
                contact_phone=contact_phone,
                website=website,
            )
    except IntegrityError as error:  # a concurrent registration won the race
        raise Conflict(
            "registration_conflict",
            _("The e-mail address, name or credit code was registered a moment ago."),
        ) from error
    Membership.objects.create(organisation=organisation, user=user, role=MembershipRole.ADMIN)
    OrganisationEvent.objects.create(
        organisation=organisation,
        actor=user,
        subject_user=user,
        verb=OrganisationEventVerb.REGISTERED,
        data={"kind": kind, "name": name},
    )
    if sme_profile is not None:
        SmeProfile.objects.create(
            organisation=organisation,
            industry=sme_profile.industry,
            region=sme_profile.region,
            size=sme_profile.size,
            employee_count=sme_profile.employee_count,
            annual_revenue_cny=sme_profile.annual_revenue_cny,
            description=sme_profile.description,
        )
    emails.send_after_commit(
        emails.email_verification_message, user_id=user.pk, token=email_verification_token(user)
    )
    return organisation, user


def email_verification_token(user: User) -> str:
    """A signed token naming the user and address; it expires after the configured hours."""
    return signing.dumps({"user": user.pk, "email": user.email}, salt=EMAIL_VERIFICATION_SALT)


@transaction.atomic
def user_verify_email(*, token: str) -> User:
    """Mark the address in a valid token as verified; verifying twice is harmless."""
    max_age = settings.EMAIL_VERIFICATION_TIMEOUT_HOURS * 3600
    try:
        payload = signing.loads(token, salt=EMAIL_VERIFICATION_SALT, max_age=max_age)
    except signing.SignatureExpired as error:
        raise InvalidInput(
            "verification_token_expired",
            _("This verification link has expired; ask for a new one."),
            fields={"token": [_("Expired.")]},
        ) from error
    except signing.BadSignature as error:
        raise InvalidInput(
            "verification_token_invalid",
            _("This verification link is not valid."),
            fields={"token": [_("Not a valid token.")]},
        ) from error
    user = User.objects.select_for_update().filter(pk=payload.get("user")).first()
    if user is None or user.email != payload.get("email") or not user.is_active:
        raise InvalidInput(
            "verification_token_invalid",
            _("This verification link is not valid."),
            fields={"token": [_("Not a valid token.")]},
        )
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
    return user


def user_resend_verification(*, email: str) -> None:
    """Send a new verification mail when the address belongs to an unverified account."""
    user = User.objects.filter(
        email=UserManager.normalize_email(email), is_active=True, email_verified_at__isnull=True
    ).first()
    if user is not None:
        emails.send_after_commit(
            emails.email_verification_message, user_id=user.pk, token=email_verification_token(user)
        )


def user_authenticate(*, email: str, password: str, request: Any = None) -> User:
    """The active, verified user with these credentials (for the API token and the pages)."""
    user = authenticate(request, username=UserManager.normalize_email(email), password=password)
    if user is None:
        raise InvalidInput(
            "invalid_credentials",
            _("The e-mail address or password is wrong."),
        )
    assert isinstance(user, User)
    if not user.is_email_verified:
        raise PermissionDenied(
            "email_not_verified",
            _("Verify your e-mail address first: follow the link in the mail we sent."),
        )
    return user


@transaction.atomic
def user_log_in(*, email: str, password: str, request: Any = None) -> Token:
    """Check the credentials and return the user's API token (one per user)."""
    user = user_authenticate(email=email, password=password, request=request)
    token, _created = Token.objects.get_or_create(user=user)
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    return token


def user_log_out(*, user: User) -> None:
    """Revoke the user's API token."""
    Token.objects.filter(user=user).delete()


def password_reset_token(user: User) -> str:
    """A signed token naming the user; Django's generator makes it void once the password
    changes or the user logs in, and after PASSWORD_RESET_TIMEOUT."""
    return f"{user.pk}-{default_token_generator.make_token(user)}"


def user_request_password_reset(*, email: str) -> None:
    """Mail a reset link when the address belongs to an active account (the caller's answer
    is the same either way, so it does not tell who is registered)."""
    user = User.objects.filter(email=UserManager.normalize_email(email), is_active=True).first()
    if user is not None:
        emails.send_after_commit(
            emails.password_reset_message, user_id=user.pk, token=password_reset_token(user)
        )


def _password_reset_user(token: str) -> User:
    user_id, _dash, secret = token.partition("-")
    user = (
        User.objects.select_for_update().filter(pk=int(user_id), is_active=True).first()
        if user_id.isdigit()
        else None
    )
    if user is None or not default_token_generator.check_token(user, secret):
        raise InvalidInput(
            "reset_token_invalid",
            _("This password reset link is not valid or has expired; ask for a new one."),
            fields={"token": [_("Not a valid token.")]},
        )
    return user


def password_reset_check(*, token: str) -> User:
    """The user a reset token names, or invalid_input when it is void."""
    with transaction.atomic():
        return _password_reset_user(token)


@transaction.atomic
def user_reset_password(*, token: str, password: str) -> User:
    """Set a new password with a reset token. The token is then void, the API token is
    revoked (log in again everywhere), and the address counts as verified: the mail reached it."""
    user = _password_reset_user(token)
    check_password_strength(password=password, user=user, field="password")
    user.set_password(password)
    fields = ["password"]
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        fields.append("email_verified_at")
    user.save(update_fields=fields)
    Token.objects.filter(user=user).delete()
    return user
