"""The few server-rendered pages a new user meets: the landing page and the pages the mails
link to (verify an address, accept an invitation, reset a password), with a session log-in
that also serves the browsable API. Each page parses, calls one service and renders."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from marketplace.api.throttles import LoginEmailThrottle, LoginIpThrottle, RegisterThrottle
from marketplace.errors import DomainError
from marketplace.models import User
from marketplace.services import accounts as account_services
from marketplace.services import organisations as organisation_services


def _language(request: HttpRequest, user: User | None = None) -> None:
    """Pages speak the user's language; Accept-Language decides for anonymous visitors
    (LocaleMiddleware), and a language chosen explicitly (cookie) wins over both."""
    if request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME):
        return
    if user is None and isinstance(request.user, User):
        user = request.user
    if user is not None:
        translation.activate(user.preferred_language)
        request.LANGUAGE_CODE = translation.get_language()


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return "/"


class PageForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")  # the labels stand above their fields
        super().__init__(*args, **kwargs)


class LoginForm(PageForm):
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    password = forms.CharField(
        label=_("Password"), max_length=128, strip=False, widget=forms.PasswordInput
    )


class EmailForm(PageForm):
    email = forms.EmailField(label=_("E-mail address"), max_length=254)


class NewPasswordForm(PageForm):
    password = forms.CharField(
        label=_("New password"), max_length=128, strip=False, widget=forms.PasswordInput
    )


class NewAccountForm(PageForm):
    full_name = forms.CharField(label=_("Full name"), max_length=150)
    password = forms.CharField(
        label=_("Password"), max_length=128, strip=False, widget=forms.PasswordInput
    )


TOO_MANY = _("Too many attempts; wait a minute and try again.")


class _ThrottleScope(APIView):
    throttle_scope = "register"


def _allowed(request: HttpRequest, *throttles: BaseThrottle) -> bool:
    """The API's throttles on a page's POST: log-in as POST /auth/token/, the rest (mails,
    accounts, tokens) as registration and verification, per client address."""
    drf_request = Request(request, parsers=[FormParser()])
    chosen = throttles or (RegisterThrottle(),)
    return all(throttle.allow_request(drf_request, _ThrottleScope()) for throttle in chosen)


def _show_error(form: forms.Form, error: DomainError) -> None:
    """A refused action's message on the form, and its field messages on the fields."""
    form.add_error(None, error.render_message())
    for field, messages in error.fields.items():
        target = field if field in form.fields else None
        for message in messages:
            text = message[1] if isinstance(message, tuple) else message
            form.add_error(target, str(text))


def landing(request: HttpRequest) -> HttpResponse:
    _language(request)
    return render(request, "pages/landing.html")


@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponse:
    """Session log-in for any verified user (pages, browsable API); throttled as the API's."""
    _language(request)
    form = LoginForm(request.POST or None, initial={"email": request.GET.get("email", "")})
    if request.method == "POST" and form.is_valid():
        if not _allowed(request, LoginIpThrottle(), LoginEmailThrottle()):
            form.add_error(None, TOO_MANY)
        else:
            try:
                user = account_services.user_authenticate(
                    email=form.cleaned_data["email"],
                    password=form.cleaned_data["password"],
                    request=request,
                )
            except DomainError as error:
                _show_error(form, error)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect(_next_url(request))
    return render(request, "pages/login.html", {"form": form, "next": _next_url(request)})


@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect(_next_url(request))


@require_http_methods(["GET", "POST"])
def verify_email(request: HttpRequest) -> HttpResponse:
    """The link of the verification mail: verify the address, then offer the log-in form."""
    _language(request)
    if request.method == "POST":  # asking for a new link after a void one
        resend = EmailForm(request.POST)
        if not _allowed(request):
            resend.add_error(None, TOO_MANY)
        elif resend.is_valid():
            account_services.user_resend_verification(email=resend.cleaned_data["email"])
            return render(request, "pages/verify_email.html", {"resent": True})
        return render(request, "pages/verify_email.html", {"resend": resend})
    try:
        user = account_services.user_verify_email(token=request.GET.get("token", ""))
    except DomainError as error:
        return render(
            request,
            "pages/verify_email.html",
            {"error": error.render_message(), "resend": EmailForm()},
            status=400,
        )
    _language(request, user)
    signed_in = request.user.is_authenticated and request.user.pk == user.pk
    form = LoginForm(initial={"email": user.email})
    return render(
        request,
        "pages/verify_email.html",
        {"verified": user, "form": None if signed_in else form},
    )


@require_http_methods(["GET", "POST"])
def accept_invitation(request: HttpRequest) -> HttpResponse:
    """The link of the invitation mail: join, creating the account when there is none."""
    _language(request)
    token = request.POST.get("token") or request.GET.get("token", "")
    try:
        invitation, has_account = organisation_services.invitation_lookup(token=token)
    except DomainError as error:
        return render(
            request, "pages/invitation.html", {"error": error.render_message()}, status=400
        )
    actor = request.user if isinstance(request.user, User) else None
    form = NewAccountForm(request.POST or None) if actor is None and not has_account else None
    context: dict[str, Any] = {
        "invitation": invitation,
        "token": token,
        "has_account": has_account,
        "form": form,
        "wrong_account": actor is not None and actor.email != invitation.email,
    }
    if request.method == "POST" and not _allowed(request):
        context["error"] = TOO_MANY
    elif request.method == "POST" and (form is None or form.is_valid()):
        try:
            membership = organisation_services.invitation_accept(
                token=token,
                actor=actor,
                full_name=form.cleaned_data["full_name"] if form else "",
                password=form.cleaned_data["password"] if form else "",
            )
        except DomainError as error:
            if form is not None:
                _show_error(form, error)
            else:
                context["error"] = error.render_message()
        else:
            if actor is None:
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("/")
    return render(request, "pages/invitation.html", context)


@require_http_methods(["GET", "POST"])
def forgot_password(request: HttpRequest) -> HttpResponse:
    """Ask for a reset link; the answer is the same whether the address is registered."""
    _language(request)
    form = EmailForm(request.POST or None)
    if request.method == "POST" and not _allowed(request):
        form.add_error(None, TOO_MANY)
    elif request.method == "POST" and form.is_valid():
        account_services.user_request_password_reset(email=form.cleaned_data["email"])
        return render(request, "pages/forgot_password.html", {"sent": True})
    return render(request, "pages/forgot_password.html", {"form": form})


@require_http_methods(["GET", "POST"])
def reset_password(request: HttpRequest) -> HttpResponse:
    """The link of the reset mail: choose a new password, then be signed in."""
    _language(request)
    token = request.POST.get("token") or request.GET.get("token", "")
    form = NewPasswordForm(request.POST or None)
    if request.method == "GET":
        try:
            account_services.password_reset_check(token=token)
        except DomainError as error:
            return render(
                request, "pages/reset_password.html", {"error": error.render_message()}, status=400
            )
    elif not _allowed(request):
        form.add_error(None, TOO_MANY)
    elif form.is_valid():
        try:
            user = account_services.user_reset_password(
                token=token, password=form.cleaned_data["password"]
            )
        except DomainError as error:
            _show_error(form, error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("/")
    return render(request, "pages/reset_password.html", {"form": form, "token": token})
