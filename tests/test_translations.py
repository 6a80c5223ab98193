"""The Chinese catalogue is complete and its compiled .mo matches the .po."""

from __future__ import annotations

import shutil
import subprocess
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
