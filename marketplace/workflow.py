"""One shape for every workflow (house style: "Writes, reads, workflows").

Every aggregate with a status declares a `Workflow`: its literal table of allowed moves
`{(from, to): verb}` and, where it keeps a timeline, its event model. `Workflow.transition()`
is the one way a status changes: it refuses a move the table does not list, moves with a
compare-and-swap (`filter(pk=..., status=current).update(status=new)`; zero rows means
someone else moved it first), writes the event row and schedules the notification task after
commit. Steps that do not move the status are recorded with `Workflow.record()`.

Event verbs are `VerbChoices`: each carries its label (the timeline's and the notification's
step, in the reader's language) and its audience (who is told; empty: nobody).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketplace import dispatch
from marketplace.errors import Conflict, Message

M = TypeVar("M", bound=models.Model)


class VerbChoices(models.TextChoices):
    """An event model's verbs: `NAME = "code", audience, action, label` (audience and action
    may be left out).

    The code is what the event row stores; the label is the step as people read it (timeline,
    notification, admin); the audience names who hears of it (the notification task resolves
    each name to users); the action, where the step is taken from an admin panel, says how
    (the panel builds its forms and buttons from it).
    """

    audience: tuple[str, ...]
    action: Any

    def __new__(cls, value: str, audience: tuple[str, ...] = (), action: Any = None) -> VerbChoices:
        member = str.__new__(cls, value)
        member._value_ = value
        member.audience = tuple(audience)
        member.action = action
        return member

    @classmethod
    def actions(cls) -> list[VerbChoices]:
        """The verbs taken from an admin panel, in the table's order."""
        return [verb for verb in cls if verb.action is not None]

    @classmethod
    def notified(cls) -> list[str]:
        """The verbs somebody is told of."""
        return [verb.value for verb in cls if verb.audience]

    @classmethod
    def label_of(cls, value: str) -> str:
        """The label of a stored verb (a code no longer declared shows as itself)."""
        try:
            return str(cls(value).label)
        except ValueError:
            return value


