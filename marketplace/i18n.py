"""The reader's language: Accept-Language (or the language cookie), else the user's
`preferred_language`, else LANGUAGE_CODE (zh-hans)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from rest_framework import authentication
from rest_framework.request import Request


def language_was_asked_for(request: HttpRequest) -> bool:
    """The client named a language: a language cookie or an Accept-Language other than `*`."""
    if request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME):
        return True
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "").strip()
    return bool(header) and header != "*"


def activate_user_language(request: HttpRequest, user: Any) -> None:
    """Speak `user`'s preferred language when the request did not ask for one."""
    language = getattr(user, "preferred_language", "")
    if not language or language_was_asked_for(request):
        return
    translation.activate(language)
    request.LANGUAGE_CODE = translation.get_language()


class PreferredLanguageMiddleware:
    """After AuthenticationMiddleware: a session user (admin, browsable API, pages) without an
    Accept-Language gets their preferred language. Token users get it from TokenAuthentication
    below, since DRF authenticates them inside the view."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            activate_user_language(request, user)
        return self.get_response(request)


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication; the authenticated user's language applies to the answer."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is not None:
            activate_user_language(request._request, result[0])
        return result
