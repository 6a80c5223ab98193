"""Domain errors: each carries a stable code, a translatable message and an HTTP status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

Message = str | Promise


class DomainError(Exception):
    """A refused action. The API shows it as {"code", "detail", "fields"} with `status_code`.

    `fields` maps a field to messages; a message given as (code, message) keeps its own code,
    a bare message takes the error's code.
    """

    status_code = 400
    default_code = "invalid"
    default_message: Message = _("The request was refused.")

    def __init__(
        self,
        code: str | None = None,
        message: Message | None = None,
        *,
        fields: Mapping[str, Sequence[Message | tuple[str, Message]]] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.code = code or self.default_code
        self.message = message if message is not None else self.default_message
        self.fields = dict(fields or {})
        self.params = dict(params or {})
        super().__init__(f"{self.code}: {self.message}")

    def render_message(self) -> str:
        """The message in the active language, with its %(name)s parameters filled in."""
        text = str(self.message)
        return text % self.params if self.params else text


class InvalidInput(DomainError):
    """The input breaks a business rule (400)."""


class PermissionDenied(DomainError):
    """The actor may see the object but not do this to it (403)."""

    status_code = 403
    default_code = "permission_denied"
    default_message = _("You do not have permission to perform this action.")


class NotFound(DomainError):
    """The object does not exist or is not visible to the actor (404)."""

    status_code = 404
    default_code = "not_found"
    default_message = _("Not found.")


class Conflict(DomainError):
    """The action clashes with the current state, e.g. someone else changed it first (409)."""

    status_code = 409
    default_code = "conflict"
    default_message = _("The object was changed by someone else; reload and try again.")
