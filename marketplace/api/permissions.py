"""Permission classes: who may call which command (visibility itself comes from querysets)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rest_framework.permissions import BasePermission

from marketplace.models import User


def request_user(request: Any) -> User:
    """The logged-in user of a request (views call it behind IsAuthenticated)."""
    user = request.user
    assert isinstance(user, User)
    return user


class IsVerified(BasePermission):
    """Logged in with a verified e-mail address."""

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.email_verified_at is not None)


Check = Callable[[Any, Any], object]


class CommandChecks:
    """Viewset mixin: `command_checks` names, per action, the check (marketplace.permissions,
    licensing.permissions: the ones its service runs) that get_object() applies to the object
    it found. A command calls get_object() before it reads its body, so the order of answers is
    always 404 (not yours to see), 403 (not yours to do), then 400 (the input refused)."""

    command_checks: ClassVar[dict[str, Check]] = {}

    def check_object_permissions(self, request: Any, obj: Any) -> None:
        super().check_object_permissions(request, obj)  # type: ignore[misc]
        check = self.command_checks.get(getattr(self, "action", None) or "")
        if check is not None:
            check(request.user, obj)
