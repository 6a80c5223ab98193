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


# One problem a form-like body has: (field path in the body, stable code, message in the active
# language with its parameters filled in).
Problem = tuple[str, str, Message]


def problems_error(
    problems: Sequence[Problem],
    *,
    fields: Mapping[str, Sequence[tuple[str, Message]]] | None = None,
    conflicts: frozenset[str] = frozenset(),
) -> DomainError:
    """Every problem found in one round as one error, so a user fixes everything at once.

    `fields` are problems already on their paths (a serializer's). A single kind of problem
    alone keeps its own code and message (a Conflict, 409, when the code is in `conflicts`,
    e.g. a taken number); several are a 400 `invalid` listing each on its field."""
    merged: dict[str, list[Message | tuple[str, Message]]] = {
        path: list(items) for path, items in (fields or {}).items()
    }
    for field, code, message in problems:
        merged.setdefault(field, []).append((code, message))
    codes = {code for _field, code, _message in problems}
    if not fields and len(codes) == 1:
        _field, code, message = problems[0]
        error_class = Conflict if code in conflicts else InvalidInput
        return error_class(code, message, fields=merged)
    return InvalidInput(
        "invalid", _("The input is not valid; see the fields for details."), fields=merged
    )
