"""The container demo (Dockerfile, docker-compose.yml, docker/) only names things that exist.

No Docker engine is needed: the files are parsed and every service, file, module, queue and
management command they refer to is looked up in the repository and in Django.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
from collections.abc import Iterator
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from django.core.management import get_commands

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
ENTRYPOINT = REPO / "docker" / "entrypoint-web.sh"
ENV_EXAMPLE = REPO / ".env.example"

SERVICES = {"postgres", "redis", "web", "worker", "beat"}
APP_SERVICES = ("web", "worker", "beat")
QUEUES = {"default", "import", "index", "match"}
WEB_SETUP_COMMANDS = ("ensure_database", "migrate", "load_demo")


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    """These tests read files only: no Redis cache to reset (overrides the conftest fixture)."""
    yield


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


def services() -> dict[str, dict[str, Any]]:
    found = compose().get("services")
    assert isinstance(found, dict), "docker-compose.yml has no services"
    return found


def command_of(name: str) -> list[str]:
    """A service's command as an argument list (compose accepts a string or a list)."""
    command = services()[name].get("command")
    assert command, f"service {name!r} has no command"
    if isinstance(command, str):
        return shlex.split(command)
    return [str(part) for part in command]


def logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined and comments and blank lines dropped."""
    joined = re.sub(r"\\\n", " ", text)
    return [
        line.strip()
        for line in joined.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for every instruction of the Dockerfile."""
    instructions = []
    for line in logical_lines(DOCKERFILE.read_text(encoding="utf-8")):
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def dockerfile_arguments(arguments: str) -> list[str]:
    """Arguments of an instruction in exec (JSON array) or shell form."""
    if arguments.startswith("["):
        return [str(part) for part in json.loads(arguments)]
    return shlex.split(arguments)


def workdir() -> PurePosixPath:
    workdirs = [args for keyword, args in dockerfile_instructions() if keyword == "WORKDIR"]
    assert workdirs, "the Dockerfile sets no WORKDIR"
    return PurePosixPath(workdirs[-1])


def repo_path(container_path: str) -> Path:
    """The repository file that a path inside the image (absolute or WORKDIR-relative) copies."""
    path = PurePosixPath(container_path)
    if path.is_absolute():
        assert path.is_relative_to(workdir()), f"{container_path} is outside {workdir()}"
        path = path.relative_to(workdir())
    return REPO.joinpath(*path.parts)


def app_command_texts() -> dict[str, str]:
    """Every place that runs project code: compose commands, the entrypoint, the Dockerfile."""
    texts = {name: shlex.join(command_of(name)) for name in APP_SERVICES}
    texts[str(ENTRYPOINT.relative_to(REPO))] = "\n".join(
        logical_lines(ENTRYPOINT.read_text(encoding="utf-8"))
    )
    texts["Dockerfile"] = "\n".join(
        shlex.join(json.loads(args)) if args.startswith("[") else args
        for keyword, args in dockerfile_instructions()
        if keyword in {"RUN", "CMD", "ENTRYPOINT"}
    )
    return texts


def option_values(command: list[str], *names: str) -> list[str]:
    """Values of an option given as `--name value`, `--name=value` or `-N value`."""
    values = []
    for index, part in enumerate(command):
        for name in names:
            if part == name and index + 1 < len(command):
                values.append(command[index + 1])
            elif name.startswith("--") and part.startswith(f"{name}="):
                values.append(part.split("=", 1)[1])
    return values


def depends_on(name: str) -> dict[str, dict[str, Any]]:
    """A service's depends_on in long form (compose accepts a list or a mapping)."""
    value = services()[name].get("depends_on") or {}
    if isinstance(value, list):
        return {service: {"condition": "service_started"} for service in value}
    return {service: (options or {}) for service, options in value.items()}


def shared_environment() -> dict[str, Any]:
    env = compose().get("x-app-env")
    assert isinstance(env, dict) and env, "docker-compose.yml has no x-app-env mapping"
    return env


def test_compose_defines_every_service() -> None:
    assert "version" not in compose(), "the Compose spec has no version: key"
    missing = SERVICES - set(services())
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"


def test_built_services_point_at_an_existing_dockerfile() -> None:
    for name in APP_SERVICES:
        assert "build" in services()[name], f"service {name!r} is not built from the repository"
    for name, service in services().items():
        build = service.get("build")
        if build is None:
            continue
        if isinstance(build, str):
            build = {"context": build}
        context = REPO / build.get("context", ".")
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert context.is_dir(), f"{name}: build context {context} does not exist"
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"


def test_app_services_run_one_image_with_the_shared_environment() -> None:
    images = {services()[name].get("image") for name in APP_SERVICES}
    assert len(images) == 1 and None not in images, f"web, worker and beat differ: {images}"
    for name in APP_SERVICES:
        assert services()[name].get("environment") == shared_environment(), (
            f"service {name!r} does not use the shared x-app-env environment"
        )


