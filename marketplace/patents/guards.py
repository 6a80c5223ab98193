"""Hooks other apps use to guard and follow changes to patents.

`marketplace` must not import `licensing`, yet licensing rules decide whether a patent may be
given an exclusive license or abandoned while an open-license declaration is announced. So the
patent services ask every registered guard before such a change (a guard raises a DomainError
to refuse), and tell every registered listener after a legal-status fact changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# guard(patent, action, details) raises to refuse; actions: "exclusive_license", "pledge",
# "abandon", "assign".
Guard = Callable[[Any, str, dict[str, Any]], None]
Listener = Callable[[list[int]], None]

_guards: list[Guard] = []
_listeners: list[Listener] = []


def register_guard(guard: Guard) -> None:
    if guard not in _guards:
        _guards.append(guard)


def register_listener(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def check(patent: Any, action: str, **details: Any) -> None:
    for guard in _guards:
        guard(patent, action, details)


def facts_changed(patent_ids: list[int]) -> None:
    """Called inside the transaction that changed the facts (listeners may write too)."""
    if not patent_ids:
        return
    for listener in _listeners:
        listener(patent_ids)
