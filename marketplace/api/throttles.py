"""Throttles for log-in and registration: per client address and per account."""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

from marketplace.models.accounts import UserManager


class LoginIpThrottle(SimpleRateThrottle):
    """Log-in attempts from one client address."""

    scope = "login_ip"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginEmailThrottle(SimpleRateThrottle):
    """Log-in attempts against one account, wherever they come from."""

    scope = "login_email"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        data = request.data if isinstance(request.data, dict) else {}
        email = data.get("email")
        if not isinstance(email, str) or not email:
            return None
        return self.cache_format % {
            "scope": self.scope,
            "ident": UserManager.normalize_email(email)[:254],
        }


class RegisterThrottle(ScopedRateThrottle):
    """Registrations and verification-mail requests from one client address."""

    scope_attr = "throttle_scope"