def test_shared_environment_points_at_the_compose_services() -> None:
    env = shared_environment()
    for variable, scheme, image in (
        ("DATABASE_URL", "postgres", "postgres"),
        ("REDIS_URL", "redis", "redis"),
    ):
        url = urlsplit(str(env[variable]))
        assert url.scheme == scheme, f"{variable} is not a {scheme}:// URL"
        host = url.hostname or ""
        assert host in services(), f"{variable} host {host!r} is not a compose service"
        assert str(services()[host].get("image", "")).startswith(image), (
            f"{variable} points at {host}, which does not run {image}"
        )
    assert "web" in str(env["ALLOWED_HOSTS"]).split(","), "the web service's own name is refused"


def test_shared_environment_is_documented_in_env_example() -> None:
    assert ENV_EXAMPLE.is_file(), ".env.example is missing"
    documented = set(
        re.findall(
            r"^\s*#?\s*(?:export\s+)?([A-Z][A-Z0-9_]*)\s*=",
            ENV_EXAMPLE.read_text(encoding="utf-8"),
            flags=re.MULTILINE,
        )
    )
    undocumented = set(shared_environment()) - documented
    assert not undocumented, f"set in docker-compose.yml, not in .env.example: {undocumented}"


def test_depends_on_names_existing_healthy_services() -> None:
    for name in services():
        for dependency, options in depends_on(name).items():
            assert dependency in services(), f"{name} depends on unknown service {dependency!r}"
            if options.get("condition") == "service_healthy":
                assert services()[dependency].get("healthcheck"), (
                    f"{name} waits for {dependency} to be healthy, which has no healthcheck"
                )
    for name in APP_SERVICES:
        for dependency in ("postgres", "redis"):
            assert depends_on(name).get(dependency, {}).get("condition") == "service_healthy", (
                f"{name} does not wait for {dependency} to be healthy"
            )


def test_named_volumes_are_declared_and_media_is_shared() -> None:
    declared = set(compose().get("volumes") or {})
    mounts: dict[str, set[str]] = {}
    for name, service in services().items():
        for volume in service.get("volumes") or []:
            if isinstance(volume, dict):
                source, target = str(volume.get("source", "")), str(volume.get("target", ""))
            else:
                source, _, target = str(volume).partition(":")
            if source and not source.startswith((".", "/", "~")):
                assert source in declared, f"{name} mounts undeclared volume {source!r}"
                mounts.setdefault(name, set()).add(target.split(":")[0])
    media_root = str(shared_environment()["MEDIA_ROOT"])
    for name in ("web", "worker"):
        assert media_root in mounts.get(name, set()), f"{name} does not mount {media_root}"


def test_redis_keeps_the_queued_tasks_across_a_restart() -> None:
    """The broker's messages go to an append-only file flushed every second, on a volume of
    its own: a restart or a recreated container loses no queued task (issue 15)."""
    command = command_of("redis")
    assert command[0] == "redis-server"
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert options["--appendonly"] == "yes"
    assert options["--appendfsync"] == "everysec"
    mounts = {str(volume).partition(":")[::2] for volume in services()["redis"]["volumes"]}
    assert ("redis-data", "/data") in mounts  # the image's working directory, where AOF goes
    assert "redis-data" in (compose().get("volumes") or {})


def test_celery_app_module_is_a_package_with_a_celery_module() -> None:
    for name in ("worker", "beat"):
        command = command_of(name)
        assert command[0] == "celery", f"{name} does not run celery"
        apps = option_values(command, "-A", "--app")
        assert apps, f"{name} does not name its Celery app with -A"
        package = REPO / apps[0].split(":")[0].replace(".", "/")
        assert (package / "__init__.py").is_file(), f"{package} is not a package"
        assert (package / "celery.py").is_file(), f"{package}/celery.py does not exist"
    assert "worker" in command_of("worker")
    assert "beat" in command_of("beat")


def test_worker_listens_on_every_queue() -> None:
    values = option_values(command_of("worker"), "-Q", "--queues")
    assert values, "the worker command names no queues"
    queues = {queue.strip() for value in values for queue in value.split(",")}
    assert queues == QUEUES


