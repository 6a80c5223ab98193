"""The README keeps its promises: the addresses `make run` prints, links that resolve in a
clone, the import default, the demo log-ins."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from marketplace.api.imports import ImportUploadSerializer
from marketplace.demo import ORGANISATIONS, PLATFORM_STAFF, SUPERUSER_EMAIL

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n## ", start + len(title))
    return README[start : end if end != -1 else None]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_prints_every_address_the_readme_lists() -> None:
    listed = re.findall(r"\| (http://127\.0\.0\.1:8000/\S*) \|", _section("## `make run`"))
    printed = subprocess.run(
        ["make", "-s", "urls"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert listed, "the README's address table is gone"
    assert re.findall(r"http://127\.0\.0\.1:8000/\S*", printed) == listed


def test_links_resolve_inside_the_repository() -> None:
    assert "../shared" not in README
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    local = [target for target in targets if not re.match(r"[a-z]+://", target)]
    assert local, "no local links found"
    missing = [target for target in local if not (ROOT / target).exists()]
    assert missing == []
    for path in re.findall(
        r"`((?:docs|bench|tests|marketplace|licensing|matching)/[^`\s]+)`", README
    ):
        assert (ROOT / path.split("::")[0]).exists(), path


def test_the_import_default_is_as_stated() -> None:
    assert ImportUploadSerializer().fields["all_or_nothing"].default is False
    assert "`all_or_nothing=false`" in README


def test_every_demo_log_in_is_in_the_readme() -> None:
    table = _section("### Demo log-ins")
    emails = [SUPERUSER_EMAIL, *(email for email, _name, _role in PLATFORM_STAFF)]
    for spec in ORGANISATIONS:
        emails.append(spec.admin_email)
        if spec.member_email:
            emails.append(spec.member_email)
    assert sorted(re.findall(r"^\| (\S+@example\.com) \|", table, flags=re.MULTILINE)) == sorted(
        emails
    )


def test_the_readme_says_where_mail_goes_in_development() -> None:
    assert "printed in the Celery worker's log" in README


def test_no_committed_file_holds_a_merge_conflict_marker() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    marker = re.compile(rb"^(<{7} |>{7} |={7}$)", re.MULTILINE)
    conflicted = []
    for name in filter(None, tracked):
        path = ROOT / name.decode()
        if path.suffix in {".xlsx", ".mo", ".png", ".pdf", ".gz"} or not path.is_file():
            continue
        if marker.search(path.read_bytes()):
            conflicted.append(name.decode())
    assert conflicted == []
