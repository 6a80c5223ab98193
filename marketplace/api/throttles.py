"""Throttles for log-in and registration: per client address and per account."""

from __future__ import annotations

import hashlib
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
        # Hashed: the address is client input (any length, any character) and a cache key.
        digest = hashlib.sha256(UserManager.normalize_email(email).encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": digest}


class RegisterThrottle(ScopedRateThrottle):
    """Registrations and verification-mail requests from one client address."""

    scope_attr = "throttle_scope"