class EventBase(models.Model):
    """One step in an aggregate's timeline: who, when, from which status to which, why.

    A concrete event model adds the foreign key to its aggregate and names its `Verb` class.
    """

    Verb: type[VerbChoices]

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    verb = models.CharField(_("step"), max_length=40)
    from_status = models.CharField(_("from status"), max_length=24, blank=True)
    to_status = models.CharField(_("to status"), max_length=24, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["created_at", "id"]

    @property
    def step(self) -> str:
        """The verb as the reader reads it, in the active language."""
        return self.Verb.label_of(self.verb)


@dataclass(frozen=True)
class Workflow(Generic[M]):
    """A model's status workflow: the table of allowed moves and how its steps are recorded.

    `moves` maps (from, to) to the verb the move's event records. `event` is the event model
    (None: the aggregate keeps no timeline of its own) and `subject` its foreign key to the
    aggregate; `notify` the dotted path of the task told of each recorded event (by id, after
    commit). `not_allowed` and `changed` are the stable code and message of the 409 a refused
    move and a lost compare-and-swap answer with (`not_allowed` gets the two statuses' labels as
    %(current)s and %(new)s).
    """

    model: type[M]
    statuses: type[models.TextChoices]
    moves: Mapping[tuple[str, str], str]
    not_allowed: tuple[str, Message]
    changed: tuple[str, Message]
    event: type[EventBase] | None = None
    subject: str = ""
    notify: str = ""
    # The field stamped with the time of each move (None: the model has none).
    stamp: str | None = "updated_at"

    def __post_init__(self) -> None:
        statuses = set(self.statuses.values)
        for (current, new), verb in self.moves.items():
            if current not in statuses or new not in statuses:
                raise ValueError(f"{self.model.__name__}: unknown status in {current}→{new}")
            # A mistyped verb fails here, at import, instead of silently notifying nobody.
            if self.event is not None and verb not in self.event.Verb.values:
                raise ValueError(f"{self.model.__name__}: {verb!r} is not an event verb")

    def allowed(self, current: str, new: str) -> bool:
        return (current, new) in self.moves

    def sources(self, verb: str) -> set[str]:
        """The statuses a move recording `verb` starts from."""
        return {current for (current, _new), moved in self.moves.items() if moved == verb}

    def sources_of(self, new: str) -> set[str]:
        """The statuses from which `new` can be reached."""
        return {current for (current, target) in self.moves if target == new}

    def refuse(self, current: str, new: str) -> Conflict:
        code, message = self.not_allowed
        return Conflict(
            code,
            message,
            params={"current": self.statuses(current).label, "new": self.statuses(new).label},
        )

    def transition(
        self,
        obj: M,
        *,
        to: str,
        actor: Any = None,
        reason: str = "",
        data: dict[str, Any] | None = None,
        where: Mapping[str, Any] | None = None,
        **updates: Any,
    ) -> EventBase | None:
        """Move `obj` from its current status to `to`; returns the event written (None for a
        model without a timeline).

        A move the table does not list, or one someone else made first (zero rows updated,
        also when the extra `where` conditions no longer hold), is a 409 and writes nothing.
        """
        current = str(obj.status)  # type: ignore[attr-defined]
        if not self.allowed(current, to):
            raise self.refuse(current, to)
        if not self.move(obj, to=to, where=where, **updates):
            code, message = self.changed
            raise Conflict(code, message)
        if self.event is None:
            return None
        return self.record(
            obj,
            self.moves[(current, to)],
            actor=actor,
            from_status=current,
            to_status=to,
            reason=reason,
            data=data,
        )

    def move(
        self, obj: M, *, to: str, where: Mapping[str, Any] | None = None, **updates: Any
    ) -> bool:
        """The compare-and-swap alone, for work queues that claim a row (no event, no 409):
        True if this call moved it. The move must be in the table."""
        current = str(obj.status)  # type: ignore[attr-defined]
        if not self.allowed(current, to):
            raise self.refuse(current, to)
        values = {"status": to, **updates}
        if self.stamp and self.stamp not in values:
            values[self.stamp] = timezone.now()
        moved = self.model._default_manager.filter(
            pk=obj.pk, status=current, **(where or {})
        ).update(**values)
        if not moved:
            return False
        for name, value in values.items():
            if not hasattr(value, "resolve_expression"):
                setattr(obj, name, value)
        return True

    def claim(
        self,
        pk: int,
        *,
        from_status: str,
        to: str,
        where: Mapping[str, Any] | None = None,
        **updates: Any,
    ) -> bool:
        """`move` for a task that holds only the id: True if this call moved the row."""
        if not self.allowed(from_status, to):
            raise self.refuse(from_status, to)
        values = {"status": to, **updates}
        if self.stamp and self.stamp not in values:
            values[self.stamp] = timezone.now()
        return bool(
            self.model._default_manager.filter(pk=pk, status=from_status, **(where or {})).update(
                **values
            )
        )

    def move_all(
        self, queryset: models.QuerySet[M], *, from_status: str, to: str, **updates: Any
    ) -> int:
        """Move every row of `queryset` still in `from_status` (a sweep); returns how many."""
        if not self.allowed(from_status, to):
            raise self.refuse(from_status, to)
        values = {"status": to, **updates}
        if self.stamp and self.stamp not in values:
            values[self.stamp] = timezone.now()
        return queryset.filter(status=from_status).update(**values)

    def event_row(
        self,
        obj: M,
        verb: str,
        *,
        actor: Any = None,
        from_status: str = "",
        to_status: str = "",
        reason: str = "",
        data: dict[str, Any] | None = None,
    ) -> EventBase:
        """An unsaved event row (for a bulk insert); its verb must be declared."""
        assert self.event is not None, f"{self.model.__name__} keeps no timeline"
        if verb not in self.event.Verb.values:
            raise ValueError(f"{verb!r} is not a {self.event.__name__} verb")
        return self.event(
            **{self.subject: obj},
            actor=actor,
            verb=verb,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            data=data or {},
        )

    def record(
        self,
        obj: M,
        verb: str,
        *,
        actor: Any = None,
        from_status: str = "",
        to_status: str = "",
        reason: str = "",
        data: dict[str, Any] | None = None,
        notify: bool = True,
    ) -> EventBase:
        """Write one event row for `obj`; its notification task runs after commit."""
        event = self.event_row(
            obj,
            verb,
            actor=actor,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            data=data,
        )
        event.save(force_insert=True)
        if notify:
            self.notify_after_commit(event)
        return event

    def notify_after_commit(self, event: EventBase) -> None:
        """Hand the event to its notification task once the transaction commits."""
        if self.notify:
            dispatch.after_commit(self.notify, event.pk)
