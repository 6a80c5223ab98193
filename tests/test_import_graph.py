"""The import graph has no hidden cycles through the tasks (house style: services never import
tasks; they hand work to marketplace/dispatch.py by task name).

Every `import` counts, also those inside function bodies, which Python runs late and a
reader misses. matching/ joins these checks once its services package (another branch) sends
its tasks by name too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("marketplace", "licensing", "matching")
# Interfaces may start a task themselves: a management command queues one by hand.
INTERFACES = (".management.", ".tests.")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[str]:
    """The project modules `name` imports anywhere in its body (`from a import b` counts as
    importing a.b when that is a module, else a)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            if target in MODULES:
                yield target


GRAPH = {name: set(_imports(name, path)) for name, path in MODULES.items()}


def _is_tasks(name: str) -> bool:
    return name.endswith(".tasks")


def _is_service(name: str) -> bool:
    """Writes and what they call: services, workflows, notifications, e-mails, dispatch."""
    last = name.rpartition(".")[2]
    return ".services" in name or last in (
        "workflow",
        "notifications",
        "emails",
        "dispatch",
        "reminders",
    )


def test_the_graph_sees_function_local_imports() -> None:
    # The task imports its service inside the function body: the walk must see it.
    assert "licensing.services.declarations" in GRAPH["licensing.tasks"]
    assert "marketplace.dispatch" in GRAPH["marketplace.workflow"]


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _is_service(n)))
def test_a_service_module_imports_no_tasks_module(name: str) -> None:
    assert sorted(target for target in GRAPH[name] if _is_tasks(target)) == []


def _reaches(start: str, goal: str) -> list[str] | None:
    """A path of imports from start to goal (None: there is none)."""
    seen = {start}
    paths = [[start]]
    while paths:
        path = paths.pop()
        for target in sorted(GRAPH[path[-1]]):
            if target == goal:
                return [*path, target]
            if target not in seen:
                seen.add(target)
                paths.append([*path, target])
    return None


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _is_tasks(n)))
def test_no_import_cycle_runs_through_a_tasks_module(name: str) -> None:
    # A tasks module imports services; nothing it reaches may import it back.
    importers = [
        source
        for source, targets in GRAPH.items()
        if name in targets and not any(part in f".{source}." for part in INTERFACES)
    ]
    cycles = [path for source in importers if (path := _reaches(name, source)) is not None]
    assert cycles == []


def _dispatched_names() -> set[str]:
    """Every task name handed to marketplace.dispatch or to a Workflow's `notify`."""
    names = set()
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id == "dispatch"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names.add(str(node.args[0].value))
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg == "notify" and isinstance(value, ast.Constant) and value.value:
                    names.add(str(value.value))
    return names


def test_every_task_named_to_the_dispatcher_is_a_celery_task() -> None:
    from celery import Task

    from marketplace import dispatch

    names = _dispatched_names()
    assert "marketplace.tasks.send_email" in names and len(names) >= 8
    assert {name: isinstance(dispatch.task(name), Task) for name in names} == dict.fromkeys(
        names, True
    )


@pytest.mark.django_db
def test_an_import_left_in_the_outbox_by_the_older_release_is_still_sent() -> None:
    from marketplace.celery import publish_unsent
    from marketplace.models import UnsentTask

    UnsentTask.objects.create(target="marketplace.services.imports:_enqueue", args=[999999])
    assert publish_unsent() == 1
    assert not UnsentTask.objects.exists()
