"""The Chinese catalogue is complete and its compiled .mo matches the .po."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LOCALE = (
    Path(__file__).resolve().parent.parent / "marketplace" / "locale" / "zh_Hans" / "LC_MESSAGES"
)


def _entries() -> list[str]:
    return (LOCALE / "django.po").read_text(encoding="utf-8").split("\n\n")[1:]


def test_every_message_has_a_chinese_translation_and_none_is_fuzzy() -> None:
    untranslated = [e for e in _entries() if 'msgstr ""' in e and '\n"' not in e.split("msgstr")[1]]
    fuzzy = [e for e in _entries() if "#, fuzzy" in e]
    assert untranslated == []
    assert fuzzy == []


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext's msgfmt is not installed")
def test_compiled_catalogue_is_up_to_date(tmp_path: Path) -> None:
    fresh = tmp_path / "django.mo"
    subprocess.run(
        ["msgfmt", "--check-format", "-o", str(fresh), str(LOCALE / "django.po")], check=True
    )
    assert fresh.read_bytes() == (LOCALE / "django.mo").read_bytes(), "run `make messages`"


def _parse(path: Path) -> dict[tuple[str | None, str], dict[str, str]]:
    """msgctxt/msgid -> the entry's fields, from a .po file (no dependency beyond the stdlib)."""
    entries: dict[tuple[str | None, str], dict[str, str]] = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        current = ""
        for line in block.splitlines():
            if line.startswith("#,"):
                fields["flags"] = line
            if line.startswith("#"):
                continue
            match = re.match(r'(msgctxt|msgid_plural|msgid|msgstr(?:\[\d\])?) (".*")$', line)
            if match:
                current = match.group(1)
                fields[current] = ast.literal_eval(match.group(2))
            elif line.startswith('"') and current:
                fields[current] += ast.literal_eval(line)
        if fields.get("msgid"):
            entries[(fields.get("msgctxt"), fields["msgid"])] = fields
    return entries


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed")
def test_every_message_the_code_uses_has_a_chinese_translation(tmp_path: Path) -> None:
    # Given the sources copied without their catalogue, makemessages extracts what the code uses
    root = LOCALE.parents[3]
    for app in ("marketplace", "licensing", "matching"):
        shutil.copytree(
            root / app,
            tmp_path / app,
            ignore=shutil.ignore_patterns("locale", "__pycache__", "*.mo", "*.po"),
        )
    (tmp_path / "locale").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "zh_Hans", "--no-location"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    used = _parse(tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")
    catalogue = _parse(LOCALE / "django.po")

    # Then each one is in the catalogue with a Chinese text
    missing = sorted(msgid for (_context, msgid) in used if (_context, msgid) not in catalogue)
    assert missing == [], "append these to django.po"
    assert len(used) > 600
    untranslated = sorted(
        msgid
        for (context, msgid) in used
        if not any(v for k, v in catalogue[(context, msgid)].items() if k.startswith("msgstr"))
    )
    assert untranslated == []