def test_gunicorn_targets_name_an_existing_wsgi_application() -> None:
    targets = []
    for source, text in app_command_texts().items():
        for line in text.splitlines():
            words = shlex.split(line.replace(";", " "))
            if "gunicorn" not in words:
                continue
            after = words[words.index("gunicorn") + 1 :]
            found = [word for word in after if re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", word)]
            assert found, f"{source}: gunicorn is started without an app target: {line}"
            targets.extend(found)
    assert targets, "nothing starts gunicorn"
    assert "gunicorn" in ENTRYPOINT.read_text(encoding="utf-8"), "the web entrypoint serves nothing"
    for target in targets:
        module, attribute = target.split(":")
        path = REPO / (module.replace(".", "/") + ".py")
        assert path.is_file(), f"gunicorn target {target}: {path} does not exist"
        source = path.read_text(encoding="utf-8")
        assert re.search(rf"^(?:{attribute}\s*[:=]|def {attribute}\b)", source, re.MULTILINE), (
            f"gunicorn target {target}: {path.name} does not define {attribute}"
        )


def test_web_command_script_exists_and_is_executable() -> None:
    scripts = [part for part in command_of("web") if part.endswith(".sh")]
    assert scripts, "the web service runs no entrypoint script"
    for script in scripts:
        path = repo_path(script)
        assert path.is_file(), f"{script} does not exist in the repository"
        assert os.access(path, os.X_OK), f"{script} is not executable"
        assert path.read_text(encoding="utf-8").startswith("#!/bin/sh"), f"{script}: no shebang"
    assert ENTRYPOINT in {repo_path(script) for script in scripts}


def test_manage_py_commands_are_real_management_commands() -> None:
    named = {
        (source, command)
        for source, text in app_command_texts().items()
        for command in re.findall(r"manage\.py\s+([A-Za-z_][\w-]*)", text)
    }
    assert named, "no manage.py command is run anywhere"
    known = get_commands()
    unknown = sorted(f"{source}: {command}" for source, command in named if command not in known)
    assert not unknown, f"not Django management commands: {unknown}"


def test_web_entrypoint_prepares_the_database_before_serving() -> None:
    text = "\n".join(logical_lines(ENTRYPOINT.read_text(encoding="utf-8")))
    assert "set -eu" in text, "the entrypoint does not stop at the first failure"
    positions = []
    for command in WEB_SETUP_COMMANDS:
        match = re.search(rf"manage\.py\s+{command}\b", text)
        assert match, f"the entrypoint does not run manage.py {command}"
        positions.append(match.start())
    serve = re.search(r"^exec gunicorn\b", text, re.MULTILINE)
    assert serve, "the entrypoint does not exec gunicorn (it would not get the signals)"
    assert [*positions, serve.start()] == sorted([*positions, serve.start()]), (
        "the entrypoint must run ensure_database, migrate, load_demo, then gunicorn"
    )
    assert re.search(r"until python manage\.py ensure_database", text), "no wait for PostgreSQL"


def test_web_healthcheck_asks_healthz() -> None:
    healthcheck = services()["web"].get("healthcheck") or {}
    test = healthcheck.get("test")
    assert test, "the web service has no healthcheck"
    text = test if isinstance(test, str) else " ".join(str(part) for part in test)
    assert "/healthz" in text
    assert "urllib" in text


def test_dockerfile_copy_sources_exist() -> None:
    copies = [(k, a) for k, a in dockerfile_instructions() if k in {"COPY", "ADD"}]
    assert copies, "the Dockerfile copies nothing into the image"
    for keyword, arguments in copies:
        if "--from=" in arguments:
            continue
        parts = [part for part in dockerfile_arguments(arguments) if not part.startswith("--")]
        assert len(parts) >= 2, f"{keyword} {arguments}: no source or destination"
        for source in parts[:-1]:
            wildcard = any(char in source for char in "*?[")
            assert (REPO / source).exists() or (wildcard and any(REPO.glob(source))), (
                f"{keyword} {arguments}: {source} does not exist"
            )


def test_dockerfile_installs_runtime_pins_with_hashes() -> None:
    installs = [
        args
        for keyword, args in dockerfile_instructions()
        if keyword == "RUN" and "pip install" in args
    ]
    assert installs, "the Dockerfile installs no requirements"
    for install in installs:
        words = shlex.split(install)
        assert "--require-hashes" in words, f"not checked against hashes: {install}"
        assert "requirements-dev.txt" not in install, "the image must not get the dev tools"
    assert any(option_values(shlex.split(i), "-r") == ["requirements.txt"] for i in installs)
    assert (REPO / "requirements.txt").is_file()


def test_image_runs_as_a_user_and_serves_collected_static_files() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0][0] == "FROM" and "python:3.11" in instructions[0][1]
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}, "the image runs as root"
    runs = " ".join(args for keyword, args in instructions if keyword == "RUN")
    assert "manage.py collectstatic --no-input" in runs
    assert ("EXPOSE", "8000") in instructions
    cmd = [dockerfile_arguments(args) for keyword, args in instructions if keyword == "CMD"]
    assert cmd and cmd[-1][0] == "gunicorn", "the image's default command is not gunicorn"


def test_dockerignore_keeps_local_state_out_and_the_code_in() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith(("#", "!"))
    ]

    def ignored(path: str) -> bool:
        return any(
            fnmatch.fnmatch(path, pattern.removeprefix("**/"))
            or fnmatch.fnmatch(path.split("/")[0], pattern)
            for pattern in patterns
        )

    for path in (".venv", ".git", ".env", "staticfiles", "media", "test-artefacts"):
        assert ignored(path), f".dockerignore does not exclude {path}"
    for path in ("requirements.txt", "manage.py", "marketplace", "docker/entrypoint-web.sh"):
        assert not ignored(path), f".dockerignore excludes {path}, which the image needs"
